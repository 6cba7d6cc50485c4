"""The runner against fake locust executables: every way of not running is ERROR."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from harness.events import PhaseChanged
from harness.load.spec import LoadStep
from harness.load.stage import STAGE
from harness.stage_stream import StageStream
from harness.status import Status
from tests.load.conftest import ROOT, step_context, target_for
from tests.prometheus_servers import PrometheusServers


@pytest.fixture
def listener() -> Iterator[str]:
    """Something that accepts TCP connections (the pre-flight reachability check)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.fixture
def fake_locust(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "locust"
    script.write_text(
        f"#!/bin/sh\nexec {sys.executable} {Path(__file__).with_name('fake_locust.py')} \"$@\"\n"
    )
    script.chmod(0o755)
    pid_file = tmp_path / "fake.pid"
    monkeypatch.setenv("HARNESS_LOCUST_BIN", str(script))
    monkeypatch.setenv("FAKE_LOCUST_PID_FILE", str(pid_file))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return pid_file


def started(pid_file: Path) -> bool:
    return pid_file.exists()


def fake_is_running(pid_file: Path) -> bool:
    pid = int(pid_file.read_text())
    return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


def spec(criteria: list[object] | None = None) -> LoadStep:
    return LoadStep.model_validate({
        "name": "fake", "locustfile": "loadtests/inference.py", "duration": "1s",
        "stop_timeout": "0s", "criteria": criteria or ["error_rate < 50%", "p95 < 100ms"],
    })


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("hang", "did not finish"),
        ("crash", "unknown user class"),
        ("bad_flag", "bad locust option"),
        ("garbage_json", "unreadable"),
        ("no_json", "no JSON report"),
        ("zero", "no requests were made"),
        ("no_stream", "wrote no interval stream"),
        ("garbage_stream", "interval stream unreadable"),
    ],
)
async def test_never_pass_when_locust_did_not_really_run(
    tmp_path: Path, listener: str, fake_locust: Path, monkeypatch: pytest.MonkeyPatch,
    mode: str, reason: str,
) -> None:
    monkeypatch.setenv("FAKE_LOCUST_MODE", mode)
    ctx, _ = step_context(tmp_path, spec(), target_for(listener), deadline_s=8.0)
    async with asyncio.timeout(30):
        outcome = await STAGE.run(ctx)
    assert outcome.status is Status.ERROR, outcome
    assert reason in outcome.summary
    assert not fake_is_running(fake_locust)


async def test_a_fake_that_did_run_is_judged(
    tmp_path: Path, listener: str, fake_locust: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LOCUST_MODE", "ok")
    criteria: list[object] = ["error_rate < 50%", "p95 < 100ms", "p99 < 20ms"]
    ctx, events = step_context(tmp_path, spec(criteria), target_for(listener))
    async with asyncio.timeout(30):
        outcome = await STAGE.run(ctx)
    assert [c.status for c in outcome.criteria] == [Status.PASS, Status.PASS, Status.FAIL]
    assert outcome.status is Status.FAIL
    assert outcome.criteria[0].observed == pytest.approx(0.1)
    assert outcome.criteria[2].observed == pytest.approx(40.0, rel=1e-3)
    assert outcome.metrics["overall"]["requests"] == 20
    assert sum(type(e).__name__ == "IntervalMeasured" for e in events) == 2
    names = {p.name for p in outcome.artifacts}
    assert {"locust.json", "intervals.jsonl", "series.json"} <= names


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"locustfile": "loadtests/nope.py"}, "does not exist"),
        ({"user_classes": ["Ghost"]}, "unknown user class Ghost"),
    ],
)
async def test_bad_input_is_an_error_before_anything_starts(
    tmp_path: Path, listener: str, fake_locust: Path, fields: dict[str, object], reason: str
) -> None:
    step = spec().model_copy(update=fields)
    ctx, _ = step_context(tmp_path, step, target_for(listener))
    async with asyncio.timeout(10):
        outcome = await STAGE.run(ctx)
    assert outcome.status is Status.ERROR and reason in outcome.summary
    assert not started(fake_locust)


async def test_unreachable_target_is_an_error(tmp_path: Path, fake_locust: Path) -> None:
    ctx, _ = step_context(tmp_path, spec(), target_for("http://127.0.0.1:9"))
    async with asyncio.timeout(10):
        outcome = await STAGE.run(ctx)
    assert outcome.status is Status.ERROR and "unreachable" in outcome.summary
    assert not started(fake_locust)


