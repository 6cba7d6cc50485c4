"""Both pacts against the whole local testbed (``python -m testbed up`` / ``down``): the
target the harness verifies by default."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.status import Status
from harness.target import Target, Tokens
from tests.contract.conftest import ROOT, run_step

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    state = tmp_path_factory.mktemp("testbed")
    manifest = state / "manifest.json"
    up = subprocess.run(
        [
            sys.executable,
            "-m",
            "testbed",
            "up",
            "--manifest",
            str(manifest),
            "--state-dir",
            str(state),
            "--replicas",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert up.returncode == 0, up.stderr[-2000:]
        raw = json.loads(manifest.read_text())
        services = raw["services"]
        yield Target(
            kind="local",
            registry_url=services["registry"]["url"],
            serving_url=services["serving"]["url"],
            orchestrator_url=services["orchestrator"]["url"],
            tokens=Tokens(**raw["tokens"]),
            manifest_path=manifest,
        )
    finally:
        subprocess.run(
            [sys.executable, "-m", "testbed", "down", "--manifest", str(manifest)],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        )


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
