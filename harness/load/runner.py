"""Run one load step: locust as a subprocess (master + workers) with the harness
plugin, judged live from the interval stream and at the end.

Never imports locust or gevent. Every path reaps the locust process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.criteria import Criterion
from harness.events import CriterionBreached, IntervalMeasured, StepProgressed
from harness.load import histogram
from harness.load.answers import answer_point, version_json
from harness.load.attribution import warmup_seconds
from harness.load.command import (
    RAN_CODES,
    build_argv,
    build_env,
    explain_exit,
    service_url,
)
from harness.load.inspection import inspect_locustfile, unknown_classes
from harness.load.interval import PIPELINE_TYPE, Interval
from harness.load.judge import Breach, CpuSample, Judge, judge_phases, phase_figures, phase_of
from harness.load.resources import (
    CpuSampler,
    ResourceError,
    manifest_pids,
    query_prometheus_cpu,
)
from harness.load.spec import LoadStep
from harness.load.stream import IntervalStream
from harness.load.tally import Tally, reasons_text
from harness.outcome import CriterionResult, PhaseMark, StepOutcome, error_outcome, judged
from harness.process import spawned, terminate
from harness.prometheus.criterion import PromqlCriterion
from harness.prometheus.judge import Window, judge_promql_criteria
from harness.runner import StepContext
from harness.status import Status

STARTUP_S = 30.0  # locust start-up and shutdown beyond -t and --stop-timeout
CLOSE_MARGIN_S = 5.0
"""Beyond duration + stop timeout, before a second with requests still in flight is
closed by timeout (the plugin's shipping, the master waiting for its workers)."""
POLL_S = 0.2
ABORT_GRACE_S = 3.0
REACH_TIMEOUT_S = 3.0


@dataclass
class _Run:
    """What one locust run left behind."""

    returncode: int | None = None
    timed_out: bool = False
    aborted_by: Breach | None = None
    started_at: float = 0.0
    ended_at: float = 0.0


@dataclass(frozen=True)
class _Files:
    interval: Path
    json_prefix: Path
    stdout: Path
    stderr: Path

    @property
    def json(self) -> Path:
        return self.json_prefix.with_name("locust.json")

    def present(self) -> list[Path]:
        return [p for p in (self.json, self.interval, self.stdout, self.stderr) if p.exists()]


@dataclass(frozen=True)
class _Prepared:
    """Everything a load step needs before locust starts."""

    spec: LoadStep
    criteria: list[Criterion]
    promql: list[PromqlCriterion]
    host: str
    files: _Files
    argv: list[str]
    env: dict[str, str]
    bound_s: float
    started: float

    def error(self, reason: str, **extra: Any) -> StepOutcome:
        return error_outcome(
            self.spec.name, "load", reason, started_at=self.started, finished_at=time.time(),
            **extra,
        )


async def run_load(ctx: StepContext) -> StepOutcome:
    """prepare → drive → judge."""
    prepared = await _prepare(ctx)
    if isinstance(prepared, StepOutcome):
        return prepared
    spec = prepared.spec
    judge = Judge(
        prepared.criteria, spec.duration, _planned_rps(spec), settle_s=_settle_s(spec),
        expected_version=spec.model_version.expected if spec.model_version else None,
        close_bound_s=spec.duration + spec.stop_timeout + CLOSE_MARGIN_S,
    )
    stream = IntervalStream(prepared.files.interval)
    sampler = _sampler(ctx, prepared.criteria)
    run = _Run(started_at=time.time())
    ctx.emit(StepProgressed(spec.name, f"locust: {spec.users} users against {prepared.host}"))
    sampling = asyncio.create_task(sampler.run()) if sampler is not None else None
    try:
        await _drive(ctx, prepared, stream, judge, run)
    except (FileNotFoundError, PermissionError) as exc:
        return prepared.error(f"cannot start locust ({prepared.argv[0]}): {exc.strerror or exc}")
    finally:
        if sampling is not None:
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
    run.ended_at = time.time()
    _consume(ctx, spec, stream, judge, live=False)
    judge.close_all()  # what was still in flight at the stop timeout is counted unfinished
    return await _judge(ctx, prepared, stream, judge, sampler, run)


async def _prepare(ctx: StepContext) -> _Prepared | StepOutcome:
    """Check the step, the locustfile and the target; lay out the files; build argv."""
    spec = ctx.spec
    started = time.time()
    if not isinstance(spec, LoadStep):
        return error_outcome("load", "load", f"not a load step: {type(spec).__name__}")

    def error(reason: str) -> StepOutcome:
        return error_outcome(spec.name, "load", reason, started_at=started, finished_at=time.time())

    criteria = [c for c in spec.criteria if isinstance(c, Criterion)]
    promql = [c for c in spec.criteria if isinstance(c, PromqlCriterion)]
    locustfile = (ctx.base_dir / spec.locustfile).resolve()
    facts = inspect_locustfile(locustfile)
    if facts.problem:
        return error(facts.problem)
    missing = unknown_classes(facts, spec.user_classes)
    if missing:
        known = ", ".join(sorted(facts.classes)) or "none"
        return error(f"unknown user class {', '.join(missing)} in {locustfile} (defined: {known})")
    host = service_url(ctx.target, spec.service)
    if not host:
        return error(f"the target has no service {spec.service!r}")
    unreachable = await _unreachable(host)
    if unreachable:
        return error(f"target {spec.service} at {host} is unreachable: {unreachable}")
    files = _lay_out(ctx)
    return _Prepared(
        spec=spec, criteria=criteria, promql=promql, host=host, files=files,
        argv=build_argv(spec, locustfile, host, files.json_prefix),
        env=build_env(spec, ctx.target, files.interval),
        bound_s=_bound_s(ctx, spec), started=started,
    )


def _lay_out(ctx: StepContext) -> _Files:
    ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    files = _Files(
        interval=ctx.artifact_dir / "intervals.jsonl",
        json_prefix=ctx.artifact_dir / "locust",
        stdout=ctx.artifact_dir / "locust.stdout.log",
        stderr=ctx.artifact_dir / "locust.stderr.log",
    )
    files.interval.unlink(missing_ok=True)
    files.json.unlink(missing_ok=True)
    return files


def _bound_s(ctx: StepContext, spec: LoadStep) -> float:
    bound_s = spec.duration + spec.stop_timeout + STARTUP_S
    if spec.workers is not None:
        bound_s += spec.workers.max_wait
    return max(min(bound_s, ctx.deadline_s - ABORT_GRACE_S - 2.0), 1.0)


def _planned_rps(spec: LoadStep) -> float | None:
    if spec.arrival_rate is None:
        return None
    return max(spec.arrival_rate.rate, spec.arrival_rate.ramp_to or 0.0)


def _settle_s(spec: LoadStep) -> float:
    ramp_s = 0.0 if spec.arrival_rate is not None else spec.users / spec.spawn_rate
    return ramp_s + 2.0


async def _drive(
    ctx: StepContext, prepared: _Prepared, stream: IntervalStream, judge: Judge, run: _Run
) -> None:
    """Run locust to its end, its deadline or an abort; judge the stream live."""
    spec, files = prepared.spec, prepared.files
    async with spawned(
        prepared.argv, cwd=ctx.work_dir, stdout_path=files.stdout, stderr_path=files.stderr,
        env=prepared.env, grace_s=ABORT_GRACE_S,
    ) as proc:
        deadline = time.monotonic() + prepared.bound_s
        while proc.returncode is None:
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), POLL_S)
            except TimeoutError:
                pass
            breach = _consume(ctx, spec, stream, judge)
            if breach is not None and run.aborted_by is None:
                run.aborted_by = breach
                ctx.emit(StepProgressed(spec.name, f"aborting: {breach.criterion.name}"))
                await terminate(proc, ABORT_GRACE_S)
                break
            if time.monotonic() > deadline:
                run.timed_out = True
                await terminate(proc, ABORT_GRACE_S)
                break
        run.returncode = proc.returncode


