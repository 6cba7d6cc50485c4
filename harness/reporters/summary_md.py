"""``summary.md``: the verdict, a table of steps, and each failed criterion and why
(fit for a CI job summary such as $GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.outcome import CriterionResult, StepOutcome
from harness.report import answers, pod_starts
from harness.status import Status
from harness.verdict import RunResult
from wholefile import write_atomically

_ICON = {Status.PASS: "✅", Status.FAIL: "❌", Status.ERROR: "💥", Status.SKIPPED: "⏭️"}


def render_summary(result: RunResult) -> str:
    verdict = result.verdict
    duration_s = result.finished_at - result.started_at
    lines = [
        f"# harness: {verdict.status.value.upper()} {_ICON[verdict.status]}",
        "",
        f"Suite **{_md(result.suite)}** against **{result.target.get('kind', '?')}**, "
        f"run `{result.run_id}`, {duration_s:.1f} s.",
        "",
        f"{_md(verdict.reason)}" + (" (interrupted)" if result.interrupted else ""),
        "",
    ]
    if result.recovered:
        lines += ["Faults left by an earlier run, reverted first:", ""]
        lines += [f"- {_md(line)}" for line in result.recovered]
        lines.append("")
    lines += ["| stage | step | kind | status | summary |", "|---|---|---|---|---|"]
    for stage, step in verdict.steps:
        lines.append(
            f"| {_md(stage)} | {_md(step.name)} | {step.kind} | "
            f"{_ICON[step.status]} {step.status.value} | {_md(step.summary)} |"
        )
    lines += _answer_lines(verdict.steps)
    lines += _pod_start_lines(verdict.steps)
    bad = [
        (step.name, criterion)
        for _, step in verdict.steps
        for criterion in step.criteria
        if criterion.status in (Status.FAIL, Status.ERROR)
    ]
    if bad:
        lines += ["", "## Failed criteria", ""]
        lines += [f"- **{_md(name)}** `{_md(c.name)}`: {_md(why(c))}" for name, c in bad]
    return "\n".join(lines) + "\n"


def _answer_lines(steps: Sequence[tuple[str, StepOutcome]]) -> list[str]:
    """A table of the model answers of every load step that saw any."""
    lines: list[str] = []
    for _, step in steps:
        rows = answers.answer_rows(step.metrics) if step.kind == "load" else ()
        if not rows:
            continue
        if not lines:
            lines += ["", "## Model answers"]
        lines += ["", f"**{_md(step.name)}**", ""]
        lines += ["| " + " | ".join(answers.HEADINGS) + " |", "|---" * len(answers.HEADINGS) + "|"]
        lines += ["| " + " | ".join(_md(c) for c in answers.cells(row)) + " |" for row in rows]
    return lines


def _pod_start_lines(steps: Sequence[tuple[str, StepOutcome]]) -> list[str]:
    """What each chaos step's answer watcher saw: the rollout's figures and the pod starts."""
    lines: list[str] = []
    for _, step in steps:
        seen = pod_starts.watched(step.metrics) if step.kind == "chaos" else None
        if seen is None:
            continue
        if not lines:
            lines += ["", "## Rollouts and pod starts"]
        figures = ", ".join(f"{label} {value}" for label, value in pod_starts.figure_cells(seen))
        lines += ["", f"**{_md(step.name)}**: {_md(figures)}"]
        starts = pod_starts.start_rows(seen)
        if starts:
            lines += ["", "| " + " | ".join(pod_starts.HEADINGS) + " |", "|---" * 4 + "|"]
            lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in starts]
    return lines


def why(criterion: CriterionResult) -> str:
    """One line saying why a criterion did not pass."""
    if criterion.reason:
        text = criterion.reason
    else:
        unit = f" {criterion.unit}" if criterion.unit else ""
        text = f"observed {criterion.observed}{unit}, threshold {criterion.threshold}{unit}"
    if criterion.mismatches:
        first = criterion.mismatches[0]
        more = f" (+{len(criterion.mismatches) - 1} more)" if len(criterion.mismatches) > 1 else ""
        text += f"; {first.path}: expected {first.expected}, got {first.actual}{more}"
    return text


def _md(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def write_summary(result: RunResult, report_dir: Path) -> Path:
    path = report_dir / "summary.md"
    write_atomically(path, render_summary(result))
    return path
