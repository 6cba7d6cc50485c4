"""Helpers for the load stage's tests: synthetic intervals, step contexts, real
servers on 127.0.0.1 (the bench stand-in and the testbed)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.events import Event
from harness.load import histogram
from harness.load.interval import EndpointInterval, Interval
from harness.load.spec import LoadStep
from harness.runner import StepContext
from harness.stage_stream import StageStream
from harness.target import Target, Tokens

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextlib.contextmanager
def counting_server_at(delay_ms: int | None = None) -> Iterator[str]:
    """tests/load/counting_server.py on a free port (answers in 5 ms, or ``delay_ms``),
    its URL while the block runs."""
    port = free_port()
    delay = ["--delay-ms", str(delay_ms)] if delay_ms is not None else []
    proc = subprocess.Popen(
        [PYTHON, str(ROOT / "tests" / "load" / "counting_server.py"), "--port", str(port),
         *delay],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def served(url: str) -> dict[int, int]:
    """What the counting server received, per wall-clock second of arrival."""
    with urllib.request.urlopen(f"{url}/counts", timeout=10) as answer:
        return {int(k): int(v) for k, v in json.loads(answer.read()).items()}


def interval(
    second: int, endpoints: Mapping[str, tuple[Sequence[float], int]], unsent: int = 0
) -> Interval:
    """{"GET /x": ([latencies ms], failures)} -> Interval."""
    built = {}
    for key, (latencies, failures) in endpoints.items():
        request_type, name = key.split(" ", 1)
        hist = histogram.new_histogram()
        for value in latencies:
            histogram.record_ms(hist, value)
        built[key] = EndpointInterval(
            request_type, name, len(latencies), failures, histogram.encode(hist)
        )
    return Interval(second=second, endpoints=built, unsent=unsent)


def target_for(url: str, manifest: Path | None = None, tokens: Tokens | None = None) -> Target:
    return Target(
        kind="local" if manifest else "external",
        registry_url=url,
        serving_url=url,
        orchestrator_url=url,
        tokens=tokens or Tokens(),
        manifest_path=manifest,
    )


def step_context(
    tmp_path: Path, spec: LoadStep, target: Target, deadline_s: float = 60.0
) -> tuple[StepContext, list[Event]]:
    events: list[Event] = []
    stream = StageStream(events.append, [spec.name])
    ctx = StepContext(
        run_id="test",
        spec=spec,
        target=target,
        artifact_dir=tmp_path / "report" / spec.name,
        work_dir=tmp_path / "work",
        base_dir=ROOT,
        emit=stream.emit,
        stage=stream,
        deadline_s=deadline_s,
    )
    return ctx, events


class StandIn:
    """bench/load_server.py as a real process."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [PYTHON, str(ROOT / "bench" / "load_server.py"), "--port", str(self.port), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def stand_in() -> Iterator[Any]:
    servers: list[StandIn] = []

    def start(*args: str) -> StandIn:
        server = StandIn(*args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def testbed(shared_testbed: dict[str, Any]) -> dict[str, Any]:
    """The session's real testbed (tests/conftest.py); tests switch faults with its admin
    API and clear them."""
    return shared_testbed
