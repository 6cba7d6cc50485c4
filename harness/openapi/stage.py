"""The api stage: OpenAPI-driven checks of one service, judged check by check.

``STAGE.run`` writes a plan (no secret in it), runs ``python -m harness.openapi.driver`` in a
child process with a hard deadline (tokens in its environment) and judges the results
file it leaves. A driver that crashed, hung or wrote nothing is ERROR with the reason; a
check it did not get to is ERROR too; a failing check is FAIL naming the operation, the
request (a curl command, secrets masked) and the answer.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from pydantic import BaseModel

from harness.events import StepProgressed
from harness.openapi.judge import expected_checks, judge
from harness.openapi.plan import TOKENS_ENV, DrivePlan
from harness.openapi.results import Results, ResultsError, read_results
from harness.openapi.spec import ApiStep
from harness.outcome import CriterionResult, StepOutcome, error_outcome, judged
from harness.runner import Problem, StepContext
from harness.status import Status
from harness.step_child import child_pythonpath, child_timeout_s, run_child
from harness.target import Target


def service_url(spec: ApiStep, target: Target) -> str:
    return {
        "registry": target.registry_url,
        "serving": target.serving_url,
        "orchestrator": target.orchestrator_url,
    }[spec.service]


def openapi_location(spec: ApiStep, base_url: str, base_dir: Path) -> str:
    """A URL as is; a path starting with ``/`` that is no file, on the service; else a file."""
    where = spec.openapi
    if where.startswith(("http://", "https://")):
        return where
    if where.startswith("/") and not Path(where).is_file():
        return base_url.rstrip("/") + where
    return str((base_dir / where).resolve())


class ApiStage:
    kind = "api"
    step_model = ApiStep
    supports_dry_run = False

    def recover(self) -> list[str]:
        return []  # its requests change nothing that a later run must put right

    def check(self, spec: BaseModel, base_dir: Path, suite_file: Path) -> list[Problem]:
        assert isinstance(spec, ApiStep)
        problems: list[Problem] = []
        if not expected_checks(spec):
            problems.append(
                Problem(suite_file, None, spec.name, "every check is off: nothing to judge")
            )
        where = spec.openapi
        is_remote = where.startswith(("http://", "https://")) or where.startswith("/")
        if not is_remote and not (base_dir / where).is_file():
            problems.append(
                Problem(suite_file, None, f"{spec.name}.openapi", f"no such file: {where}")
            )
        return problems

    async def run(self, ctx: StepContext) -> StepOutcome:
        spec = ctx.spec
        assert isinstance(spec, ApiStep)
        started = time.time()
        ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
        base_url = service_url(spec, ctx.target)
        plan_path = ctx.artifact_dir / "api-plan.json"  # holds no secret
        DrivePlan(spec, base_url, openapi_location(spec, base_url, ctx.base_dir)).write(plan_path)
        results_path = ctx.artifact_dir / "api-results.json"
        results_path.unlink(missing_ok=True)
        stdout_path = ctx.artifact_dir / "driver.stdout.log"
        stderr_path = ctx.artifact_dir / "driver.stderr.log"
        tokens = ctx.target.tokens
        secrets = [t for t in (tokens.read, tokens.write, tokens.admin) if t]
        env = {
            **os.environ,
            TOKENS_ENV: json.dumps(
                {"read": tokens.read, "write": tokens.write, "admin": tokens.admin}
            ),
            "PYTHONPATH": child_pythonpath(),
        }
        ctx.emit(
            StepProgressed(step=spec.name, message=f"api checks of {spec.service} at {base_url}")
        )
        timeout_s = child_timeout_s(spec.timeout, ctx.deadline_s)
        finished = await run_child(
            [sys.executable, "-m", "harness.openapi.driver", str(plan_path), str(results_path)],
            cwd=ctx.work_dir, stdout_path=stdout_path, stderr_path=stderr_path,
            timeout_s=timeout_s, env=env, secrets=secrets,
            redact=(stdout_path, stderr_path, results_path),
        )  # fmt: skip
        artifacts = tuple(
            p for p in (plan_path, results_path, stdout_path, stderr_path) if p.exists()
        )
        unfinished = ""
        if finished.timed_out:
            unfinished = f"api driver did not finish within {timeout_s:.0f}s (killed)"
        elif finished.returncode != 0:
            tail = finished.tail(3).replace("\n", " | ")
            unfinished = f"api driver exited with code {finished.returncode}: {tail}"
        try:
            results = read_results(results_path)
        except ResultsError as exc:
            reason = unfinished or str(exc)
            return error_outcome(spec.name, "api", reason, artifacts=artifacts,
                                 started_at=started, finished_at=time.time())  # fmt: skip
        criteria = judge(spec, results, unfinished)
        status = judged(criteria)
        return StepOutcome(
            name=spec.name,
            kind="api",
            status=status,
            summary=_summary(spec, results, criteria),
            criteria=tuple(criteria),
            metrics={"operations": results.operations,
                     "requests": {c.check: c.probed for c in results.checks}},
            artifacts=artifacts,
            started_at=started,
            finished_at=time.time(),
        )  # fmt: skip


def _summary(spec: ApiStep, results: Results, criteria: list[CriterionResult]) -> str:
    passed = sum(1 for c in criteria if c.status is Status.PASS)
    text = (
        f"{passed}/{len(criteria)} api checks of {spec.service} passed "
        f"({results.operations} operations)"
    )
    bad = [c for c in criteria if c.status in (Status.FAIL, Status.ERROR)]
    if bad:
        text += f"; {bad[0].name}: {bad[0].reason}"
    return text


STAGE = ApiStage()
