"""Both pacts against the whole local testbed (``python -m testbed up`` / ``down``): the
target the harness verifies by default."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.status import Status
from harness.target import Target
from tests.contract.conftest import run_step
from tests.testbed_launch import launched_testbed

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with launched_testbed(tmp_path_factory.mktemp("testbed"), "--replicas", "1") as target:
        yield target


async def test_model_serving_pact_verifies(testbed: Target, tmp_path: Path) -> None:
    async with asyncio.timeout(60):
        run = await run_step(tmp_path, testbed, provider="model-serving")
    assert run.outcome.status is Status.PASS, (run.outcome.summary, run.outcome.criteria)
    assert [c.name for c in run.outcome.criteria] == [
        "inference-gateway: a health check",
        "inference-gateway: a prediction request",
        "inference-gateway: a request for the model info",
    ]


async def test_model_registry_pact_verifies(testbed: Target, tmp_path: Path) -> None:
    async with asyncio.timeout(60):
        run = await run_step(tmp_path, testbed)
    assert run.outcome.status is Status.PASS, (run.outcome.summary, run.outcome.criteria)
    assert run.outcome.metrics["interactions_verified"] >= 9
