"""The contract stage: verify a provider against its consumers' pacts.

``STAGE.run`` selects the pacts (local directory, or fetched from a Pact Broker),
counts their interactions, writes a plan and runs
``python -m harness.contract.verifier`` in a child process with a hard deadline
(interpreter: ``$HARNESS_PACT_VERIFIER_PYTHON`` or ``sys.executable``). Every
interaction becomes a criterion; zero interactions, a count that does not add up, a
crashed, hung or garbled verifier are ERROR with the reason, never PASS.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.contract.broker import BrokerError
from harness.contract.broker_flow import (
    BrokerPacts,
    can_i_deploy,
    fetch_pacts,
    publish_aggregated,
    verdicts_by_key,
    verifier_publication,
)
from harness.contract.pactfile import (
    Interaction,
    PactFileError,
    PactSelection,
    Scope,
    select_pacts,
)
from harness.contract.plan import HEADERS_ENV, TOKENS_ENV, BrokerSource, VerifyPass, VerifyPlan
from harness.contract.provider import NoSuchService, provider_service, state_source
from harness.contract.results import Judgement, ResultsError, judge, read_results
from harness.contract.spec import BROKER_TOKEN_ENV, BROKER_URL_ENV, ContractStep
from harness.contract.state_sources import crash_sweeper
from harness.events import StepProgressed
from harness.outcome import CriterionResult, StepOutcome, error_outcome, judged
from harness.runner import Problem, StepContext
from harness.status import Status
from harness.step_child import child_pythonpath, child_timeout_s, run_child
from harness.target import Service, Target

VERIFIER_PYTHON_ENV = "HARNESS_PACT_VERIFIER_PYTHON"
_SCOPE_ORDER: dict[Scope | None, int] = {"read": 0, "write": 1, "admin": 2, None: 3}


def verifier_python() -> str:
    return os.environ.get(VERIFIER_PYTHON_ENV) or sys.executable


def provider_url(spec: ContractStep, target: Target) -> str:
    return provider_service(spec, target).url


def plan_passes(interactions: Sequence[Interaction]) -> tuple[VerifyPass, ...]:
    """One verifier pass per token scope (custom headers apply to every request of a
    pass, so 401/403 interactions that carry no or a literal token run apart)."""
    groups: dict[Scope | None, list[str]] = {}
    stateful: set[Scope | None] = set()
    for interaction in interactions:
        names = groups.setdefault(interaction.scope, [])
        if interaction.description not in names:
            names.append(interaction.description)
        if interaction.states:
            stateful.add(interaction.scope)
    return tuple(
        VerifyPass(scope, tuple(sorted(names)), scope in stateful)
        for scope, names in sorted(groups.items(), key=lambda kv: _SCOPE_ORDER[kv[0]])
    )


def run_prefix(run_id: str) -> str:
    """Names of models the provider states create: unique per run, easy to spot."""
    safe = re.sub(r"[^A-Za-z0-9]", "", run_id)[-12:] or "run"
    return f"harness-{safe}-{uuid.uuid4().hex[:6]}"


async def sweep_after_crash(
    plan: VerifyPlan,
    interactions: Sequence[Interaction],
    tokens: dict[str, str],
    headers: dict[str, str],
) -> str:
    """The child died before removing its test data: remove what its states would have
    created under the run's names (``<run prefix>-<name>``). A clause for the reason."""
    names = {str(s.params["name"]) for i in interactions for s in i.states if "name" in s.params}
    states = crash_sweeper(plan.state_source(), plan.run_prefix, names, tokens, headers)
    if states is None:
        return ""
    try:
        left = await asyncio.to_thread(states.remove_all)
    except Exception as exc:  # best effort; the reason says so
        return f"; test data may remain ({type(exc).__name__}: {exc})"
    return f"; test data may remain: {'; '.join(left[:3])}" if left else ""


