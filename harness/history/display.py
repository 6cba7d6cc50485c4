"""How history figures read: values with units, run headlines, comparison tables
(rich for the terminal, Markdown for a pull-request comment)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.table import Table
from rich.text import Text

from harness.criteria import PERCENTILE_RE
from harness.history.compare import Comparison, MetricDelta
from harness.history.queries import RunView

_LATENCY = {"max", "min", "mean", "median"}
_RATES = {"error_rate", "completion_rate", "cpu_utilisation"}


def when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def value_text(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if PERCENTILE_RE.match(metric) or metric in _LATENCY:
        return f"{value:.4g} ms"
    if metric in _RATES:
        return f"{value * 100:.3g} %"
    if metric.endswith("_s"):
        return f"{value:.3g} s"
    return f"{value:.6g}"


def delta_text(item: MetricDelta) -> str:
    if item.delta is None:
        return "new" if item.a is None else "gone"
    metric = item.key[3]
    sign = "+" if item.delta > 0 else ""
    if metric in _RATES:
        return f"{sign}{item.delta * 100:.3g} pp"
    relative = f" ({sign}{item.relative * 100:.1f} %)" if item.relative is not None else ""
    return f"{sign}{value_text(metric, item.delta)}{relative}"


def headline(run: RunView) -> str:
    """One line of the figures that matter per step."""
    parts = []
    for step in run.steps:
        if step.kind == "load":
            p95 = run.metric(step.name, "p95")
            rps = run.metric(step.name, "rps")
            rate = run.metric(step.name, "error_rate")
            parts.append(
                f"{step.name}: p95 {value_text('p95', p95)}, {value_text('rps', rps)} rps, "
                f"err {value_text('error_rate', rate)}"
            )
        elif step.kind == "contract":
            verified = run.metric(step.name, "interactions_verified")
            expected = run.metric(step.name, "interactions_expected")
            parts.append(f"{step.name}: {_count(verified)}/{_count(expected)} interactions")
        else:
            parts.append(f"{step.name}: {step.status}")
    return "; ".join(parts)


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def verdict_text(run: RunView) -> Text:
    label = run.status.upper() + (" (interrupted)" if run.interrupted else "")
    style = {"pass": "green", "fail": "red", "error": "magenta"}.get(run.status, "")
    return Text(label, style=f"bold {style}".strip())


def history_table(runs: list[RunView]) -> Table:
    table = Table(title="run history (newest first)", show_lines=False)
    for column in ("when (UTC)", "run id", "suite", "verdict", "duration", "headline figures"):
        table.add_column(column, overflow="fold")
    for run in runs:
        duration = "-" if run.duration_s is None else f"{run.duration_s:.0f} s"
        table.add_row(
            when(run.started_at), run.run_id, run.suite, verdict_text(run), duration, headline(run)
        )
    return table


def _where(item: MetricDelta) -> tuple[str, str, str, str]:
    step, endpoint, phase, metric = item.key
    return step, endpoint or "all", phase or "whole run", metric


def comparison_table(comparison: Comparison) -> Table:
    a, b = comparison.a, comparison.b
    table = Table(title=f"{a.run_id} ({a.status}) → {b.run_id} ({b.status})")
    for column in ("step", "endpoint", "phase", "metric", "A", "B", "delta", ""):
        table.add_column(column, overflow="fold")
    for item in comparison.metrics:
        step, endpoint, phase, metric = _where(item)
        mark = Text("REGRESSION", style="bold red") if item.regression else Text("")
        table.add_row(
            step, endpoint, phase, metric, value_text(metric, item.a), value_text(metric, item.b),
            delta_text(item), mark,
        )
    for change in comparison.criteria:
        mark = Text("REGRESSION", style="bold red") if change.regression else Text("")
        table.add_row(
            change.step, "", "", change.name, change.a or "-", change.b or "-", "status", mark
        )
    return table


def comparison_markdown(comparison: Comparison) -> str:
    a, b = comparison.a, comparison.b
    lines = [
        f"### harness compare: `{a.run_id}` ({a.status}) → `{b.run_id}` ({b.status})",
        "",
        f"Suite `{b.suite}`: {comparison.regressions} regression(s).",
        "",
        "| step | endpoint | phase | metric | A | B | delta | |",
        "|---|---|---|---|---:|---:|---:|---|",
    ]
    for item in comparison.metrics:
        step, endpoint, phase, metric = _where(item)
        mark = "**regression**" if item.regression else ""
        lines.append(
            f"| {_md(step)} | {_md(endpoint)} | {phase} | {metric} | {value_text(metric, item.a)} "
            f"| {value_text(metric, item.b)} | {delta_text(item)} | {mark} |"
        )
    for change in comparison.criteria:
        mark = "**regression**" if change.regression else ""
        lines.append(
            f"| {_md(change.step)} | | | {_md(change.name)} | {change.a or '-'} "
            f"| {change.b or '-'} | status | {mark} |"
        )
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")
