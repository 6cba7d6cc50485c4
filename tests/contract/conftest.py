"""Fixtures of the contract-stage tests: a real registry (``python -m testbed.registry``)
on a free 127.0.0.1 port with nothing pre-loaded, and a runner for contract steps."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.contract.spec import ContractStep
from harness.contract.stage import STAGE
from harness.events import Event
from harness.outcome import StepOutcome
from harness.runner import StepContext
from harness.stage_stream import StageStream
from harness.target import Target, Tokens
from testbed.processes import free_port, log_tail, start_service, stop_service

ROOT = Path(__file__).resolve().parents[2]
TOKENS = Tokens(read="read-secret-7f3a", write="write-secret-91bc", admin="admin-secret-c0de")


@dataclass
class Registry:
    url: str
    tokens: Tokens

    def headers(self, scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self.tokens, scope)}"}

    def set_faults(self, *names: str) -> None:
        response = httpx.put(
            f"{self.url}/admin/faults", json={"faults": list(names)}, headers=self.headers()
        )
        response.raise_for_status()

    def model_count(self) -> int:
        """Models in the registry, probed through the public API (ids 1..max seen)."""
        probe = httpx.post(
            f"{self.url}/models/register",
            json={"name": "count-probe", "version": f"p{time.monotonic_ns()}", "framework": "x"},
            headers=self.headers("write"),
        ).json()["model_id"]
        count = 0
        with httpx.Client(base_url=self.url, headers=self.headers("read")) as client:
            for model_id in range(1, probe):
                if client.get(f"/models/{model_id}").status_code == 200:
                    count += 1
        httpx.delete(f"{self.url}/models/{probe}", headers=self.headers("write"))
        return count


def launch_registry(state_dir: Path, *faults: str) -> tuple[Registry, Any]:
    state_dir.mkdir(parents=True, exist_ok=True)
    tokens_file = state_dir / "tokens.json"
    tokens_file.write_text(
        json.dumps({"read": TOKENS.read, "write": TOKENS.write, "admin": TOKENS.admin})
    )
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "testbed.registry",
        "--port",
        str(port),
        "--tokens-file",
        str(tokens_file),
        "--state-dir",
        str(state_dir),
    ]
    for fault in faults:
        argv += ["--fault", fault]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = start_service(argv, log_path=state_dir / "registry.log", env=env, cwd=state_dir)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_service(process.pid, process.create_time, grace_s=2)
            raise RuntimeError("registry did not start: " + log_tail(process.log_path))
        time.sleep(0.1)
    return Registry(url, TOKENS), process


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    running, process = launch_registry(tmp_path_factory.mktemp("registry"))
    try:
        yield running
    finally:
        stop_service(process.pid, process.create_time, grace_s=3)


@pytest.fixture
def clean_registry(registry: Registry) -> Iterator[Registry]:
    registry.set_faults()
    yield registry
    registry.set_faults()


@dataclass
class StepRun:
    outcome: StepOutcome
    events: list[Event] = field(default_factory=list)
    elapsed_s: float = 0.0


def make_target(
    registry_url: str, serving_url: str = "http://127.0.0.1:9", tokens: Tokens = TOKENS
) -> Target:
    return Target(
        kind="external",
        registry_url=registry_url,
        serving_url=serving_url,
        orchestrator_url="http://127.0.0.1:9",
        tokens=tokens,
    )


async def run_step(
    tmp_path: Path, target: Target, deadline_s: float = 60.0, **spec: Any
) -> StepRun:
    step = ContractStep(name=spec.pop("name", "contract"), **spec)
    events: list[Event] = []
    work = tmp_path / "work"
    work.mkdir(parents=True, exist_ok=True)
    stream = StageStream(events.append, [step.name])
    ctx = StepContext(
        run_id="test-run",
        spec=step,
        target=target,
        artifact_dir=tmp_path / "report" / step.name,
        work_dir=work,
        base_dir=ROOT,
        emit=stream.emit,
        stage=stream,
        deadline_s=deadline_s,
    )
    started = time.monotonic()
    outcome = await STAGE.run(ctx)
    return StepRun(outcome, events, time.monotonic() - started)