class ContractStage:
    kind = "contract"
    step_model = ContractStep
    supports_dry_run = False

    def recover(self) -> list[str]:
        return []  # a verification changes nothing that outlives it

    def check(self, spec: object, base_dir: Path, suite_file: Path) -> list[Problem]:
        assert isinstance(spec, ContractStep)
        problems: list[Problem] = []
        if spec.broker.enabled:
            if not os.environ.get(BROKER_URL_ENV):
                problems.append(
                    Problem(
                        suite_file,
                        None,
                        f"{spec.name}.broker",
                        f"broker.enabled needs ${BROKER_URL_ENV} in the environment",
                    )
                )
            if spec.broker.publish_results and not spec.broker.provider_version:
                problems.append(
                    Problem(
                        suite_file,
                        None,
                        f"{spec.name}.broker.provider_version",
                        "publish_results needs a provider_version",
                    )
                )
            cid = spec.broker.can_i_deploy
            if cid.enabled and not (cid.version or spec.broker.provider_version):
                problems.append(
                    Problem(
                        suite_file,
                        None,
                        f"{spec.name}.broker.can_i_deploy.version",
                        "can_i_deploy needs a version (or broker.provider_version)",
                    )
                )
            return problems
        try:
            select_pacts(base_dir / spec.pacts, spec.provider, spec.consumers)
        except PactFileError as exc:
            problems.append(Problem(suite_file, None, f"{spec.name}.pacts", str(exc)))
        return problems

    async def run(self, ctx: StepContext) -> StepOutcome:
        """prepare (select the pacts, write the plan) -> verify (the child) -> judge."""
        spec = ctx.spec
        assert isinstance(spec, ContractStep)
        ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
        step = _Step(
            spec,
            started=time.time(),
            broker_url=os.environ.get(BROKER_URL_ENV, ""),
            broker_token=os.environ.get(BROKER_TOKEN_ENV) or None,
        )
        prepared = await _prepare(ctx, step)
        if isinstance(prepared, StepOutcome):
            return prepared
        failure = await _verify(ctx, step, prepared)
        if failure:
            return step.error(failure)
        return await _judge(step, prepared)


@dataclass
class _Step:
    """What one contract step has gathered so far (artifacts, criteria)."""

    spec: ContractStep
    started: float
    broker_url: str
    broker_token: str | None
    artifacts: list[Path] = field(default_factory=list)
    criteria: list[CriterionResult] = field(default_factory=list)

    def error(self, reason: str) -> StepOutcome:
        return error_outcome(
            self.spec.name,
            "contract",
            reason,
            criteria=tuple(self.criteria),
            artifacts=tuple(self.artifacts),
            started_at=self.started,
            finished_at=time.time(),
        )


@dataclass(frozen=True)
class _Prepared:
    service: Service
    selection: PactSelection
    broker_pacts: BrokerPacts | None
    plan: VerifyPlan
    publish_in_verifier: bool
    plan_path: Path
    results_path: Path
    stdout_path: Path
    stderr_path: Path


@dataclass(frozen=True)
class ContractMetrics:
    """The contract step's figures, as verdict.json carries them under ``metrics``."""

    interactions_expected: int
    interactions_verified: int
    interactions_failed: int
    consumers: list[str]
    verifier_passes_s: list[float]


async def _prepare(ctx: StepContext, step: _Step) -> _Prepared | StepOutcome:
    """The pacts (local directory or broker) copied into the report, and the plan."""
    spec = step.spec
    pact_dir = ctx.artifact_dir / "pacts"
    shutil.rmtree(pact_dir, ignore_errors=True)
    pact_dir.mkdir()
    broker_pacts: BrokerPacts | None = None
    try:
        if spec.broker.enabled:
            if not step.broker_url:
                return step.error(f"broker.enabled but ${BROKER_URL_ENV} is not set")
            broker_pacts = await fetch_pacts(spec, step.broker_url, step.broker_token, pact_dir)
            selection = broker_pacts.selection
        else:
            selection = select_pacts(ctx.base_dir / spec.pacts, spec.provider, spec.consumers)
            for pact in selection.files:
                shutil.copyfile(pact.path, pact_dir / pact.path.name)
    except (PactFileError, BrokerError) as exc:
        return step.error(str(exc))
    step.artifacts.extend(sorted(pact_dir.glob("*.json")))
    ctx.emit(
        StepProgressed(
            step=spec.name,
            message=f"verifying {len(selection.interactions)} interactions of {spec.provider} "
            f"for {', '.join(selection.consumers)}",
        )
    )
    try:
        service = provider_service(spec, ctx.target)
    except NoSuchService as exc:
        return step.error(str(exc))
    return _planned(ctx, step, service, selection, broker_pacts)


