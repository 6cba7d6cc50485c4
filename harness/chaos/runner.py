"""Run one chaos step: ``chaos run`` as a child process, its progress tailed live into phase
marks and events, its journal judged, every fault it left reverted from the ledger.

The orchestrator never imports chaoslib: the experiment is checked as data
(:mod:`harness.chaos.experiment`), run by the ``chaos`` executable (``HARNESS_CHAOS_BIN`` or
the venv's), and judged from the journal file (:mod:`harness.chaos.journal`), never from the
exit code.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.chaos.answers import (
    AnswerFigures,
    answer_figures,
    judge_answers,
    read_fault_events,
    read_watch,
)
from harness.chaos.experiment import (
    LOCAL_DRIVER,
    Experiment,
    ExperimentError,
    ExperimentProblem,
    check_blast_radius,
    check_structure,
    load_experiment,
)
from harness.chaos.journal import judge_journal
from harness.chaos.kube.scope import (
    NAMESPACE_ENV,
    KubeScope,
    ScopeError,
    child_env,
    resolve_scope,
    write_child_kubeconfig,
)
from harness.chaos.ledger import FaultRecord, read_records
from harness.chaos.local_pods import LOCAL_PROCESSES_ENV, LocalProcesses
from harness.chaos.phases import PhaseTracker
from harness.chaos.plan import describe_plan
from harness.chaos.recovery import Reverted, revert_record
from harness.chaos.spec import ChaosStep
from harness.chaos.stream import EVENTS_ENV, StreamReader
from harness.events import FaultReverted, PhaseChanged, StepProgressed
from harness.outcome import CriterionResult, StepOutcome, error_outcome
from harness.paths import state_dir
from harness.process import Finished, spawned, terminate, venv_bin
from harness.runner import StepContext
from harness.status import Status, worst

CONTROL_MODULE = "harness.chaos.control"
PROCESS_DRIVER = "harness.chaos.driver.processes"
POLL_S = 0.1
RUNNER_REPLICA_WAIT_S = 3.0
MIN_BUDGET_S = 5.0
ANSWERS_FILE = "answers.jsonl"  # = harness.chaos.driver.answers.ANSWERS_FILE (no testbed import)


def chaos_bin() -> str:
    return os.environ.get("HARNESS_CHAOS_BIN") or venv_bin("chaos")


@dataclass(frozen=True)
class RunFiles:
    experiment: Path
    settings: Path
    journal: Path
    events: Path
    log: Path
    stdout: Path
    stderr: Path
    answers: Path | None = None  # the driver's watched answers (beside the event stream)
    kubeconfig: Path | None = None  # the child's single-context kubeconfig (work dir)

    @classmethod
    def under(cls, work_dir: Path, artifact_dir: Path, *, kube: bool = False) -> RunFiles:
        return cls(
            kubeconfig=work_dir / "kubeconfig" if kube else None,
            experiment=artifact_dir / "experiment.json",
            settings=work_dir / "settings.yaml",
            journal=artifact_dir / "journal.json",
            events=artifact_dir / "events.jsonl",
            log=artifact_dir / "chaostoolkit.log",
            stdout=artifact_dir / "chaos.stdout.log",
            stderr=artifact_dir / "chaos.stderr.log",
            answers=artifact_dir / ANSWERS_FILE,
        )

    def artifacts(self) -> tuple[Path, ...]:
        candidates = (
            self.experiment,
            self.journal,
            self.events,
            self.log,
            self.stdout,
            self.stderr,
            self.answers,
        )
        return tuple(p for p in candidates if p is not None and p.exists())


def problem_text(experiment: Experiment, problem: ExperimentProblem) -> str:
    where = f"{experiment.path}:{problem.line}" if problem.line else str(experiment.path)
    return f"{where}: {problem.field}: {problem.message}"


def with_control(data: Mapping[str, Any], events_path: Path) -> dict[str, Any]:
    """A copy of the experiment with the streaming control added to its ``controls``."""
    copy = dict(data)
    controls = [c for c in copy.get("controls") or [] if isinstance(c, dict)]
    controls.append(
        {
            "name": "harness-stream",
            "provider": {
                "type": "python",
                "module": CONTROL_MODULE,
                "arguments": {"events_path": str(events_path)},
            },
        }
    )
    copy["controls"] = controls
    return copy


def chaos_env(ctx: StepContext, files: RunFiles, run_tag: str) -> dict[str, str]:
    """The child's environment; for a Kubernetes experiment, a kubeconfig holding only the
    suite's context (written to the work dir) and the suite's namespace."""
    env = dict(os.environ)
    project_root = str(Path(__file__).resolve().parents[2])
    paths = [project_root, str(ctx.base_dir)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env[EVENTS_ENV] = str(files.events)
    env["HARNESS_RUN_ID"] = run_tag
    env["HARNESS_STATE_DIR"] = str(state_dir())
    env["PYTHONUNBUFFERED"] = "1"
    if ctx.target.manifest_path is not None:
        env["TESTBED_MANIFEST"] = str(ctx.target.manifest_path)
    if ctx.target.local_processes:
        # In the state dir, not the report: `harness recover` reads it after a killed run.
        path = state_dir() / "local-processes" / f"{run_tag}.json"
        services = {name: s.url for name, s in ctx.target.all_services().items()}
        LocalProcesses(ctx.target.local_processes, services).write(path)
        env[LOCAL_PROCESSES_ENV] = str(path)
    if files.kubeconfig is not None:
        scope = resolve_scope(ctx.target.kubernetes)
        env = child_env(env, scope, write_child_kubeconfig(scope, files.kubeconfig))
    return env


def run_argv(files: RunFiles) -> list[str]:
    return [
        chaos_bin(),
        "--no-version-check",
        "--log-file",
        str(files.log),
        "--settings",
        str(files.settings),
        "run",
        "--rollback-strategy",
        "always",
        "--journal-path",
        str(files.journal),
        str(files.experiment),
    ]


def own_leftovers(run_tag: str) -> list[FaultRecord]:
    return [
        entry
        for _, entry in read_records()
        if isinstance(entry, FaultRecord) and entry.run_id == run_tag
    ]


def revert_leftovers(run_tag: str) -> list[tuple[FaultRecord, Reverted]]:
    """Revert what this step's ``chaos run`` left in the ledger (its rollbacks did not)."""
    return [
        (record, revert_record(record, replica_wait_s=RUNNER_REPLICA_WAIT_S))
        for record in own_leftovers(run_tag)
    ]


