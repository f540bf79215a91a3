"""The speed summary table of benchmarks/RESULTS.md, computed from the JSON results.

Reads results/speed.json, results/peers_speed.json, results/ingest_speed.json,
results/generation.json and results/onnx_embedding.json (whichever exist) and prints the
issue-3 targets next to the measured figures, so the table is never copied by hand.

    .venv/bin/python benchmarks/summary.py          # after `make bench` (or its parts)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _load(name: str) -> Any:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def _size(n: str) -> str:
    value = int(n)
    return f"{value // 1_000_000}M" if value >= 1_000_000 else f"{value // 1000}k"


def speed_rows(speed: Any) -> list[str]:
    rows = []
    for size, entry in speed["sizes"].items():
        warm = entry["warm"]
        cells = [f"{warm[m]['total_ms']['p50']} / {warm[m]['total_ms']['p99']}" for m in warm]
        cold = entry["cold"].get("hybrid/onnx", {}).get("median", {})
        rows.append(
            f"| {_size(size)} | {' | '.join(cells)} | "
            f"{cold.get('open_plus_first_search_ms', float('nan')) / 1000:.2f} s | "
            f"{entry.get('peak_rss_mb', float('nan')):.0f} MB |"
        )
    return rows


def peers_rows(peers: Any) -> list[str]:
    rows = []
    for size, entry in peers["sizes"].items():
        for system in ("ragfusion", "llamaindex", "langchain"):
            row = entry[system]
            search = (
                row["search_ms"]
                if system == "ragfusion"
                else row["search_ms"]["with_query_embedding"]
            )
            ratio = row.get("ratio_to_ragfusion", {})
            ratios = (
                f"{ratio['build']}x / {ratio['search_hybrid_p50']}x / "
                f"{ratio['search_fusion4_p50']}x"
                if ratio
                else "1"
            )
            rows.append(
                f"| {_size(size)} | {system} | {row['build_s']} s | {search['hybrid']['p50']} | "
                f"{search['fusion4']['p50']} | {ratios} |"
            )
    return rows


def main() -> None:
    speed, peers = _load("speed.json"), _load("peers_speed.json")
    ingest, generation = _load("ingest_speed.json"), _load("generation.json")
    onnx = _load("onnx_embedding.json")
    out: list[str] = []
    if speed:
        modes = list(next(iter(speed["sizes"].values()))["warm"])
        out += [
            "Search latency, warm p50 / p99 ms (query embedding included), cold open + first "
            "hybrid search, peak RSS of the serving process (`benchmarks/speed.py`):",
            "",
            f"| chunks | {' | '.join(modes)} | cold open + first search | peak RSS |",
            "|---" * (len(modes) + 3) + "|",
            *speed_rows(speed),
            "",
        ]
    if peers:
        out += [
            "Peers, same chunks, vectors and queries, one run (`benchmarks/peers_speed.py`; "
            "peers' latency + ragfusion's query embedding time; p50 ms):",
            "",
            "| chunks | system | index build (no embedding) | hybrid | 4 variants x 2 | "
            "peer / ragfusion (build / hybrid / 4 variants) |",
            "|---|---|---|---|---|---|",
            *peers_rows(peers),
            "",
        ]
        if "ingest" in peers:
            ing = peers["ingest"]
            mine = ing["ragfusion"]
            out.append(
                f"Ingest with embedding, {mine['documents']} SciFact documents "
                f"({mine['chunks']} chunks): ragfusion {mine['ingest_s']} s; raw "
                f"SentenceTransformer.encode of the same texts {mine['raw_st_encode_s']} s; "
                + "; ".join(
                    f"{p} (build + that encode) {ing[p]['with_raw_st_encode_s']} s = "
                    f"{ing[p]['ratio_to_ragfusion']}x"
                    for p in ("llamaindex", "langchain")
                )
                + "."
            )
            out.append("")
    if ingest:
        sci = ingest["corpora"]["scifact"]
        out.append(
            f"Ingest throughput (`benchmarks/ingest_speed.py`, {sci['chunks']} SciFact chunks): "
            f"{sci['chunks_per_s']['ingest_sequential']} chunks/s as shipped; raw "
            f"SentenceTransformer.encode {sci['chunks_per_s']['raw_st_encode']}, raw ONNX "
            f"encode {sci['chunks_per_s']['raw_onnx_encode']}: ratio "
            f"{sci['ratio_to_raw_st_encode']['ingest_sequential']} to the first, "
            f"{sci['ratio_to_raw_onnx_encode']['ingest_sequential']} to the second."
        )
        out.append("")
    if generation:
        ratio = generation["ragfusion_vs_direct"]
        p50 = generation["p50"]
        out.append(
            "Generation (`benchmarks/generation.py`, ask vs llama-cpp-python direct, same "
            f"prompt): TTFT p50 {p50['ragfusion']['ttft_ms']:.0f} vs "
            f"{p50['direct']['ttft_ms']:.0f} ms (paired ratio "
            f"{ratio['ttft_ms']['p50_of_paired_ratios']}, of which retrieval "
            f"{p50['ragfusion']['retrieval_ms']} ms); without retrieval paired ratio "
            f"{ratio['ttft_llm_ms']['p50_of_paired_ratios']}; decode "
            f"{p50['ragfusion']['decode_tps']} vs {p50['direct']['decode_tps']} tokens/s "
            f"(paired ratio {ratio['decode_tps']['p50_of_paired_ratios']})."
        )
        out.append("")
    if onnx:
        out.append(
            f"Query embedding: torch {onnx['query_ms']['torch']} ms, ONNX Runtime "
            f"{onnx['query_ms']['onnx']} ms (cosine >= {onnx['cosine_min']:.7f}); documents/s "
            f"{onnx['documents_per_s']['torch']} vs {onnx['documents_per_s']['onnx']}."
        )
    print("\n".join(out))


if __name__ == "__main__":
    main()
