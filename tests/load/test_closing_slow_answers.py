"""Closing with real Locust (master + worker) against a 127.0.0.1 server whose every
answer takes 2.5 s (tests/load/counting_server.py): the interval of a second is
written while its requests are still in flight, stays provisional, then closes with
its late answers counted in it (as many as the server received in that second); a
live abort still fires within its budget."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.events import CriterionBreached, Event, IntervalMeasured
from harness.load.closing import ANSWERS
from harness.load.spec import LoadStep
from harness.load.stage import STAGE
from harness.outcome import StepOutcome
from harness.status import Status
from tests.load.conftest import counting_server_at, served, step_context, target_for

pytestmark = pytest.mark.e2e

DELAY_MS = 2500
ABORT_BUDGET_S = 2.0


@pytest.fixture
def slow_server() -> Iterator[str]:
    with counting_server_at(DELAY_MS) as url:
        yield url


async def run(tmp_path: Path, url: str, **step: object) -> tuple[StepOutcome, list[Event], Path]:
    spec = LoadStep.model_validate({
        "name": "slow", "locustfile": "tests/load/counted_locustfile.py", **step,
    })
    ctx, events = step_context(tmp_path, spec, target_for(url), deadline_s=90)
    async with asyncio.timeout(90):
        outcome = await STAGE.run(ctx)
    return outcome, events, ctx.artifact_dir / "intervals.jsonl"


def stream_lines(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(text) for text in path.read_text().splitlines()]
    return [row for row in rows if row["type"] == "interval"]


def count(line: dict[str, Any]) -> int:
    return sum(int(e["count"]) for e in line["endpoints"].values())


def assert_written_open_then_closed_with_its_answers(
    lines: list[dict[str, Any]], outcome: StepOutcome, server: dict[int, int]
) -> list[int]:
    """The seconds written with requests in flight: each one's first line has them
    open and unanswered, a later line brings the answers and open 0, and the second
    closed by answers after that line, holding what the server received in it."""
    points = {p["second"]: p for p in outcome.metrics["series"]}
    first = {}
    for line in lines:
        first.setdefault(line["second"], line)
    written_open = [s for s, line in first.items() if line["open"] > 0]
    closed_by_answers = [s for s in written_open if points[s]["closed_by"] == ANSWERS]
    assert len(closed_by_answers) >= 2, (written_open, points)
    for second in closed_by_answers:
        assert count(first[second]) == 0, first[second]  # 2.5 s: nothing answered in time
        last = [line for line in lines if line["second"] == second][-1]
        assert last.get("late") and last["open"] == 0, last
        assert points[second]["closed_at"] >= last["written_at"]
        assert points[second]["open_when_written"] == first[second]["open"]
        assert abs(points[second]["requests"] - server.get(second, 0)) <= 1, (second, server)
    total = sum(points[s]["requests"] for s in closed_by_answers)
    assert abs(total - sum(server.get(s, 0) for s in closed_by_answers)) <= 1
    return written_open


async def test_closed_model_seconds_close_once_their_slow_answers_are_in(
    tmp_path: Path, slow_server: str
) -> None:
    """Two workers: the master sums their open counts."""
    outcome, events, path = await run(
        tmp_path, slow_server, user_classes=["CountedCheckedUser"], users=4, spawn_rate=4,
        processes=2, duration="4s", stop_timeout="4s",
        criteria=["error_rate < 1%", "p95 >= 2s for 1s"],
    )
    assert outcome.status is Status.PASS, outcome.summary
    server = served(slow_server)
    written_open = assert_written_open_then_closed_with_its_answers(
        stream_lines(path), outcome, server
    )
    assert outcome.metrics["overall"]["requests"] == sum(server.values())
    shown_open = {e.elapsed_s for e in events if isinstance(e, IntervalMeasured) and e.open}
    assert len(shown_open) >= len(written_open) - 1  # the live display said they were open
    closing = outcome.metrics["closing"]
    assert closing["lines_after_close"] == 0 and closing["provisional"] == 0
    assert 2 in {line["workers"] for line in stream_lines(path)}  # summed over both


async def test_open_model_seconds_stay_open_and_a_live_abort_keeps_its_budget(
    tmp_path: Path, slow_server: str
) -> None:
    outcome, events, path = await run(
        tmp_path, slow_server, user_classes=["CountedArrivals"], users=1, spawn_rate=1,
        processes=1, arrival_rate={"rate": 4}, duration="60s", stop_timeout="3s",
        criteria=[{"expr": "max < 1s for 3s", "abort": True}],
    )
    assert outcome.status is Status.FAIL and outcome.metrics["aborted"], outcome.summary
    assert_written_open_then_closed_with_its_answers(
        stream_lines(path), outcome, served(slow_server)
    )
    breach = next(e for e in events if isinstance(e, CriterionBreached) and e.aborting)
    gone_s = outcome.metrics["locust_ended_at"] - breach.at
    assert gone_s <= ABORT_BUDGET_S, gone_s
    assert outcome.metrics["closing"]["lines_after_close"] == 0