async def test_phase_criteria_are_judged_after_the_stage_s_phase_marks(
    tmp_path: Path, listener: str, fake_locust: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LOCUST_MODE", "three_seconds")
    criteria: list[object] = [
        "p95 < 100ms",
        {"expr": "p95 < 100ms", "phase": "fault"},
        {"expr": "error_rate < 5%", "phase": "baseline"},
    ]
    load = spec(criteria)
    ctx, _ = step_context(tmp_path, load, target_for(listener))
    ctx.stage = stream = StageStream(ctx.stage.emit, [load.name, "chaos"])
    ctx.emit = stream.emit
    async with asyncio.timeout(30):
        task = asyncio.create_task(STAGE.run(ctx))
        while stream.held(load.name) is None:  # noqa: ASYNC110 - the step holds, then waits
            await asyncio.sleep(0.05)
        # no chaos phase marked yet: the phase criteria are errors, never passes
        unmarked = stream.held(load.name)
        assert unmarked is not None and not task.done()
        assert [c.status for c in unmarked.criteria] == [Status.PASS, Status.ERROR, Status.ERROR]
        assert unmarked.status is Status.ERROR
        first = unmarked.metrics["series"][0]["second"]
        # the first second is the users' ramp: the baseline is the second one
        stream.emit(PhaseChanged("chaos", "baseline", at=first - 5.0))
        stream.emit(PhaseChanged("chaos", "fault", at=first + 2.0))
        stream.step_ended("chaos")
        marked = await task
    fault, baseline = marked.criteria[1], marked.criteria[2]
    assert fault.status is Status.PASS and fault.phase == "fault"
    assert baseline.status is Status.FAIL and baseline.observed == pytest.approx(0.1)
    assert marked.status is Status.FAIL


async def test_missing_locust_executable_is_an_error(
    tmp_path: Path, listener: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_LOCUST_BIN", str(tmp_path / "no-such-locust"))
    ctx, _ = step_context(tmp_path, spec(), target_for(listener))
    async with asyncio.timeout(10):
        outcome = await STAGE.run(ctx)
    assert outcome.status is Status.ERROR and "cannot start locust" in outcome.summary


@pytest.mark.prometheus
async def test_promql_phase_criteria_are_judged_at_the_phase_s_end(
    tmp_path: Path, listener: str, fake_locust: Path, monkeypatch: pytest.MonkeyPatch,
    prometheus: PrometheusServers,
) -> None:
    """PromQL criteria with a phase wait for the stage's marks like the others, then ask
    the real Prometheus about that phase's window; per-phase figures land in the metrics."""
    monkeypatch.setenv("FAKE_LOCUST_MODE", "ok")
    prometheus.wait_for('count_over_time(up{job="prometheus"}[1m]) >= 3')
    up = 'min(up{job="prometheus"})'
    load = spec([
        "p95 < 100ms",
        {"promql": up, "==": 1, "phase": "fault", "name": "up at the fault's end"},
        {"promql": up, "==": 1, "phase": "recovery", "over": "window", "name": "up after"},
        {"promql": up, "<": 1, "name": "never true at the end"},
    ])
    target = replace(target_for(listener), prometheus_url=prometheus.prometheus_url)
    ctx, _ = step_context(tmp_path, load, target)
    ctx.stage = stream = StageStream(ctx.stage.emit, [load.name, "chaos"])
    ctx.emit = stream.emit
    async with asyncio.timeout(30):
        task = asyncio.create_task(STAGE.run(ctx))
        while stream.held(load.name) is None:  # noqa: ASYNC110 - the step holds, then waits
            await asyncio.sleep(0.05)
        held = stream.held(load.name)
        assert held is not None
        assert [c.name for c in held.criteria] == ["p95 < 100ms", "never true at the end"]
        began = held.started_at  # the fault phase is over before the step's end
        stream.emit(PhaseChanged("chaos", "baseline", at=began - 3.0))
        stream.emit(PhaseChanged("chaos", "fault", at=began - 2.0))
        stream.emit(PhaseChanged("chaos", "recovery", at=began - 1.0))
        stream.step_ended("chaos")
        marked = await task
    rows = {c.name: c for c in marked.criteria}
    assert rows["never true at the end"].status is Status.FAIL
    fault = rows["up at the fault's end [phase=fault]"]
    assert (fault.status, fault.phase, fault.observed) == (Status.PASS, "fault", 1.0)
    assert "instant query" in fault.reason
    after = rows["up after [over window] [phase=recovery]"]
    assert after.status is Status.PASS and "range query" in after.reason, after
    assert set(marked.metrics["phases"]) <= {"baseline", "fault", "recovery"}
    assert marked.metrics["phases"], marked.metrics
    assert marked.status is Status.FAIL


async def test_promql_criteria_without_a_prometheus_are_errors(
    tmp_path: Path, listener: str, fake_locust: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LOCUST_MODE", "ok")
    ctx, _ = step_context(tmp_path, spec([{"promql": "up", ">": 0}]), target_for(listener))
    async with asyncio.timeout(30):
        outcome = await STAGE.run(ctx)
    assert outcome.status is Status.ERROR
    assert "no Prometheus to ask" in outcome.criteria[0].reason


@pytest.mark.prometheus
async def test_cpu_utilisation_of_a_remote_target_comes_from_the_real_prometheus(
    tmp_path: Path, listener: str, fake_locust: Path, monkeypatch: pytest.MonkeyPatch,
    prometheus: PrometheusServers,
) -> None:
    """No manifest (a remote target): cpu_utilisation is judged from cpu_query, a range
    query over the run through the same client as PromQL criteria."""
    monkeypatch.setenv("FAKE_LOCUST_MODE", "ok")
    prometheus.wait_for('count_over_time(process_cpu_seconds_total{job="prometheus"}[10s]) >= 5')
    load = LoadStep.model_validate({
        "name": "fake", "locustfile": "loadtests/inference.py", "duration": "1s",
        "stop_timeout": "0s", "criteria": ["cpu_utilisation < 100%"],
        "cpu_query": 'sum(rate(process_cpu_seconds_total{job="prometheus"}[5s]))',
    })
    target = replace(target_for(listener), prometheus_url=prometheus.prometheus_url)
    ctx, _ = step_context(tmp_path, load, target)
    async with asyncio.timeout(30):
        outcome = await STAGE.run(ctx)
    cpu = outcome.criteria[0]
    assert cpu.status is Status.PASS, cpu
    assert isinstance(cpu.observed, float) and 0.0 < cpu.observed < 1.0
    assert outcome.metrics["cpu_utilisation_mean"] == pytest.approx(cpu.observed, abs=1e-6)
