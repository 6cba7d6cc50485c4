"""The api stage against the real testbed with real schemathesis: the healthy testbed
passes every check, and each api fault switch fails exactly the check it should, naming
the operation and the request (tokens masked)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.status import Status
from harness.target import Target
from tests.openapi.conftest import REGISTRY_STEP, SERVING_STEP, StepRun, run_step, set_faults

pytestmark = pytest.mark.e2e


@pytest.fixture
def healthy(testbed: Target) -> Iterator[Target]:
    set_faults(testbed, [], [])
    try:
        yield testbed
    finally:
        set_faults(testbed, [], [])


def statuses(run: StepRun) -> dict[str, Status]:
    return {c.name.split(":")[0]: c.status for c in run.outcome.criteria}


def assert_no_token_in(run: StepRun, target: Target) -> None:
    tokens = [target.tokens.read, target.tokens.write, target.tokens.admin]
    for path in run.artifact_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not [t for t in tokens if t in text], f"a token leaked into {path}"


async def test_healthy_testbed_passes_every_check(healthy: Target, tmp_path: Path) -> None:
    async with asyncio.timeout(150):
        registry, serving = await asyncio.gather(
            run_step(tmp_path / "r", healthy, **REGISTRY_STEP),
            run_step(tmp_path / "s", healthy, **SERVING_STEP),
        )
    for run in (registry, serving):
        assert run.outcome.status is Status.PASS, (run.outcome.summary, run.outcome.criteria)
    assert statuses(registry) == dict.fromkeys(
        ["server_errors", "schema", "auth", "hostile"], Status.PASS
    )
    assert statuses(serving) == dict.fromkeys(
        ["server_errors", "auth", "rate_limit", "metrics"], Status.PASS
    )
    assert registry.outcome.metrics["operations"] >= 10


FAULTS: list[tuple[str, str, dict[str, Any], str, str]] = [
    # (fault, which service has it, step, the check that must fail, what it must name)
    ("registry-auth-bypass", "registry", REGISTRY_STEP, "auth", "with a read token"),
    ("registry-bad-id-500", "registry", REGISTRY_STEP, "hostile", "answered 500"),
    ("no-rate-limit", "serving", SERVING_STEP, "rate_limit", "none answered 429"),
    ("metric-renamed", "serving", SERVING_STEP, "metrics", "ml_predictions_total not exposed"),
]


@pytest.mark.parametrize(("fault", "service", "step", "check", "named"), FAULTS)
async def test_each_fault_fails_its_check(
    healthy: Target,
    tmp_path: Path,
    fault: str,
    service: str,
    step: dict[str, Any],
    check: str,
    named: str,
) -> None:
    set_faults(
        healthy, [fault] if service == "registry" else [], [fault] if service == "serving" else []
    )
    async with asyncio.timeout(120):
        run = await run_step(tmp_path, healthy, **step)
    assert run.outcome.status is Status.FAIL, run.outcome.summary
    failed = {name for name, status in statuses(run).items() if status is not Status.PASS}
    assert failed == {check}, run.outcome.criteria
    criterion = next(c for c in run.outcome.criteria if c.name.startswith(f"{check}:"))
    assert named in criterion.reason
    first = criterion.mismatches[0]
    assert first.path.split(" ")[0] in ("GET", "POST", "PUT", "DELETE")
    assert first.kind.startswith("request: curl -X ")
    assert_no_token_in(run, healthy)


async def test_auth_bypass_names_the_write_it_let_in(healthy: Target, tmp_path: Path) -> None:
    set_faults(healthy, ["registry-auth-bypass"], [])
    step = {**REGISTRY_STEP, "fuzz": False, "hostile": False}
    async with asyncio.timeout(60):
        run = await run_step(tmp_path, healthy, **step)
    (auth,) = run.outcome.criteria
    named = {m.path for m in auth.mismatches}
    assert "POST /models/register" in named and "DELETE /models/{model_id}" in named
    assert not any(m.path.startswith("GET ") for m in auth.mismatches)  # reads need read only
    assert all("Bearer ***" in m.kind for m in auth.mismatches)
