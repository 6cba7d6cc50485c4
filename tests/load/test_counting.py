"""Nothing dropped at the end: the harness's count per second equals what a counting
server on 127.0.0.1 received, over the whole run, last seconds included, in the open
and the closed model (real Locust, master + worker, against tests/load/counting_server.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.load.spec import LoadStep
from harness.load.stage import STAGE
from harness.outcome import StepOutcome
from harness.status import Status
from tests.load.conftest import counting_server_at, served, step_context, target_for

pytestmark = pytest.mark.e2e

def slack(count: int) -> int:
    """A request sent in the last milliseconds of a second may arrive in the next one
    (more of them when the machine is busy and the client is late)."""
    return max(3, round(0.05 * count))


@pytest.fixture
def counting_server() -> Iterator[str]:
    with counting_server_at() as url:
        yield url


def counted(outcome: StepOutcome) -> dict[int, int]:
    return {p["second"]: p["requests"] for p in outcome.metrics["series"] if p["requests"]}


async def run(tmp_path: Path, url: str, **step: object) -> StepOutcome:
    spec = LoadStep.model_validate({
        "name": "counted", "locustfile": "tests/load/counted_locustfile.py", "duration": "10s",
        "processes": 1, "stop_timeout": "3s", "criteria": ["error_rate < 1%"], **step,
    })
    ctx, _ = step_context(tmp_path, spec, target_for(url), deadline_s=90)
    async with asyncio.timeout(90):
        return await STAGE.run(ctx)


def assert_same_counts(harness: dict[int, int], server: dict[int, int]) -> None:
    assert sum(harness.values()) == sum(server.values()), (harness, server)
    assert max(server) - max(harness) <= 1, (harness, server)  # the last seconds are there
    for second in sorted(set(harness) | set(server)):
        diff = abs(harness.get(second, 0) - server.get(second, 0))
        assert diff <= slack(server.get(second, 0)), (second, harness, server)


async def test_open_model_counts_every_request_to_the_last_second(
    tmp_path: Path, counting_server: str
) -> None:
    outcome = await run(
        tmp_path, counting_server, user_classes=["CountedArrivals"], users=1, spawn_rate=1,
        arrival_rate={"rate": 100},
    )
    assert outcome.status is Status.PASS, outcome.summary
    server = served(counting_server)
    assert_same_counts(counted(outcome), server)
    # 100/s for 10 s, and none sent in the 3 s stop timeout (that would be ~1,300)
    assert 900 <= sum(server.values()) <= 1100, sum(server.values())
    model = outcome.metrics["open_model"]
    assert model["scheduled"] == model["finished"] + model["unfinished"] + model["unsent"]
    assert model["unfinished"] == 0 and model["finished"] == sum(server.values())


async def test_closed_model_counts_every_request_to_the_last_second(
    tmp_path: Path, counting_server: str
) -> None:
    outcome = await run(
        tmp_path, counting_server, user_classes=["CountedUser"], users=4, spawn_rate=4,
    )
    assert outcome.status is Status.PASS, outcome.summary
    assert_same_counts(counted(outcome), served(counting_server))
    assert outcome.metrics["unfinished"] == 0
