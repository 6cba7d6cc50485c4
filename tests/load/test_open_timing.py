"""Open-model timing: from the arrival's intended start to where Locust's own timing of
the request ends; real Locust against bench/load_server.py with a fixed 5 ms delay."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from harness.load.spec import LoadStep
from harness.load.stage import STAGE
from harness.target import Target
from tests.load.conftest import step_context

pytestmark = pytest.mark.e2e


async def test_a_slow_catch_response_block_is_not_latency(
    tmp_path: Path, stand_in: Any
) -> None:
    server = stand_in("--delay", "fixed:ms=5")
    spec = LoadStep.model_validate({
        "name": "open", "locustfile": "tests/load/slow_check_locustfile.py",
        "user_classes": ["CheckedArrivals"], "users": 1, "spawn_rate": 1, "duration": "3s",
        "processes": 1, "stop_timeout": "2s", "arrival_rate": {"rate": 40},
        "criteria": ["p50 < 30ms"],
    })
    target = Target("external", server.url, server.url, server.url)
    ctx, _ = step_context(tmp_path, spec, target, deadline_s=60)
    async with asyncio.timeout(60):
        outcome = await STAGE.run(ctx)
    (p50,) = outcome.criteria
    assert isinstance(p50.observed, float)
    # the 5 ms service plus how late it was sent, never the 40 ms check after the answer
    assert 5.0 <= p50.observed < 30.0, outcome
    assert outcome.metrics["overall"]["requests"] >= 60
