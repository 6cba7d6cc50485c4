"""The engine with the fake stage: deadlines, crashes, garbage, fail_fast, the stage stream,
a target that does not come up. Asserted from the events and the files left."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import psutil
import pytest

from harness.config import load_suite
from harness.engine import RunOptions, RunResult, new_run_id, run_suite
from harness.events import Event, PhaseChanged, StepFinished, StepProgressed, StepStarted
from harness.reporters import write_reports
from harness.status import Status
from tests.core.conftest import write_suite

pytestmark = pytest.mark.usefixtures("fake_kind")


def suite_text(stages: str, *, url: str, fail_fast: bool = True, ready: str = "5s") -> str:
    return f"""
name: engine-test
fail_fast: {str(fail_fast).lower()}
target:
  kind: external
  external: {{serving_url: "{url}", ready_timeout: {ready}}}
stages:
{stages}
"""


async def run(tmp_path: Path, text: str) -> tuple[RunResult, list[Event]]:
    suite, problems = load_suite(write_suite(tmp_path, text), base_dir=tmp_path)
    assert suite is not None, problems
    events: list[Event] = []
    options = RunOptions(run_id=new_run_id(), report_dir=tmp_path / "report")
    async with asyncio.timeout(60):
        result = await run_suite(suite, options, events.append)
    write_reports(result, options.report_dir)
    return result, events


def steps_by_name(result: RunResult) -> dict[str, object]:
    return {step.name: step for _, step in result.verdict.steps}


def waiting(events: list[Event]) -> bool:
    return any(isinstance(e, StepProgressed) and e.message == "waiting for the others"
               for e in events)


def pids_in(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_gone(pids: list[int], within_s: float = 3.0) -> None:
    """Every pid ends within ``within_s`` (a SIGKILL is delivered asynchronously)."""
    deadline = time.monotonic() + within_s
    alive = [pid for pid in pids if running(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if running(pid)]
    assert not alive, f"processes left running: {alive}"


async def test_hanging_step_times_out_and_sibling_is_unaffected(
    tmp_path: Path, health_url: str
) -> None:
    pid_file = tmp_path / "pids"
    stages = f"""
  - name: both
    steps:
      - {{name: hangs, kind: fake, mode: hang, timeout: 1s, ignore_term: true,
          pid_file: "{pid_file}", criteria: ["rps > 1"]}}
      - {{name: fine, kind: fake, sleep: 1.5, metrics: {{rps: 10}}, criteria: ["rps > 1"]}}
"""
    result, events = await run(tmp_path, suite_text(stages, url=health_url))
    steps = steps_by_name(result)
    assert steps["hangs"].status is Status.ERROR
    assert steps["hangs"].summary == "timed out after 1 s"
    assert steps["fine"].status is Status.PASS
    assert result.verdict.status is Status.ERROR
    finished = [e.outcome.name for e in events if isinstance(e, StepFinished)]
    assert sorted(finished) == ["fine", "hangs"]
    pids = pids_in(pid_file)
    assert len(pids) == 2  # the tool and its grandchild
    assert_gone(pids)


async def test_crash_garbage_and_runner_bug_become_errors(tmp_path: Path, health_url: str) -> None:
    stages = """
  - name: broken
    steps:
      - {name: crashes, kind: fake, mode: crash, criteria: ["rps > 1"]}
      - {name: garbage, kind: fake, mode: garbage, criteria: ["rps > 1"]}
      - {name: raises, kind: fake, mode: raise, criteria: ["rps > 1"]}
      - {name: fine, kind: fake, metrics: {rps: 5}, criteria: ["rps > 1"]}