def leftover_rows(leftovers: list[tuple[FaultRecord, Reverted]]) -> list[CriterionResult]:
    rows: list[CriterionResult] = []
    for record, result in leftovers:
        if record.kind == "pod-kill":
            if result.ok:
                continue  # nothing to undo, and the replicas are back
            status, reason = Status.FAIL, f"killed pod not replaced: {result.detail}"
        elif result.ok:
            status = Status.ERROR
            reason = f"left in place by chaos rollbacks; reverted by the runner ({result.detail})"
        else:
            status = Status.ERROR
            reason = f"NOT reverted ({result.detail}): run `harness recover`"
        rows.append(
            CriterionResult(
                name=f"fault reverted: {record.kind} {record.target}",
                status=status,
                observed="reverted" if result.ok else "left",
                threshold="reverted by rollbacks",
                reason=reason,
            )
        )
    if not rows:
        rows.append(
            CriterionResult(
                name="fault ledger clean after rollbacks",
                status=Status.PASS,
                observed=0,
                threshold=0,
            )
        )
    return rows


async def _tail(reader: StreamReader, tracker: PhaseTracker) -> None:
    while True:
        for event in reader.poll():
            tracker.feed(event)
        await asyncio.sleep(POLL_S)


def read_journal(path: Path) -> tuple[object | None, str]:
    try:
        return json.loads(path.read_text()), ""
    except FileNotFoundError:
        return None, "chaos wrote no journal"
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, f"journal {path.name} is not valid JSON ({exc})"


async def run_chaos(ctx: StepContext) -> StepOutcome:
    spec = ctx.spec
    assert isinstance(spec, ChaosStep)
    started_at = time.time()
    ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    path = Path(spec.experiment)
    path = path if path.is_absolute() else ctx.base_dir / path
    try:
        experiment = load_experiment(path)
    except ExperimentError as exc:
        return error_outcome(spec.name, "chaos", str(exc), started_at=started_at)
    scope: KubeScope | None = None
    if experiment.uses_kubernetes:
        try:
            scope = resolve_scope(ctx.target.kubernetes)
        except ScopeError as exc:
            return error_outcome(spec.name, "chaos", f"{path}: {exc}", started_at=started_at)
    problems = check_structure(experiment) + blast_radius(ctx, experiment, scope)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        reason = f"refused before injecting anything: {problem_text(experiment, problems[0])}{more}"
        return error_outcome(spec.name, "chaos", reason, started_at=started_at)
    undeclared = undeclared_groups(experiment, {g.name for g in ctx.target.local_processes})
    if undeclared:
        return error_outcome(spec.name, "chaos", f"{path}: {undeclared}", started_at=started_at)
    if needs_testbed(experiment) and ctx.target.manifest_path is None:
        return error_outcome(
            spec.name,
            "chaos",
            f"{path}: the local fault driver needs the local testbed (no manifest on this target)",
            started_at=started_at,
        )
    if spec.dry_run or ctx.dry_run:
        return dry_run_outcome(ctx, spec, experiment, started_at)
    return await _run(ctx, spec, experiment, started_at)


