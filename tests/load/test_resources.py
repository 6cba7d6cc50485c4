"""CPU of the target: psutil for local processes, PromQL for remote ones."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from harness.load.resources import (
    CpuSampler,
    ResourceError,
    manifest_pids,
    query_prometheus_cpu,
)


def test_sampler_sees_a_busy_child_of_a_manifest_process(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys; subprocess.run([sys.executable, '-c', "
         "'import time\\nend = time.time() + 3\\nwhile time.time() < end: pass'])"]
    )
    try:
        manifest = tmp_path / "manifest.json"
        manifest.write_text(json.dumps(
            {"services": {"serving": {"url": "x", "pid": parent.pid}}, "pods": []}
        ))
        sampler = CpuSampler(manifest_pids(manifest))
        time.sleep(0.3)
        for _ in range(4):
            sampler.sample()
            time.sleep(0.25)
        busy = [s.fraction for s in sampler.samples]
        # one core spinning = 1 / cores of the machine
        assert max(busy) > 0.5 / sampler.cores and max(busy) <= 1.05
    finally:
        parent.kill()
        parent.wait()


def test_manifest_pids_refuses_an_unreadable_manifest(tmp_path: Path) -> None:
    with pytest.raises(ResourceError):
        manifest_pids(tmp_path / "missing.json")


class _Prometheus(BaseHTTPRequestHandler):
    answers: dict[str, Any] = {}
    seen: list[dict[str, list[str]]] = []

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        self.seen.append(query)
        status, body = self.answers.get(query.get("query", [""])[0], (400, {"status": "error"}))
        data = json.dumps(body).encode()
        self.send_response(status if parts.path == "/api/v1/query_range" else 404)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[str]:
    """A stand-in serving the Prometheus query API's JSON (not a real Prometheus)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Prometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_promql_range_query_sums_series_per_timestamp(prometheus: str) -> None:
    _Prometheus.answers = {
        "cpu": (200, {"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"pod": "a"}, "values": [[100, "0.25"], [101, "0.5"]]},
            {"metric": {"pod": "b"}, "values": [[100, "0.25"], [101, "0.1"]]},
        ]}}),
        "bad": (422, {"status": "error", "errorType": "bad_data", "error": "parse error"}),
    }
    async with asyncio.timeout(10):
        samples = await query_prometheus_cpu(prometheus, "cpu", 100.0, 101.0)
        assert [(s.at, s.fraction) for s in samples] == [(100.0, 0.5), (101.0, 0.6)]
        assert _Prometheus.seen[-1]["start"] == ["100.000"]
        assert _Prometheus.seen[-1]["step"] == ["1"]
        with pytest.raises(ResourceError, match="422"):
            await query_prometheus_cpu(prometheus, "bad", 100.0, 101.0)


async def test_promql_unreachable_is_a_resource_error() -> None:
    async with asyncio.timeout(10):
        with pytest.raises(ResourceError, match="failed"):
            await query_prometheus_cpu("http://127.0.0.1:9", "cpu", 0.0, 1.0, timeout_s=2)
