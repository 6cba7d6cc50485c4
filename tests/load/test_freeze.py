"""Phase by request start: every serving worker of the real testbed frozen (SIGSTOP)
for longer than uvicorn's 5 s keep-alive, then resumed (SIGCONT), under real Locust
load. The requests sent during the freeze fail at the resume (ConnectionResetError,
see FACTS): they belong to the fault phase, and the recovery phase stays clean."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from harness.events import IntervalMeasured, PhaseChanged
from harness.load.spec import LoadStep
from harness.load.stage import STAGE
from harness.outcome import StepOutcome
from harness.status import Status
from testbed.manifest import live_pods, load_manifest
from tests.load.conftest import step_context
from tests.load.test_e2e import target

pytestmark = pytest.mark.e2e

FREEZE_S = 6.0  # > uvicorn's 5 s keep-alive timeout


async def sleep_to_next_second(offset_s: float = 0.05) -> float:
    """Sleep until just after a wall-clock second begins; that second's start is the
    mark (a second split by a mark is judged in no phase: harness.load.attribution).
    Every user is still blocked by the freeze in those 50 ms before SIGCONT."""
    now = time.time()
    await asyncio.sleep(int(now) + 1 + offset_s - now)
    return float(int(time.time()))


async def until_measured(events: list[Any], seconds: int) -> None:
    """Until the load has measured ``seconds`` seconds with requests."""
    for _ in range(600):
        if sum(1 for e in events if isinstance(e, IntervalMeasured) and e.requests) >= seconds:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the load never measured a second with requests")


async def freeze_under_load(ctx: Any, events: list[Any], pids: list[int]) -> StepOutcome:
    load = asyncio.create_task(STAGE.run(ctx))
    ctx.emit(PhaseChanged("chaos", "baseline", at=time.time()))
    await until_measured(events, 3)
    try:
        ctx.emit(PhaseChanged("chaos", "fault", at=await sleep_to_next_second()))
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        await asyncio.sleep(FREEZE_S)
        ctx.emit(PhaseChanged("chaos", "recovery", at=await sleep_to_next_second()))
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    return await load


async def test_failures_of_a_freeze_land_in_the_fault_phase(
    tmp_path: Path, testbed: dict[str, Any]
) -> None:
    pids = [pod.pid for pod in live_pods(load_manifest(testbed["manifest_path"]))]
    assert pids, "the testbed has no serving workers"
    spec = LoadStep.model_validate({
        "name": "freeze", "locustfile": "loadtests/inference.py",
        "user_classes": ["InferenceUser"], "users": 6, "spawn_rate": 6, "duration": "20s",
        "processes": 1, "stop_timeout": "2s", "env": {"HARNESS_THINK_TIME_S": "0.05,0.15"},
        "criteria": [
            {"expr": "error_rate < 1%", "phase": "baseline"},
            {"expr": "error_rate < 1%", "phase": "recovery"},
            {"expr": "error_rate < 100%", "phase": "fault"},
        ],
    })
    ctx, events = step_context(tmp_path, spec, target(testbed), deadline_s=120)
    async with asyncio.timeout(120):
        outcome = await freeze_under_load(ctx, events, pids)
    final = outcome
    phases = final.metrics["phases"]
    assert phases["fault"]["failures"] > 0, phases  # the freeze did fail requests
    assert phases["recovery"]["failures"] == 0, phases
    assert phases["baseline"]["failures"] == 0, phases
    reasons = {r["reason"] for r in phases["fault"]["reasons"]}
    assert "ConnectionResetError" in reasons, phases
    assert [c.status for c in final.criteria] == [Status.PASS] * 3, final.criteria
    assert final.metrics["overall"]["failures"] == phases["fault"]["failures"]