def _planned(
    ctx: StepContext,
    step: _Step,
    service: Service,
    selection: PactSelection,
    broker_pacts: BrokerPacts | None,
) -> _Prepared:
    spec = step.spec
    source = state_source(spec, service)
    passes = plan_passes(selection.interactions)
    # One pass: the verifier publishes its own results. Several: each pass would
    # publish a partial result, so the harness publishes one per pact afterwards.
    publish_in_verifier = spec.broker.publish_results and len(passes) == 1
    broker_source = None
    if spec.broker.enabled:
        broker_source = BrokerSource(
            url=step.broker_url,
            selectors=tuple(s.to_broker() for s in spec.broker.consumer_version_selectors),
            include_pending=spec.broker.include_pending,
            include_wip_since=spec.broker.include_wip_since,
            publish_version=spec.broker.provider_version if publish_in_verifier else None,
            publish_branch=spec.broker.provider_branch,
            provider_branch=spec.broker.provider_branch,
        )
    plan = VerifyPlan(
        provider=spec.provider,
        provider_url=service.url,
        passes=passes,
        pact_files=tuple(str(p.path.resolve()) for p in selection.files)
        if broker_source is None
        else (),
        consumers=tuple(spec.consumers),
        broker=broker_source,
        registry_url=service.url if source and source.kind == "testbed-registry" else None,
        states=source.to_json() if source else None,
        run_prefix=run_prefix(ctx.run_id),
        request_timeout_ms=int(spec.request_timeout * 1000),
    )
    plan_path = ctx.artifact_dir / "pact-plan.json"  # holds no secret
    plan.write(plan_path)
    step.artifacts.append(plan_path)
    results_path = ctx.artifact_dir / "pact-results.json"
    results_path.unlink(missing_ok=True)
    return _Prepared(
        service, selection, broker_pacts, plan, publish_in_verifier, plan_path, results_path,
        stdout_path=ctx.artifact_dir / "verifier.stdout.log",
        stderr_path=ctx.artifact_dir / "verifier.stderr.log",
    )  # fmt: skip


def _verifier_env(
    ctx: StepContext, step: _Step, prepared: _Prepared
) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """The child's environment (tokens and headers by variable, never in the plan), the
    secrets to mask in its output, and the tokens by scope."""
    tokens = ctx.target.tokens
    secrets = [*ctx.target.secrets(), *filter(None, [step.broker_token])]
    token_map = {"read": tokens.read, "write": tokens.write, "admin": tokens.admin}
    env = dict(os.environ)
    env.update(
        {
            "PACT_DO_NOT_TRACK": "true",
            TOKENS_ENV: json.dumps(token_map),
            HEADERS_ENV: json.dumps(dict(prepared.service.headers)),
            "PYTHONPATH": child_pythonpath(ctx.base_dir),
        }
    )
    if ctx.target.manifest_path is not None:
        env["TESTBED_MANIFEST"] = str(ctx.target.manifest_path)
    return env, secrets, token_map