def needs_testbed(experiment: Experiment) -> bool:
    """Whether the experiment uses the testbed driver (the process-group driver acts on
    the suite's ``target.local_processes`` instead, on any target)."""
    modules = {
        str(a.get("provider", {}).get("module", ""))
        for _, a in experiment.activities()
        if isinstance(a.get("provider"), dict)
    }
    return any(m.startswith(LOCAL_DRIVER) and m != PROCESS_DRIVER for m in modules)


def undeclared_groups(experiment: Experiment, declared: set[str]) -> str:
    """'' when every process-group activity names a group of ``target.local_processes``."""
    for field, activity in experiment.activities():
        provider = activity.get("provider")
        if not isinstance(provider, dict) or provider.get("module") != PROCESS_DRIVER:
            continue
        arguments = provider.get("arguments")
        if not isinstance(arguments, dict) or "group" not in arguments:
            continue  # probes of services, and reverts of this run's own faults
        group = arguments["group"]
        if group not in declared:
            known = ", ".join(sorted(declared)) or "none"
            return (
                f"{field}: process group {group!r} is not declared in target.local_processes "
                f"(declared: {known}): refused before injecting anything"
            )
    return ""


def blast_radius(
    ctx: StepContext, experiment: Experiment, scope: KubeScope | None
) -> list[ExperimentProblem]:
    """The allowlist with the target known: namespaces, actions, external targets, and
    ``${ns}`` resolved as the child will see it (``K8S_NAMESPACE`` from the target)."""
    kube = ctx.target.kubernetes
    if scope is None or kube is None:
        return check_blast_radius(experiment, allowed_namespaces=("default",))
    return check_blast_radius(
        experiment,
        allowed_namespaces=scope.allowed_namespaces,
        allowed_contexts=kube.allowed_contexts,
        context=scope.context,
        allowed_actions=kube.allowed_actions,
        external_targets=kube.allowed_external_targets,
        env={**os.environ, NAMESPACE_ENV: scope.namespace},
    )


def dry_run_outcome(
    ctx: StepContext, spec: ChaosStep, experiment: Experiment, started_at: float
) -> StepOutcome:
    lines = describe_plan(experiment, ctx.target)
    plan_path = ctx.artifact_dir / "dry-run.txt"
    plan_path.write_text("\n".join(lines) + "\n")
    for line in lines:
        ctx.emit(StepProgressed(spec.name, f"dry run: {line}"))
    reason = "dry run: nothing injected; " + "; ".join(lines)
    return StepOutcome(
        name=spec.name,
        kind="chaos",
        status=Status.SKIPPED,
        summary=reason if len(reason) < 300 else reason[:297] + "...",
        criteria=(CriterionResult(name="dry run", status=Status.SKIPPED, reason=reason),),
        metrics={"dry_run": True, "plan": lines},
        artifacts=(plan_path,),
        started_at=started_at,
        finished_at=time.time(),
    )


async def _run(
    ctx: StepContext, spec: ChaosStep, experiment: Experiment, started_at: float
) -> StepOutcome:
    files = RunFiles.under(ctx.work_dir, ctx.artifact_dir, kube=experiment.uses_kubernetes)
    files.experiment.write_text(json.dumps(with_control(experiment.data, files.events), indent=2))
    files.settings.write_text("runtime:\n  rollbacks:\n    strategy: always\n")
    files.events.write_text("")
    if files.answers is not None:
        files.answers.unlink(missing_ok=True)
    run_tag = f"{ctx.run_id}/{spec.name}"
    tracker = PhaseTracker(spec.name, ctx.emit)
    baseline_at = time.time()
    ctx.emit(PhaseChanged(spec.name, "baseline", "chaos step started", at=baseline_at))
    if spec.delay > 0:
        ctx.emit(StepProgressed(spec.name, f"waiting {spec.delay:g}s for a baseline"))
        await asyncio.sleep(spec.delay)
    budget_s = max(MIN_BUDGET_S, ctx.deadline_s - spec.delay - spec.rollback_grace - 5.0)
    reader = StreamReader(files.events)
    returncode: int | None = None
    timed_out = False
    leftovers: list[tuple[FaultRecord, Reverted]] = []
    argv = run_argv(files)
    spawn_error = ""
    try:
        async with spawned(
            argv,
            cwd=ctx.work_dir,
            stdout_path=files.stdout,
            stderr_path=files.stderr,
            env=chaos_env(ctx, files, run_tag),
            grace_s=spec.rollback_grace,
        ) as proc:
            tail = asyncio.create_task(_tail(reader, tracker))
            try:
                returncode = await asyncio.wait_for(proc.wait(), budget_s)
            except TimeoutError:
                timed_out = True
                ctx.emit(StepProgressed(spec.name, f"timed out after {budget_s:.0f}s: SIGTERM"))
                await terminate(proc, spec.rollback_grace)
                returncode = proc.returncode
            finally:
                tail.cancel()
                await asyncio.gather(tail, return_exceptions=True)
    except OSError as exc:
        spawn_error = f"cannot start {argv[0]}: {exc.strerror or exc}"
    finally:
        # Every path (end, time-out, cancellation): drain the stream, revert what is left.
        for event in reader.poll():
            tracker.feed(event)
        leftovers = await asyncio.shield(asyncio.to_thread(revert_leftovers, run_tag))
        for record, result in leftovers:
            ctx.emit(FaultReverted(spec.name, record.kind, record.target, result.ok, result.detail))
    if spawn_error:
        return error_outcome(spec.name, "chaos", spawn_error, started_at=started_at)
    finished = Finished(returncode or 0, timed_out, files.stdout, files.stderr)
    return judge_run(spec, files, tracker, leftovers, finished, experiment, started_at)