def _ran_problem(prepared: _Prepared, stream: IntervalStream, run: _Run) -> str:
    """Why the run is no evidence at all ('' when it is)."""
    files = prepared.files
    stderr_text = files.stderr.read_text(errors="replace") if files.stderr.exists() else ""
    if run.timed_out:
        return f"locust did not finish within {prepared.bound_s:.0f} s and was killed"
    if run.aborted_by is None and run.returncode not in RAN_CODES:
        return explain_exit(run.returncode or 0, stderr_text)
    _, json_problem = _read_locust_json(files.json)
    if json_problem and run.aborted_by is None:
        return json_problem
    if stream.errors:
        return f"interval stream unreadable: {stream.errors[0]}"
    if not stream.started:
        return "the harness plugin wrote no interval stream (was it loaded by locust?)"
    return ""


async def _judge(
    ctx: StepContext,
    prepared: _Prepared,
    stream: IntervalStream,
    judge: Judge,
    sampler: CpuSampler | None,
    run: _Run,
) -> StepOutcome:
    """The outcome: an error when the run is no evidence, else the criteria judged."""
    spec, criteria = prepared.spec, prepared.criteria
    artifacts = prepared.files.present()
    problem = _ran_problem(prepared, stream, run)
    if problem:
        return prepared.error(problem, artifacts=tuple(artifacts))
    total = judge.total
    pipelines = sum(e.count for e in total.endpoints.values() if e.request_type == PIPELINE_TYPE)
    if total.requests + pipelines == 0:
        locust_totals, _ = _read_locust_json(prepared.files.json)
        return prepared.error(
            f"no requests were made (locust counted {locust_totals})", artifacts=tuple(artifacts)
        )
    cpu, cpu_problem = await _cpu_samples(ctx, spec, criteria, sampler, run)
    span_s = total.active_span_s
    results = judge.conclude(span_s, cpu, run.aborted_by)
    if cpu_problem:
        results = [_cpu_error(r, cpu_problem) for r in results]
    window = Window(run.started_at, run.ended_at)
    results += await judge_promql_criteria(
        ctx.target.prometheus_url, [c for c in prepared.promql if c.phase is None], window
    )
    if not spec.criteria:
        results = [_requests_made(total)]
    series = [_point(judge, i, ctx.stage.phase_marks) for i in judge.intervals]
    series_path = ctx.artifact_dir / "series.json"
    series_path.write_text(json.dumps(series, indent=1))
    artifacts.append(series_path)
    outcome = StepOutcome(
        name=spec.name,
        kind="load",
        status=judged(results),
        summary=_summary(results, total, span_s, run.aborted_by),
        criteria=tuple(results),
        metrics=_metrics(prepared, judge, span_s, series, cpu, run),
        artifacts=tuple(artifacts),
        started_at=prepared.started,
        finished_at=time.time(),
    )
    phased_promql = [c for c in prepared.promql if c.phase is not None]
    phased = any(c.phase is not None or c.metric == "recovery_time" for c in criteria)
    if not phased and not phased_promql:
        return outcome
    # Phase criteria are judged against every phase the stage's other steps mark (chaos
    # beside this load may still be reverting): wait for them, within this step's budget.
    warmup_s = warmup_seconds(spec.users, spec.spawn_rate, spec.arrival_rate is not None)
    ctx.stage.hold(
        spec.name, _with_phases(outcome, criteria, judge, span_s, cpu, run, (), warmup_s=warmup_s)
    )
    left_s = ctx.deadline_s - (time.time() - prepared.started) - 2.0
    await ctx.stage.others_ended(spec.name, timeout_s=max(left_s, 0.0))
    marks = ctx.stage.phase_marks
    promql_rows = await judge_promql_criteria(
        ctx.target.prometheus_url, phased_promql, window, marks
    )
    return _with_phases(
        outcome, criteria, judge, span_s, cpu, run, marks, promql_rows, warmup_s=warmup_s
    )


