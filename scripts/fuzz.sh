#!/usr/bin/env bash
# `make fuzz`: the open-ended hunt. Runs the loader and HTTP fuzz tests round after round
# with new random seeds and FUZZ_SCALE times the suite's example counts, for FUZZ_MINUTES
# (default 20). Minimal failing inputs are saved under tests/fuzz-regressions/ (the suite
# replays them); the failures and the count of cases run are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${FUZZ_MINUTES:-20}"
scale="${FUZZ_SCALE:-10}"
targets=(${FUZZ_TARGETS:-tests/test_loader_fuzz.py tests/test_server_fuzz.py})
report=test-artifacts/fuzz-report.txt
mkdir -p test-artifacts
: > "$report"
count_file=$(mktemp)
deadline=$(( $(date +%s) + minutes * 60 ))
total=0 rounds=0 failed=0
while [ "$(date +%s)" -lt "$deadline" ]; do
  seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
  rounds=$((rounds + 1))
  echo "round $rounds, seed $seed" | tee -a "$report"
  if ! RAGFUSION_HYPOTHESIS_PROFILE=fuzz RAGFUSION_FUZZ_SCALE="$scale" \
      RAGFUSION_FUZZ_COUNT_FILE="$count_file" \
      .venv/bin/python -m pytest -q -p no:cacheprovider --hypothesis-seed="$seed" \
      "${targets[@]}" -k "not regressions" >>"$report" 2>&1; then
    failed=$((failed + 1))
    echo "  round $rounds found a failure (seed $seed): see $report" >&2
  fi
  total=$((total + $(cat "$count_file" 2>/dev/null || echo 0)))
done
rm -f "$count_file"
saved=$(find tests/fuzz-regressions -type f 2>/dev/null | wc -l)
summary="fuzz: $total cases in $rounds rounds over $minutes min, $failed failing round(s); $saved saved regression file(s) in tests/fuzz-regressions/"
echo "$summary" | tee -a "$report"
[ "$failed" = 0 ]