def watched_figures(files: RunFiles) -> AnswerFigures | None:
    """What the experiment's answer watcher saw (None: it had none)."""
    watch = read_watch(files.answers) if files.answers is not None else None
    if watch is None:
        return None
    kills, rollout = read_fault_events(files.events)
    return answer_figures(watch, kills, rollout)


def judge_run(
    spec: ChaosStep,
    files: RunFiles,
    tracker: PhaseTracker,
    leftovers: list[tuple[FaultRecord, Reverted]],
    finished: Finished,
    experiment: Experiment,
    started_at: float,
) -> StepOutcome:
    """The step's outcome from the journal, the run's own checks and the leftovers."""
    journal, problem = read_journal(files.journal)
    rows, metrics, summary = _journal_rows(journal, problem, finished)
    for row, clause in _run_checks(finished, experiment, tracker, journal is not None):
        rows.append(row)
        summary = f"{clause}; {summary}"
    rows.extend(leftover_rows(leftovers))
    metrics.update(asdict(tracker.figures()))
    watched = watched_figures(files)
    if watched is not None:
        metrics["answers"] = watched.to_json()
    rows.extend(judge_answers(spec.criteria, watched))
    status = worst(r.status for r in rows)
    if status is Status.SKIPPED:
        status = Status.ERROR
    return StepOutcome(
        name=spec.name,
        kind="chaos",
        status=status,
        summary=_with_first_reason(summary, rows, status),
        criteria=tuple(rows),
        metrics=metrics,
        artifacts=files.artifacts(),
        started_at=started_at,
        finished_at=time.time(),
    )


def _journal_rows(
    journal: object | None, problem: str, finished: Finished
) -> tuple[list[CriterionResult], dict[str, Any], str]:
    """Rows, metrics and summary from the journal (an ERROR row when there is none)."""
    metrics: dict[str, Any] = {"chaos_returncode": finished.returncode}
    if journal is None:
        tail = finished.tail(3).replace("\n", " | ")
        reason = f"{problem} (chaos exit code {finished.returncode})" + (
            f": {tail}" if tail else ""
        )
        row = CriterionResult(name="experiment", status=Status.ERROR, reason=reason)
        return [row], metrics, reason
    judgement = judge_journal(journal)
    if judgement.metrics is not None:
        metrics.update(asdict(judgement.metrics))
    return list(judgement.criteria), metrics, judgement.summary


def _run_checks(
    finished: Finished, experiment: Experiment, tracker: PhaseTracker, journaled: bool
) -> list[tuple[CriterionResult, str]]:
    """What the run itself shows beside the journal: (row, summary clause) each."""
    checks: list[tuple[CriterionResult, str]] = []
    if finished.timed_out:
        reason = "timed out: chaos was stopped (SIGTERM) and its rollbacks given the grace"
        row = CriterionResult("experiment finished in time", Status.ERROR, reason=reason)
        checks.append((row, "timed out"))
    if experiment.reports_injection and not tracker.injected and journaled:
        row = CriterionResult(
            name="fault injected",
            status=Status.ERROR,
            observed=0,
            threshold=">= 1",
            reason="the fault driver never reported a fault in place: nothing was tested",
        )
        checks.append((row, "no fault was injected"))
    return checks


def _with_first_reason(summary: str, rows: list[CriterionResult], status: Status) -> str:
    if status is Status.PASS:
        return summary
    first_bad = next((r for r in rows if r.status is status and r.reason), None)
    if first_bad is not None and first_bad.reason not in summary:
        return f"{summary} [{first_bad.name}: {first_bad.reason}]"
    return summary
