"""Load test of the HTTP service: N concurrent clients call POST /v1/search for a fixed time.

Starts `ragfusion serve` on loopback (its own process), runs the clients from this process
(asyncio + httpx, so the client shares the 2 cores with the server), and reports latency
percentiles, throughput and every error. Bounded: loopback only, a fixed duration.

    .venv/bin/python benchmarks/load.py                      # examples/kb, 50 clients, 60 s
    .venv/bin/python benchmarks/load.py --index PATH --queries QUERIES.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "load.json"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_questions(path: Path | None) -> list[str]:
    if path is None:
        rows = [json.loads(line) for line in (ROOT / "examples" / "questions.jsonl").open()]
        return [str(r["question"]) for r in rows]
    with path.open() as handle:
        return [str(json.loads(line)["text"]) for line in handle if line.strip()]


async def client(
    http: httpx.AsyncClient, questions: list[str], offset: int, until: float, out: dict[str, list]
) -> None:
    i = offset
    while time.perf_counter() < until:
        question = questions[i % len(questions)]
        i += 7
        started = time.perf_counter()
        try:
            response = await http.post("/v1/search", json={"question": question, "k": 10})
            elapsed = time.perf_counter() - started
            if response.status_code == 200 and response.json()["hits"]:
                out["latency"].append(elapsed)
            else:
                out["errors"].append(f"{response.status_code}: {response.text[:200]}")
        except httpx.HTTPError as exc:
            out["errors"].append(f"{type(exc).__name__}: {exc}")


async def run_clients(base: str, clients: int, seconds: float, questions: list[str]) -> dict:
    out: dict[str, list] = {"latency": [], "errors": []}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        await http.post("/v1/search", json={"question": questions[0]})  # warm
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(client(http, questions, n, until, out) for n in range(clients)))
        wall = time.perf_counter() - started
    latency = np.array(out["latency"]) * 1000
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests_ok": int(latency.size),
        "errors": len(out["errors"]),
        "error_samples": out["errors"][:5],
        "throughput_rps": round(latency.size / wall, 1),
        "latency_ms": {
            "p50": round(float(np.percentile(latency, 50)), 1),
            "p90": round(float(np.percentile(latency, 90)), 1),
            "p99": round(float(np.percentile(latency, 99)), 1),
            "max": round(float(latency.max()), 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="an existing index (default: examples/kb)")
    parser.add_argument("--queries", type=Path, help="BEIR queries.jsonl to send")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cli = [sys.executable, "-m", "ragfusion"]
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index
        if index is None:
            index = Path(tmp) / "kb"
            subprocess.run(
                [*cli, "ingest", str(ROOT / "examples" / "kb"), "--index", str(index)],
                env=env,
                check=True,
                capture_output=True,
            )
        port = free_port()
        server = subprocess.Popen(
            [*cli, "serve", "--index", str(index), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    health = httpx.get(f"{base}/healthz", timeout=2).json()
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            else:
                raise SystemExit("the server did not start")
            result = asyncio.run(
                run_clients(base, args.clients, args.seconds, load_questions(args.queries))
            )
            metrics = httpx.get(f"{base}/metrics").text
        finally:
            server.terminate()
            server.wait(timeout=30)
    result["index"] = {"documents": health["documents"], "chunks": health["chunks"]}
    result["server_5xx"] = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("ragfusion_requests_total") and 'status="5' in line
    )
    result["machine"] = f"{os.cpu_count()} cores; client and server on the same machine"
    print(json.dumps(result, indent=2))
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