"""
    result, _ = await run(tmp_path, suite_text(stages, url=health_url))
    steps = steps_by_name(result)
    assert steps["crashes"].status is Status.ERROR
    assert "exited with 3" in steps["crashes"].summary and "boom" in steps["crashes"].summary
    assert steps["garbage"].status is Status.ERROR
    assert "unreadable tool output" in steps["garbage"].summary
    assert steps["raises"].summary == "harness bug: RuntimeError: boom in runner"
    assert steps["fine"].status is Status.PASS
    verdict = json.loads((tmp_path / "report" / "verdict.json").read_text())
    assert verdict["status"] == "error"
    assert {s["name"]: s["status"] for s in verdict["steps"]} == {
        "crashes": "error", "garbage": "error", "raises": "error", "fine": "pass"}


async def test_fail_fast_skips_later_stages(tmp_path: Path, health_url: str) -> None:
    stages = """
  - name: first
    steps:
      - {name: slow-service, kind: fake, metrics: {p95: 250}, criteria: ["p95 < 100ms"]}
  - name: second
    steps:
      - {name: never, kind: fake, metrics: {rps: 5}, criteria: ["rps > 1"]}
"""
    result, events = await run(tmp_path, suite_text(stages, url=health_url))
    steps = steps_by_name(result)
    assert steps["slow-service"].status is Status.FAIL
    assert steps["never"].status is Status.SKIPPED
    assert "fail_fast" in steps["never"].summary
    assert result.verdict.status is Status.FAIL and result.exit_code == 1
    assert not any(isinstance(e, StepStarted) and e.step == "never" for e in events)
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "p95 < 100ms" in summary and "observed 250" in summary


async def test_without_fail_fast_later_stages_run(tmp_path: Path, health_url: str) -> None:
    stages = """
  - name: first
    steps:
      - {name: slow-service, kind: fake, metrics: {p95: 250}, criteria: ["p95 < 100ms"]}
  - name: second
    steps:
      - {name: runs, kind: fake, metrics: {rps: 5}, criteria: ["rps > 1"]}
"""
    result, _ = await run(tmp_path, suite_text(stages, url=health_url, fail_fast=False))
    assert steps_by_name(result)["runs"].status is Status.PASS
    assert result.verdict.status is Status.FAIL


async def test_a_step_reads_the_phase_marks_of_its_siblings(
    tmp_path: Path, health_url: str
) -> None:
    stages = """
  - name: chaos-under-load
    steps:
      - {name: load, kind: fake, wait_for_others: true, metrics: {rps: 5},
         criteria: ["rps > 1"]}
      - {name: chaos, kind: fake, sleep: 0.5, mark_phase: fault, metrics: {rps: 5},
         criteria: ["rps > 1"]}
"""
    result, events = await run(tmp_path, suite_text(stages, url=health_url))
    steps = steps_by_name(result)
    assert steps["load"].summary == "judged after the others with 1 phase marks"
    assert steps["load"].finished_at >= steps["chaos"].finished_at
    marks = [e for e in events if isinstance(e, PhaseChanged)]
    assert [(m.step, m.phase) for m in marks] == [("chaos", "fault")]
    assert result.verdict.status is Status.PASS and result.exit_code == 0
    load_finished = [e for e in events if isinstance(e, StepFinished) and e.outcome.name == "load"]
    assert len(load_finished) == 1


async def test_step_without_criteria_is_error_not_pass(tmp_path: Path, health_url: str) -> None:
    stages = """
  - name: only
    steps:
      - {name: vacuous, kind: fake, metrics: {rps: 5}}
"""
    result, _ = await run(tmp_path, suite_text(stages, url=health_url))
    assert steps_by_name(result)["vacuous"].status is Status.ERROR
    assert result.verdict.status is Status.ERROR


async def test_target_that_does_not_come_up_is_error(tmp_path: Path) -> None:
    stages = """
  - name: only
    steps:
      - {name: never, kind: fake, metrics: {rps: 5}, criteria: ["rps > 1"]}
