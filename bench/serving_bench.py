"""Serving benchmark: a fixed 500 predictions/s for 20 s against 2 replicas, on this machine.

Not a test: it prints figures and saves them to bench/results/serving-<time>.json.

The load generator runs in a separate process (this file with ``--generate``). It is an
open-model generator: request i is due at t0 + i/rate whatever happened before, and its
latency is measured from that intended send time (so a stalled server shows up in the
percentiles instead of silently lowering the rate: no coordinated omission). It speaks
HTTP/1.1 keep-alive over plain asyncio streams on a fixed pool of connections; a request
that finds every connection busy waits, and the wait counts.

    .venv/bin/python bench/serving_bench.py [--rate 500] [--duration-s 20] [--replicas 2]
    .venv/bin/python bench/serving_bench.py --url http://127.0.0.1:PORT   # existing serving
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
BODY = json.dumps({"features": [0.5, -1.2, 0.3, 2.0, -0.7, 0.0, 1.1, -0.4]}).encode()
TARGET_P95_MS = 100.0


@dataclass(frozen=True)
class LoadResult:
    rate_rps: float
    duration_s: float
    connections: int
    sent: int
    completed: int
    errors: int
    achieved_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    late_sends: int
    """Requests whose send waited > 10 ms past the intended time (all connections busy)."""


# ---- the generator (runs in its own process) ---------------------------------------------


async def _open(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    await reader.readexactly(length)
    return status


async def generate(url: str, rate_rps: float, duration_s: float, connections: int) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"POST /predict HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    total = int(rate_rps * duration_s)
    due: asyncio.Queue[float | None] = asyncio.Queue()
    latencies_ms: list[float] = []
    errors = 0
    late = 0
    last_done = 0.0

    async def connection_worker() -> None:
        nonlocal errors, late, last_done
        reader, writer = await _open(host, port)
        try:
            while (intended := await due.get()) is not None:
                if time.perf_counter() - intended > 0.010:
                    late += 1
                try:
                    status = await _exchange(reader, writer, request)
                except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
                    status = 0
                    writer.close()
                    reader, writer = await _open(host, port)
                done = time.perf_counter()
                last_done = done
                latencies_ms.append((done - intended) * 1000.0)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    async def schedule(t0: float) -> None:
        for i in range(total):
            intended = t0 + i / rate_rps
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            due.put_nowait(intended)
        for _ in range(connections):
            due.put_nowait(None)

    workers = [asyncio.create_task(connection_worker()) for _ in range(connections)]
    await asyncio.sleep(0.2)  # connections open before the clock starts
    t0 = time.perf_counter()
    async with asyncio.timeout(duration_s + 60):
        await schedule(t0)
        await asyncio.gather(*workers)
    ordered = sorted(latencies_ms)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    return LoadResult(
        rate_rps=rate_rps,
        duration_s=duration_s,
        connections=connections,
        sent=total,
        completed=len(ordered),
        errors=errors,
        achieved_rps=(len(ordered) - errors) / (last_done - t0) if last_done > t0 else 0.0,
        p50_ms=pick(0.50),
        p95_ms=pick(0.95),
        p99_ms=pick(0.99),
        max_ms=ordered[-1] if ordered else 0.0,
        late_sends=late,
    )


# ---- the driver ----------------------------------------------------------------------------


def run_generator(url: str, rate: float, duration_s: float, connections: int) -> LoadResult:
    argv = [
        sys.executable, __file__, "--generate", "--url", url, "--rate", str(rate),
        "--duration-s", str(duration_s), "--connections", str(connections),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 90)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed ({done.returncode}): {done.stderr[-2000:]}")
    return LoadResult(**json.loads(done.stdout))


def _print_table(result: LoadResult, replicas: int, load_before: float, load_after: float) -> None:
    rows = [
        ("machine load", f"{load_before:.1f} before, {load_after:.1f} after (1-min avg, 2 cores)"),
        ("replicas", f"{replicas}"),
        ("intended rate", f"{result.rate_rps:.0f} req/s for {result.duration_s:.0f} s"),
        ("achieved", f"{result.achieved_rps:.1f} req/s ({result.completed} done)"),
        ("errors", f"{result.errors}"),
        ("p50", f"{result.p50_ms:.2f} ms"),
        ("p95", f"{result.p95_ms:.2f} ms (target < {TARGET_P95_MS:.0f} ms)"),
        ("p99", f"{result.p99_ms:.2f} ms"),
        ("max", f"{result.max_ms:.2f} ms"),
        ("late sends", f"{result.late_sends} (all {result.connections} connections busy)"),
    ]
    width = max(len(name) for name, _ in rows)
    print("serving benchmark (latency from the intended send time)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration-s", type=float, default=20.0)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--url", default=None, help="bench an already running serving")
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        result = asyncio.run(generate(args.url, args.rate, args.duration_s, args.connections))
        print(json.dumps(asdict(result)))
        return 0

    sys.path.insert(0, str(REPO_ROOT))
    from testbed.processes import free_port, stop_service
    from testbed.serving.deployment import start_serving, wait_serving_ready

    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp:
        deployment = None
        url = args.url
        if url is None:
            state_dir = Path(tmp)
            tokens = state_dir / "tokens.json"
            tokens.write_text(json.dumps({"read": "r", "write": "w", "admin": "a"}))
            deployment = start_serving(
                state_dir, port=free_port(), replicas=args.replicas, tokens_file=tokens
            )
            url = deployment.url
        try:
            if deployment is not None:
                asyncio.run(wait_serving_ready(deployment, timeout_s=60.0))
            run_generator(url, rate=100.0, duration_s=2.0, connections=args.connections)  # warm
            load_before = os.getloadavg()[0]
            result = run_generator(url, args.rate, args.duration_s, args.connections)
            load_after = os.getloadavg()[0]
        finally:
            if deployment is not None:
                stop_service(deployment.process.pid, deployment.process.create_time)
    _print_table(result, args.replicas, load_before, load_after)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"serving-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "schema": "bench.serving/1",
                "at": stamp,
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "loadavg_1m_before": load_before,
                    "loadavg_1m_after": load_after,
                },
                "replicas": args.replicas,
                "target_p95_ms": TARGET_P95_MS,
                "met_target": result.p95_ms < TARGET_P95_MS and result.errors == 0,
                **asdict(result),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"  saved {out.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