def _with_phases(
    outcome: StepOutcome,
    criteria: Sequence[Criterion],
    judge: Judge,
    span_s: float,
    cpu: Sequence[CpuSample],
    run: _Run,
    marks: Sequence[PhaseMark],
    promql_rows: Sequence[CriterionResult] = (),
    warmup_s: int = 0,
) -> StepOutcome:
    """The outcome with the phase criteria and recovery_time judged against ``marks``
    (each phase: its seconds wholly sent in it, after the ``warmup_s`` of the ramp)."""
    intervals, expected = judge.closed_intervals, judge.expected_version
    phased = judge_phases(criteria, intervals, marks, cpu, expected, warmup_s)
    every = [*outcome.criteria, *phased, *promql_rows]
    series = [{**p, "phase": phase_of(p["second"], marks)} for p in outcome.metrics["series"]]
    return outcome.with_(
        criteria=tuple(every),
        status=judged(every),
        summary=_summary(every, judge.total, span_s, run.aborted_by),
        metrics={
            **outcome.metrics, "series": series,
            "phases": phase_figures(intervals, marks, expected, warmup_s),
        },
    )


def _requests_made(total: Tally) -> CriterionResult:
    return CriterionResult(
        name="requests > 0", status=Status.PASS, observed=float(total.requests),
        threshold=0.0, reason="no criteria given: only checked that requests were made",
    )