"""
    result, events = await run(tmp_path, suite_text(stages, url="http://127.0.0.1:9", ready="1s"))
    assert result.verdict.status is Status.ERROR and result.exit_code == 2
    assert "did not come up" in result.verdict.reason
    assert steps_by_name(result)["never"].status is Status.SKIPPED
    assert not any(isinstance(e, StepStarted) for e in events)
    verdict = json.loads((tmp_path / "report" / "verdict.json").read_text())
    assert verdict["status"] == "error" and "did not come up" in verdict["reason"]


async def test_cancelling_the_run_reports_interrupted_steps(
    tmp_path: Path, health_url: str
) -> None:
    pid_file = tmp_path / "pids"
    stages = f"""
  - name: one
    steps:
      - {{name: hangs, kind: fake, mode: hang, timeout: 60s, pid_file: "{pid_file}",
          criteria: ["rps > 1"]}}
  - name: two
    steps:
      - {{name: later, kind: fake, metrics: {{rps: 5}}, criteria: ["rps > 1"]}}
"""
    suite, problems = load_suite(write_suite(tmp_path, suite_text(stages, url=health_url)),
                                 base_dir=tmp_path)
    assert suite is not None, problems
    events: list[Event] = []
    options = RunOptions(run_id=new_run_id(), report_dir=tmp_path / "report")
    async with asyncio.timeout(30):
        task = asyncio.create_task(run_suite(suite, options, events.append))
        while len(pids_in(pid_file)) < 2:  # noqa: ASYNC110 - written by another process
            await asyncio.sleep(0.05)
        task.cancel()
        result = await task
    assert result.interrupted and result.exit_code == 130
    steps = steps_by_name(result)
    assert steps["hangs"].status is Status.ERROR and steps["hangs"].summary == "interrupted"
    assert steps["later"].status is Status.SKIPPED
    assert result.verdict.status is Status.ERROR
    assert_gone(pids_in(pid_file))


async def test_an_interrupted_waiting_step_reports_what_it_held(
    tmp_path: Path, health_url: str
) -> None:
    pid_file = tmp_path / "pids"
    stages = f"""
  - name: chaos-under-load
    steps:
      - {{name: load, kind: fake, wait_for_others: true, metrics: {{rps: 5}},
          criteria: ["rps > 1"]}}
      - {{name: chaos, kind: fake, mode: hang, mark_phase: fault, pid_file: "{pid_file}",
          timeout: 60s, criteria: ["rps > 1"]}}
"""
    suite, problems = load_suite(write_suite(tmp_path, suite_text(stages, url=health_url)),
                                 base_dir=tmp_path)
    assert suite is not None, problems
    events: list[Event] = []
    options = RunOptions(run_id=new_run_id(), report_dir=tmp_path / "report")
    async with asyncio.timeout(30):
        task = asyncio.create_task(run_suite(suite, options, events.append))
        while len(pids_in(pid_file)) < 2 or not waiting(events):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        task.cancel()
        result = await task
    steps = steps_by_name(result)
    assert steps["load"].summary == "interrupted; held before waiting"
    assert steps["load"].status is Status.PASS
    assert steps["chaos"].summary == "interrupted"
    assert result.verdict.status is Status.ERROR and result.interrupted
    assert_gone(pids_in(pid_file))


async def test_a_run_first_reverts_faults_left_in_the_ledger(
    tmp_path: Path, health_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.chaos.ledger import new_record, write_record

    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    ballast = tmp_path / "ballast.bin"
    ballast.write_bytes(b"x" * 1024)
    record = new_record("ballast", "registry disk", file_path=str(ballast))
    write_record(record.__class__(**{**record.__dict__, "owner_pid": 0}))
    stages = """
  - name: only
    steps:
      - {name: fine, kind: fake, metrics: {rps: 5}, criteria: ["rps > 1"]}
"""
    result, events = await run(tmp_path, suite_text(stages, url=health_url))
    assert not ballast.exists()
    assert len(result.recovered) == 1 and "reverted ballast" in result.recovered[0]
    assert type(events[0]).__name__ == "FaultsRecovered"
    assert "reverted ballast" in (tmp_path / "report" / "summary.md").read_text()
