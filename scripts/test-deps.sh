#!/usr/bin/env bash
# What the tests need beyond the Python packages: Debian's Chromium for the web page test
# (Playwright drives it; nothing downloads a browser). Installs it when run as root with
# apt-get (as in CI); otherwise says how.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the web page test (apt-get)…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
else
  echo "note: the web page test needs Chromium: sudo apt-get install chromium" >&2
fi