def _metrics(
    prepared: _Prepared,
    judge: Judge,
    span_s: float,
    series: list[dict[str, Any]],
    cpu: Sequence[CpuSample],
    run: _Run,
) -> dict[str, Any]:
    total = judge.total
    rows = total.summary(span_s)
    locust_totals, _ = _read_locust_json(prepared.files.json)
    open_model = prepared.spec.arrival_rate is not None or total.scheduled
    return {
        "overall": rows["overall"],
        "endpoints": {k: v for k, v in rows.items() if k != "overall"},
        "duration_s": span_s,
        "locust_requests": locust_totals,
        "unfinished": total.select({}).unfinished,
        "series": series,
        "open_model": {
            "scheduled": total.scheduled, "sent": total.sent, "finished": total.finished,
            "unfinished": total.unfinished_arrivals, "unsent": total.unsent,
        } if open_model else None,
        "cpu_utilisation_mean": sum(s.fraction for s in cpu) / len(cpu) if cpu else None,
        "aborted": _breach_json(run.aborted_by),
        "locust_ended_at": run.ended_at,
        "model_version": version_json(prepared.spec.model_version, judge.expected_version),
        "closing": judge.closing.summary(),
    }


def _consume(
    ctx: StepContext,
    spec: LoadStep,
    stream: IntervalStream,
    judge: Judge,
    live: bool = True,
) -> Breach | None:
    """Read new intervals; emit them; return an aborting decisive breach, if any.
    A late line (answers for a second already shown) is judged but not shown again.
    Live judgement reads provisional seconds; closing them (their requests all ended,
    or timed out) is noted as lines come and as time passes."""
    aborting = None
    now = time.time()
    for line in stream.read_new():
        if line.interval is None:
            continue
        interval = line.interval
        new = judge.observe(interval, now)
        if not interval.late:
            point = _point(judge, interval, ctx.stage.phase_marks)
            ctx.emit(
                IntervalMeasured(
                    step=spec.name,
                    elapsed_s=point["elapsed_s"],
                    requests=interval.requests,
                    failures=interval.failures,
                    rps=float(interval.requests),
                    p95_ms=point["p95_ms"],
                    p99_ms=point["p99_ms"],
                    phase=point["phase"],
                    open=interval.open,
                )
            )
        for breach in new:
            ctx.emit(
                CriterionBreached(
                    step=spec.name,
                    criterion=breach.criterion.name,
                    observed=breach.observed,
                    threshold=breach.criterion.threshold,
                    unit=breach.criterion.unit,
                    aborting=breach.criterion.abort and live,
                )
            )
            if breach.criterion.abort and aborting is None:
                aborting = breach
    judge.closing.advance(now)
    return aborting if live else None