async def _verify(ctx: StepContext, step: _Step, prepared: _Prepared) -> str:
    """Run the verifier child to its end or its deadline; '' when it wrote its results,
    else why not."""
    plan, interactions = prepared.plan, prepared.selection.interactions
    env, secrets, token_map = _verifier_env(ctx, step, prepared)
    headers = dict(prepared.service.headers)
    timeout_s = child_timeout_s(step.spec.timeout, ctx.deadline_s)
    argv = [verifier_python(), "-m", "harness.contract.verifier"]
    argv += [str(prepared.plan_path), str(prepared.results_path)]
    try:
        # The child masks secrets in its results itself (leaving pact descriptions
        # intact); the raw output streams are masked here.
        finished = await run_child(
            argv, cwd=ctx.work_dir, stdout_path=prepared.stdout_path,
            stderr_path=prepared.stderr_path, timeout_s=timeout_s, env=env, secrets=secrets,
            redact=(prepared.stdout_path, prepared.stderr_path),
        )  # fmt: skip
    except asyncio.CancelledError:
        # Cancelled (Ctrl-C, engine deadline): the child was reaped before it could
        # clean up; remove the run's test data, then let the cancellation go on.
        await asyncio.shield(sweep_after_crash(plan, interactions, token_map, headers))
        raise
    outputs = (prepared.results_path, prepared.stdout_path, prepared.stderr_path)
    step.artifacts += [p for p in outputs if p.exists()]
    if not finished.timed_out and finished.returncode == 0:
        return ""
    if finished.timed_out:
        reason = f"pact verifier did not finish within {timeout_s:.0f}s (killed)"
    else:
        tail = finished.tail(3).replace("\n", " | ")
        reason = f"pact verifier exited with code {finished.returncode}: {tail}"
    return reason + await sweep_after_crash(plan, interactions, token_map, headers)


async def _judge(step: _Step, prepared: _Prepared) -> StepOutcome:
    """One criterion per interaction, plus the broker's publication and can-i-deploy."""
    spec, interactions = step.spec, prepared.selection.interactions
    try:
        judgement = judge(interactions, read_results(prepared.results_path))
    except ResultsError as exc:
        return step.error(str(exc))
    step.criteria.extend(judgement.criteria)
    step.criteria.extend(await _broker_rows(step, prepared, judgement))
    metrics = asdict(
        ContractMetrics(
            interactions_expected=judgement.expected,
            interactions_verified=judgement.verified,
            interactions_failed=judgement.failed,
            consumers=list(prepared.selection.consumers),
            verifier_passes_s=list(judgement.durations_s),
        )
    )
    if judgement.error:
        return step.error(judgement.error).with_(metrics=metrics)
    status = judged(step.criteria)
    return StepOutcome(
        name=spec.name,
        kind="contract",
        status=status,
        summary=_summary(spec, judgement, step.criteria, status),
        criteria=tuple(step.criteria),
        metrics=metrics,
        artifacts=tuple(step.artifacts),
        started_at=step.started,
        finished_at=time.time(),
    )


async def _broker_rows(
    step: _Step, prepared: _Prepared, judgement: Judgement
) -> list[CriterionResult]:
    spec, broker_pacts = step.spec, prepared.broker_pacts
    rows: list[CriterionResult] = []
    if broker_pacts is None:
        return rows
    if spec.broker.publish_results and not judgement.error:
        if prepared.publish_in_verifier:
            rows.append(verifier_publication(prepared.stderr_path, prepared.stdout_path))
        else:
            keys = [i.key for i in prepared.selection.interactions]
            verdicts = verdicts_by_key(keys, judgement.criteria)
            rows.append(
                await publish_aggregated(
                    spec, step.broker_url, step.broker_token, broker_pacts, verdicts
                )
            )
    if spec.broker.can_i_deploy.enabled:
        rows.append(await can_i_deploy(spec, step.broker_url, step.broker_token))
    return rows


def _summary(
    spec: ContractStep, judgement: Judgement, criteria: Sequence[CriterionResult], status: Status
) -> str:
    per_interaction = judgement.criteria[: judgement.expected]
    passed = sum(1 for c in per_interaction if c.status is Status.PASS)
    pending = sum(1 for c in per_interaction if c.status is Status.SKIPPED)
    summary = (
        f"{passed}/{judgement.expected} interactions of {spec.provider} verified"
        + (f", {judgement.failed} failed" if judgement.failed else "")
        + (f", {pending} failed in pending pacts (not counted)" if pending else "")
    )
    if status is Status.ERROR:
        reasons = [c.reason for c in criteria if c.status is Status.ERROR]
        summary += "; " + (
            reasons[0] if reasons else "nothing judged: every result is from a pending pact"
        )
    return summary


STAGE = ContractStage()
