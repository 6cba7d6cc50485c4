"""End to end: real Locust (master + worker processes) with the harness plugin against
the real testbed on 127.0.0.1; faults switched through the serving admin API (the same
switch as ``python -m testbed up --fault SPEC``)."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.engine import RunResult
from harness.events import CriterionBreached
from harness.load.spec import LoadStep
from harness.load.stage import STAGE
from harness.outcome import StepOutcome
from harness.reporters import write_reports
from harness.status import Status
from harness.target import Target
from harness.verdict import judge_run, judge_stage
from tests.load.conftest import step_context
from tests.testbed_launch import target_of

pytestmark = pytest.mark.e2e


def target(testbed: dict[str, Any]) -> Target:
    return target_of(testbed, testbed["manifest_path"])


@contextmanager
def fault(testbed: dict[str, Any], *specs: str) -> Iterator[None]:
    url = testbed["services"]["serving"]["url"] + "/admin/faults"
    headers = {"Authorization": f"Bearer {testbed['tokens']['admin']}"}
    answer = httpx.put(url, json={"faults": list(specs)}, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    try:
        yield
    finally:
        httpx.delete(url, headers=headers, timeout=10)


def inference(criteria: list[object], duration: str = "10s", **more: object) -> LoadStep:
    return LoadStep.model_validate({
        "name": "inference", "locustfile": "loadtests/inference.py",
        "user_classes": ["InferenceUser"], "users": 6, "spawn_rate": 6, "duration": duration,
        "processes": 1, "stop_timeout": "1s", "criteria": criteria,
        "env": {"HARNESS_THINK_TIME_S": "0.05,0.15"}, **more,
    })


async def run(
    tmp_path: Path, spec: LoadStep, testbed: dict[str, Any]
) -> tuple[StepOutcome, list[Any]]:
    ctx, events = step_context(tmp_path, spec, target(testbed), deadline_s=120)
    async with asyncio.timeout(120):
        outcome = await STAGE.run(ctx)
    return outcome, events


CRITERIA: list[object] = [
    "p95 < 100ms", "error_rate < 0.1%", "rps >= 10", 'p99{name="POST /predict"} < 250ms',
]


async def test_healthy_testbed_passes_with_exact_figures(
    tmp_path: Path, testbed: dict[str, Any]
) -> None:
    spec = inference([*CRITERIA, *RIGHT_ANSWERS], model_version={"field": "model_version"})
    outcome, events = await run(tmp_path, spec, testbed)
    assert outcome.status is Status.PASS, outcome
    overall = outcome.metrics["overall"]
    # every prediction carried the testbed's one model version and echoed its own id;
    # about a fifth were golden inputs, every one answered right
    predictions = outcome.metrics["endpoints"]["POST /predict"]["requests"]
    answers = overall["answers"]
    assert answers["versions"] == {"1.0.0": predictions}
    assert answers["echoed"] == predictions and answers["crossed"] == 0
    assert 0.1 * predictions < answers["checked"] < 0.3 * predictions
    assert answers["wrong"] == 0 and answers["wrong_answer_rate"] == 0.0
    assert outcome.metrics["model_version"]["expected"] == "1.0.0"
    assert overall["requests"] > 200
    # every request Locust counted is in the HDR figures (same run, same requests)
    assert overall["requests"] == outcome.metrics["locust_requests"]
    assert set(outcome.metrics["endpoints"]) == {"POST /predict", "GET /model-info"}
    # microsecond resolution, not Locust's 1 ms buckets
    p50 = overall["p50_ms"]
    assert p50 is not None and p50 != round(p50)
    assert len(outcome.metrics["series"]) >= 9
    assert any(type(e).__name__ == "IntervalMeasured" for e in events)
    assert outcome.metrics["cpu_utilisation_mean"] is not None  # sampled from the manifest pids


RIGHT_ANSWERS = ["version_skew == 0", "wrong_answer_rate == 0", "crossover_count == 0"]


@pytest.mark.parametrize(
    ("fault_spec", "failing", "also"),
    [
        ("wrong-answers", "wrong_answer_rate == 0", []),
        # a golden input that got another request's answer is also a wrong answer
        ("crossed-answers", "crossover_count == 0", ["wrong_answer_rate == 0"]),
    ],
)
async def test_answer_faults_fail_the_criterion_that_names_them(
    tmp_path: Path, testbed: dict[str, Any], fault_spec: str, failing: str, also: list[str]
) -> None:
    """Status 200, fast, well-formed: only the answers themselves are wrong."""
    spec = inference(
        [*RIGHT_ANSWERS, "error_rate < 1%"], duration="3s",
        model_version={"field": "model_version"},
    )
    with fault(testbed, fault_spec):
        outcome, _ = await run(tmp_path, spec, testbed)
    results = {c.name: c for c in outcome.criteria}
    assert outcome.status is Status.FAIL
    bad = {name for name, c in results.items() if c.status is not Status.PASS}
    assert bad == {failing, *also}
    observed = results[failing].observed
    if failing.startswith("wrong"):
        assert observed == 1.0  # every golden answer wrong
    else:
        assert isinstance(observed, float) and observed > 10  # nearly every answer crossed
    assert results[failing].name in outcome.summary or also  # the summary names the first


async def test_answers_off_the_pinned_version_fail_version_skew(
    tmp_path: Path, testbed: dict[str, Any]
) -> None:
    spec = inference(
        ["version_skew == 0"], duration="3s", model_version={"field": "model_version",
                                                             "expected": "2.0.0"},
    )
    outcome, _ = await run(tmp_path, spec, testbed)
    (skew,) = outcome.criteria
    assert skew.name == "version_skew == 0" and skew.status is Status.FAIL
    assert skew.observed == 1.0 and outcome.status is Status.FAIL
    assert "version_skew" in outcome.summary
    # the answers' versions show in every report
    report = tmp_path / "report"
    result = RunResult(
        run_id="r", suite="s", target={"kind": "local"}, started_at=outcome.started_at,
        finished_at=outcome.finished_at, verdict=judge_run([judge_stage("load", [outcome])]),
    )
    write_reports(result, report)
    (step,) = json.loads((report / "verdict.json").read_text())["steps"]
    answers = step["metrics"]["overall"]["answers"]
    assert answers["expected_version"] == "2.0.0" and answers["version_skew"] == 1.0
    assert list(answers["versions"]) == ["1.0.0"]
    summary = (report / "summary.md").read_text()
    assert "## Model answers" in summary and "| whole run | 1.0.0 (" in summary
    html = (report / "report.html").read_text()
    assert "model answers" in html and "1.0.0 (" in html


async def test_latency_fault_fails_p95_at_the_injected_delay(
    tmp_path: Path, testbed: dict[str, Any]
) -> None:
    """The testbed's latency fault in ``total`` mode holds every answer until 150 ms
    after its request arrived, so the true response time is 150 ms plus only the
    loopback and client overhead (Locust's gevent loop, uvloop's 1 ms timers: about
    2 ms at the median and 3-5 ms at p95 on this shared 2-core machine: 153.3, 154.4
    and 154.6 ms seen). The harness must read the median within 2 % of 150 ms and p95
    within 5 % (Locust's own buckets are 10 ms wide there), and nothing below 150 ms."""
    spec = inference(
        [*CRITERIA, 'p50{name="GET /model-info"} < 100ms'], users=4,
        env={"HARNESS_THINK_TIME_S": "0.1,0.2"},
    )
    with fault(testbed, "latency:dist=fixed,ms=150,mode=total"):
        outcome, _ = await run(tmp_path, spec, testbed)
    assert outcome.status is Status.FAIL
    p95 = next(c for c in outcome.criteria if c.name == "p95 < 100ms")
    assert p95.status is Status.FAIL
    assert isinstance(p95.observed, float) and 150.0 <= p95.observed <= 150.0 * 1.05
    assert 150.0 <= outcome.metrics["overall"]["p50_ms"] <= 150.0 * 1.02
    info = next(c for c in outcome.criteria if "model-info" in c.name)
    assert info.status is Status.FAIL
    assert isinstance(info.observed, float) and 150.0 <= info.observed <= 150.0 * 1.02
    fastest = outcome.metrics["overall"]["min_ms"]
    assert 150.0 <= fastest < 150.0 * 1.02
    error_rate = next(c for c in outcome.criteria if c.name.startswith("error_rate"))
    assert error_rate.status is Status.PASS


async def test_error_fault_fails_the_error_rate(tmp_path: Path, testbed: dict[str, Any]) -> None:
    with fault(testbed, "errors:rate=0.05"):
        outcome, _ = await run(tmp_path, inference(CRITERIA), testbed)
    error_rate = next(c for c in outcome.criteria if c.name.startswith("error_rate"))
    assert error_rate.status is Status.FAIL
    assert isinstance(error_rate.observed, float) and 0.02 < error_rate.observed < 0.09
    assert outcome.status is Status.FAIL


async def test_abort_ends_a_five_minute_run_within_seconds(
    tmp_path: Path, testbed: dict[str, Any]
) -> None:
    spec = inference(
        [{"expr": "error_rate < 1%", "abort": True}, "p95 < 100ms"], duration="5m",
        env={"HARNESS_THINK_TIME_S": "0"},
    )
    started = time.monotonic()
    with fault(testbed, "errors:rate=0.5"):
        outcome, events = await run(tmp_path, spec, testbed)
    took_s = time.monotonic() - started
    assert took_s < 15, took_s
    assert outcome.status is Status.FAIL
    aborting = outcome.criteria[0]
    assert aborting.status is Status.FAIL and aborting.at_s is not None
    assert "aborted the run" in aborting.reason and isinstance(aborting.observed, float)
    assert aborting.observed > 0.3
    breach = next(e for e in events if isinstance(e, CriterionBreached))
    assert breach.aborting
    ended = max(e.at for e in events)
    assert ended - breach.at < 2.0 + 1.0  # stop within 2 s (+1 s reading the artifacts)


async def test_locust_side_import_error_is_an_error_naming_it(
    tmp_path: Path, testbed: dict[str, Any]
) -> None:
    locustfile = tmp_path / "broken.py"
    locustfile.write_text(
        "import not_a_module_anywhere\nfrom locust import HttpUser\nclass U(HttpUser):\n    pass\n"
    )
    spec = inference(["p95 < 100ms"]).model_copy(
        update={"locustfile": str(locustfile), "user_classes": ["U"]}
    )
    outcome, _ = await run(tmp_path, spec, testbed)
    assert outcome.status is Status.ERROR
    assert "not_a_module_anywhere" in outcome.summary, outcome.summary


async def test_open_model_times_from_the_schedule_and_counts_unsent(
    tmp_path: Path, stand_in: Any
) -> None:
    server = stand_in("--stall-every", "3", "--stall", "1")
    spec = LoadStep.model_validate({
        "name": "open", "locustfile": "loadtests/inference_open.py",
        "user_classes": ["PredictArrivals"], "users": 1, "spawn_rate": 1, "duration": "6s",
        "processes": 1, "stop_timeout": "2s",
        "arrival_rate": {"rate": 100, "max_in_flight": 40},
        "criteria": ["p99 < 100ms", "unsent < 1"],
    })
    target = Target("external", server.url, server.url, server.url)
    ctx, _ = step_context(tmp_path, spec, target, deadline_s=60)
    async with asyncio.timeout(60):
        outcome = await STAGE.run(ctx)
    p99, unsent = outcome.criteria
    # a 1 s stall, timed from the intended start: p99 near the stall, not near 0
    assert p99.status is Status.FAIL and isinstance(p99.observed, float)
    assert p99.observed > 500.0
    # 100/s for 1 s with 40 allowed in flight: about 60 arrivals per stall not sent
    assert unsent.status is Status.FAIL and isinstance(unsent.observed, float)
    assert unsent.observed >= 30
    assert outcome.metrics["open_model"]["unsent"] == unsent.observed
    locust = json.loads((ctx.artifact_dir / "locust.json").read_text())
    assert sum(e["num_requests"] for e in locust) > 300


async def test_pipelines_report_completion_and_durations(
    tmp_path: Path, testbed: dict[str, Any]
) -> None:
    spec = LoadStep.model_validate({
        "name": "pipelines", "locustfile": "loadtests/pipeline_execution.py",
        "service": "orchestrator", "users": 5, "spawn_rate": 5, "duration": "6s",
        "processes": 1, "stop_timeout": "5s",
        "env": {"HARNESS_PIPELINE_POLL_S": "0.2"},
        "criteria": ["completion_rate >= 99%", "pipeline_p95 < 30s", "error_rate < 1%"],
    })
    outcome, _ = await run(tmp_path, spec, testbed)
    assert outcome.status is Status.PASS, outcome
    completion, pipeline_p95, _ = outcome.criteria
    assert completion.observed == 1.0 and completion.unit == "ratio"
    assert isinstance(pipeline_p95.observed, float) and 0.0 < pipeline_p95.observed < 30.0
    assert pipeline_p95.unit == "s"
    assert outcome.metrics["endpoints"]["PIPELINE run"]["requests"] >= 5


async def test_registry_traffic_with_manifest_tokens(
    tmp_path: Path, testbed: dict[str, Any]
) -> None:
    spec = LoadStep.model_validate({
        "name": "registry", "locustfile": "loadtests/registry.py", "service": "registry",
        "users": 4, "spawn_rate": 4, "duration": "5s", "processes": 2, "stop_timeout": "1s",
        "env": {"HARNESS_THINK_TIME_S": "0.05,0.1"},
        "criteria": ["error_rate < 1%", 'p95{name="GET /models/[id]"} < 500ms'],
    })
    outcome, _ = await run(tmp_path, spec, testbed)
    assert outcome.status is Status.PASS, outcome
    endpoints = outcome.metrics["endpoints"]
    assert {"POST /models/register", "GET /models/[id]", "GET /models/[id]/versions"} <= set(
        endpoints
    )
    reads = endpoints["GET /models/[id]"]["requests"] + endpoints["GET /models/[id]/versions"][
        "requests"
    ]
    assert reads > 3 * endpoints["POST /models/register"]["requests"]
    # two worker processes, merged by the master: every request Locust counted is there
    assert outcome.metrics["overall"]["requests"] == outcome.metrics["locust_requests"]


async def test_remote_worker_downloads_the_plugin_and_reports(
    tmp_path: Path, stand_in: Any
) -> None:
    """Master here, a worker started on its own (`locust -f - --worker`): it fetches the
    locustfile and the plugin from the master and its requests reach the verdict."""
    import subprocess
    import sys

    from tests.load.conftest import free_port, wait_port

    server = stand_in()
    port = free_port()
    spec = LoadStep.model_validate({
        "name": "remote", "locustfile": "loadtests/inference.py", "users": 2,
        "spawn_rate": 2, "duration": "4s", "stop_timeout": "1s",
        "workers": {"expect": 1, "bind_host": "127.0.0.1", "bind_port": port, "max_wait": "20s"},
        "env": {"HARNESS_THINK_TIME_S": "0.1"}, "criteria": ["error_rate < 1%"],
    })
    ctx, _ = step_context(tmp_path, spec, Target("external", server.url, server.url, server.url))
    async with asyncio.timeout(60):
        step = asyncio.create_task(STAGE.run(ctx))
        await asyncio.to_thread(wait_port, port, 20.0)
        locust = str(Path(sys.executable).parent / "locust")
        # The worker writes the files it downloads into its temp dir by their names: its own
        # TMPDIR keeps them out of the machine's /tmp (and apart from other workers').
        worker_tmp = tmp_path / "worker-tmp"
        worker_tmp.mkdir()
        shared_tmp = {name: _stat(Path(tempfile.gettempdir()) / name) for name in DOWNLOADED}
        worker = await asyncio.create_subprocess_exec(
            locust, "-f", "-", "--worker", "--master-host", "127.0.0.1",
            "--master-port", str(port), cwd=tmp_path,
            env={**os.environ, "TMPDIR": str(worker_tmp)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            outcome = await step
        finally:
            if worker.returncode is None:
                try:
                    await asyncio.wait_for(worker.wait(), 10)
                except TimeoutError:
                    worker.kill()
                    await worker.wait()
    assert outcome.status is Status.PASS, outcome
    assert outcome.metrics["overall"]["requests"] == outcome.metrics["locust_requests"] > 0
    assert {p.name for p in worker_tmp.rglob("*.py")} >= set(DOWNLOADED)
    assert {n: _stat(Path(tempfile.gettempdir()) / n) for n in DOWNLOADED} == shared_tmp


DOWNLOADED = ("inference.py", "plugin.py")


def _stat(path: Path) -> tuple[int, int] | None:
    """(inode, mtime) of a file in the shared temp dir, None when it is not there."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns
