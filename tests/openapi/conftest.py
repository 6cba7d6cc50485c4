"""Fixtures for the api stage tests: one real local testbed (with a rate limit) per module,
faults switched through its own admin endpoints, and the stage run as the engine runs it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from harness.events import Event
from harness.openapi.spec import ApiStep
from harness.openapi.stage import STAGE
from harness.outcome import StepOutcome
from harness.runner import StepContext
from harness.stage_stream import StageStream
from harness.target import Target
from tests.testbed_launch import launched_testbed

ROOT = Path(__file__).resolve().parents[2]
PRERELEASE = ROOT / "suites" / "prerelease.yaml"


def prerelease_api_steps() -> dict[str, dict[str, Any]]:
    """The api steps of suites/prerelease.yaml, as the suite has them (fewer examples)."""
    suite = yaml.safe_load(PRERELEASE.read_text())
    (stage,) = [s for s in suite["stages"] if s["name"] == "api"]
    steps = {step["name"]: {**step, "max_examples": 2} for step in stage["steps"]}
    for step in steps.values():
        step.pop("kind")
    return steps


STEPS = prerelease_api_steps()
RATE_LIMIT_RPS = float(
    yaml.safe_load(PRERELEASE.read_text())["target"]["testbed"]["rate_limit_rps"]
)
REGISTRY_STEP: dict[str, Any] = STEPS["registry-api"]
SERVING_STEP: dict[str, Any] = STEPS["serving-api"]


@pytest.fixture(scope="module")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    state = tmp_path_factory.mktemp("testbed")
    with launched_testbed(state, "--replicas", "1", "--rate-limit", f"{RATE_LIMIT_RPS:g}") as tb:
        yield tb


def set_faults(target: Target, registry: list[str], serving: list[str]) -> None:
    """Switch the testbed's faults to exactly these (the rate limit stays configured)."""
    headers = {"Authorization": f"Bearer {target.tokens.admin}"}
    answer = httpx.put(
        f"{target.registry_url}/admin/faults", json={"faults": registry}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    body = {"faults": serving, "rate_limit_rps": RATE_LIMIT_RPS}
    answer = httpx.put(f"{target.serving_url}/admin/faults", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    time.sleep(0.3)  # every replica re-reads the fault state file when it changes


@dataclass(frozen=True)
class StepRun:
    outcome: StepOutcome
    events: list[Event]
    artifact_dir: Path


async def run_step(tmp_path: Path, target: Target, **spec: Any) -> StepRun:
    step = ApiStep(**spec)
    events: list[Event] = []
    work = tmp_path / "work"
    work.mkdir(parents=True, exist_ok=True)
    artifact_dir = tmp_path / "report" / step.name
    stream = StageStream(events.append, [step.name])
    ctx = StepContext(
        run_id="test-run",
        spec=step,
        target=target,
        artifact_dir=artifact_dir,
        work_dir=work,
        base_dir=ROOT,
        emit=stream.emit,
        stage=stream,
        deadline_s=step.timeout,
    )
    return StepRun(await STAGE.run(ctx), events, artifact_dir)
