"""A test-only stage (kind "fake") that runs tests/core/fixtures/fake_tool.py
through harness.process and judges the JSON metrics it prints.

Registered in-process with ``register()``, and in a ``harness`` subprocess with
``HARNESS_PLUGINS=tests.core.fake_stage:register``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field

from harness.events import PhaseChanged, StepProgressed
from harness.outcome import CriterionResult, StepOutcome, error_outcome, judged
from harness.process import run_to_end
from harness.runner import Problem, StepContext
from harness.stages import register_stage
from harness.status import Status
from harness.step_model import JudgedStep

TOOL = Path(__file__).parent / "fixtures" / "fake_tool.py"


class FakeStep(JudgedStep):
    kind: Literal["fake"] = "fake"
    mode: Literal["ok", "crash", "garbage", "hang", "raise"] = "ok"
    sleep: float = Field(default=0.0, ge=0)
    metrics: dict[str, float] = Field(default_factory=dict)
    pid_file: str | None = None
    ignore_term: bool = False
    escape: bool = False  # leave processes behind as real tools do (see fake_tool.py)
    needs_file: str | None = None  # checked by ``check``, relative to the base dir
    mark_phase: Literal["baseline", "fault", "recovery"] | None = None
    wait_for_others: bool = False  # judge after the other steps of the stage ended


class FakeStage:
    kind = "fake"
    step_model: type[JudgedStep] = FakeStep
    supports_dry_run = True

    def recover(self) -> list[str]:
        return []

    def check(self, spec: object, base_dir: Path, suite_file: Path) -> list[Problem]:
        assert isinstance(spec, FakeStep)
        if spec.needs_file and not (base_dir / spec.needs_file).exists():
            return [Problem(suite_file, None, "needs_file", f"no such file: {spec.needs_file}")]
        return []

    async def run(self, ctx: StepContext) -> StepOutcome:
        spec = ctx.spec
        assert isinstance(spec, FakeStep)
        if spec.mode == "raise":
            raise RuntimeError("boom in runner")
        if spec.mark_phase:
            ctx.emit(PhaseChanged(spec.name, spec.mark_phase, spec.name))
        argv = [
            sys.executable,
            str(TOOL),
            "--mode",
            spec.mode,
            "--sleep",
            str(spec.sleep),
            "--metrics",
            json.dumps(spec.metrics),
        ]
        if spec.pid_file:
            argv += ["--pid-file", spec.pid_file]
        if spec.ignore_term:
            argv.append("--ignore-term")
        if spec.escape:
            argv.append("--escape")
        ctx.emit(StepProgressed(spec.name, f"starting fake tool ({spec.mode})"))
        stdout_path = ctx.artifact_dir / "tool.stdout"
        finished = await run_to_end(
            argv,
            cwd=ctx.work_dir,
            stdout_path=stdout_path,
            stderr_path=ctx.artifact_dir / "tool.stderr",
            timeout_s=ctx.deadline_s + 10,
            grace_s=1.0,
        )
        if finished.returncode != 0:
            return error_outcome(
                spec.name,
                self.kind,
                f"fake tool exited with {finished.returncode}: {finished.tail(2)}",
            )
        try:
            observed = json.loads(stdout_path.read_bytes())
        except ValueError as exc:
            return error_outcome(spec.name, self.kind, f"unreadable tool output: {exc}")
        results = []
        for criterion in spec.criteria:
            value = observed.get(criterion.metric)
            if value is None:
                results.append(CriterionResult(criterion.name, Status.ERROR, reason="not measured"))
                continue
            status = Status.PASS if criterion.holds(value) else Status.FAIL
            results.append(
                CriterionResult(
                    criterion.name,
                    status,
                    observed=value,
                    threshold=criterion.threshold,
                    unit=criterion.unit,
                    reason="" if status is Status.PASS else f"observed {value} vs {criterion.text}",
                )
            )
        outcome = StepOutcome(
            name=spec.name,
            kind=self.kind,
            status=judged(results),
            summary=f"{len(results)} criteria judged" + (" (dry run)" if ctx.dry_run else ""),
            criteria=tuple(results),
            metrics=observed,
            artifacts=(stdout_path,),
        )
        if spec.wait_for_others:
            ctx.stage.hold(spec.name, outcome.with_(summary="held before waiting"))
            ctx.emit(StepProgressed(spec.name, "waiting for the others"))
            await ctx.stage.others_ended(spec.name)
            marks = len(ctx.stage.phase_marks)
            return outcome.with_(summary=f"judged after the others with {marks} phase marks")
        return outcome


def register() -> None:
    register_stage(FakeStage())