def _point(judge: Judge, interval: Interval, marks: Sequence[PhaseMark]) -> dict[str, Any]:
    chosen = Tally([interval]).select({})
    hist = chosen.hist
    values = histogram.percentiles_ms(hist, (50.0, 95.0, 99.0))
    point: dict[str, Any] = {
        "second": interval.second,
        "elapsed_s": judge.elapsed_s(interval.second),
        "requests": interval.requests,
        "failures": interval.failures,
        "p50_ms": values.get(50.0),
        "p95_ms": values.get(95.0),
        "p99_ms": values.get(99.0),
        "max_ms": histogram.max_ms(hist),
        "unsent": interval.unsent,
        "unfinished": sum(e.unfinished for e in interval.endpoints.values()),
        "phase": phase_of(interval.second, marks),
        "open": interval.open,
    }
    closure = judge.closing.closures.get(interval.second)
    if closure is not None:
        point.update(closure.json())
    if chosen.answers:
        point.update(answer_point(chosen.answers))
    return point


async def _unreachable(url: str) -> str:
    """'' when something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    if not parts.hostname:
        return f"not a URL: {url!r}"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, port), REACH_TIMEOUT_S
        )
    except TimeoutError:
        return f"no answer within {REACH_TIMEOUT_S:g} s"
    except OSError as exc:
        return exc.strerror or str(exc)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ""


def _sampler(ctx: StepContext, criteria: Sequence[Criterion]) -> CpuSampler | None:
    if ctx.target.manifest_path is None:
        return None
    try:
        pids = manifest_pids(ctx.target.manifest_path)
    except ResourceError:
        return None
    return CpuSampler(pids) if pids else None


async def _cpu_samples(
    ctx: StepContext,
    spec: LoadStep,
    criteria: Sequence[Criterion],
    sampler: CpuSampler | None,
    run: _Run,
) -> tuple[list[CpuSample], str]:
    if sampler is not None and sampler.samples:
        return list(sampler.samples), ""
    wanted = any(c.metric == "cpu_utilisation" for c in criteria)
    if not wanted:
        return [], ""
    if ctx.target.prometheus_url and spec.cpu_query:
        try:
            samples = await query_prometheus_cpu(
                ctx.target.prometheus_url, spec.cpu_query, run.started_at, run.ended_at
            )
        except ResourceError as exc:
            return [], str(exc)
        return samples, ""
    return [], ""


def _cpu_error(result: CriterionResult, problem: str) -> CriterionResult:
    if not result.name.startswith("cpu_utilisation"):
        return result
    return CriterionResult(
        name=result.name, status=Status.ERROR, threshold=result.threshold, unit=result.unit,
        phase=result.phase, reason=problem,
    )


def _read_locust_json(path: Path) -> tuple[int | None, str]:
    """(total requests Locust counted, problem)."""
    if not path.exists():
        return None, f"locust wrote no JSON report ({path.name})"
    try:
        data = json.loads(path.read_text())
        return sum(int(entry["num_requests"]) for entry in data), ""
    except (ValueError, TypeError, KeyError) as exc:
        return None, f"locust JSON report {path.name} is unreadable: {exc!r}"


def _breach_json(breach: Breach | None) -> dict[str, Any] | None:
    if breach is None:
        return None
    return {
        "criterion": breach.criterion.name,
        "at_s": breach.at_s,
        "observed": breach.observed,
        "reason": breach.reason,
    }


def _summary(
    results: Sequence[CriterionResult], total: Tally, span_s: float, aborted: Breach | None
) -> str:
    overall = total.summary(span_s)["overall"]
    assert isinstance(overall, dict)
    figures = (
        f"{overall['requests']} requests, {overall['rps']} rps, "
        f"error rate {100 * (overall['error_rate'] or 0):.2f} %, "
        f"p95 {overall['p95_ms']} ms, p99 {overall['p99_ms']} ms"
    )
    top = total.select({}).top_reasons(3)
    if top:
        figures += f"; failures: {reasons_text(top)}"
    bad = [r for r in results if r.status in (Status.FAIL, Status.ERROR)]
    if aborted is not None:
        return f"aborted at {aborted.at_s:.1f} s by {aborted.criterion.name}; {figures}"
    if bad:
        first = bad[0]
        observed = first.observed if first.observed is not None else first.reason
        return f"{first.status.value}: {first.name} (observed {observed} {first.unit}); {figures}"
    return figures
