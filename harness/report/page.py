"""The report.html page: one self-contained file (styles, plotly.js and data inline)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from plotly.offline import get_plotlyjs

from harness.report import answers, charts, pod_starts
from harness.report.trends import TrendRun, trend_figures
from harness.report.views import CriterionView, StepView

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;
background:#f4f6f9}
header{padding:18px 28px;color:#fff}
header h1{margin:0 0 4px;font-size:22px}
header .meta{opacity:.9;font-size:13px}
.pass{background:#2e7d4f}.fail{background:#b3261e}.error{background:#6b2fa0}
.skipped{background:#6c757d}.running{background:#6c757d}
main{padding:8px 28px 40px;max-width:1280px}
section.step{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);
margin:18px 0;padding:14px 18px}
section h2{font-size:17px;margin:4px 0 6px}
.badge{display:inline-block;color:#fff;border-radius:4px;padding:1px 8px;font-size:12px;
font-weight:600;text-transform:uppercase;vertical-align:middle;margin-right:6px}
.summary{color:#444;margin:0 0 8px}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:13px}
th,td{border-bottom:1px solid #e3e6ea;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.mismatch{font-family:ui-monospace,monospace;font-size:12px;color:#8a1c1c}
.chart{min-height:120px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:10px}
nav a{margin-right:14px;color:#1d4f91;text-decoration:none}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _badge(status: str) -> str:
    return f'<span class="badge {_e(status)}">{_e(status)}</span>'


class Page:
    """Collects sections and figures; ``render`` returns the whole document."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.figures: dict[str, dict[str, Any]] = {}

    def chart(self, figure: dict[str, Any]) -> str:
        chart_id = f"chart-{len(self.figures) + 1}"
        self.figures[chart_id] = figure
        return f'<div class="chart" id="{chart_id}"></div>'

    def render(self, title: str) -> str:
        data = json.dumps(self.figures, separators=(",", ":"), allow_nan=False, default=str)
        data = data.replace("</", "<\\/")
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{STYLE}</style>"
            f"<script>{get_plotlyjs()}</script></head><body>"
            + "".join(self.parts)
            + f"<script>const FIGURES={data};"
            "for(const [id,f] of Object.entries(FIGURES)){"
            "Plotly.newPlot(id,f.data,f.layout,{displaylogo:false,responsive:true});}"
            "</script></body></html>\n"
        )


def render_report(
    document: Mapping[str, Any], steps: Sequence[StepView], trend: Sequence[TrendRun]
) -> str:
    page = Page()
    status = str(document.get("status", "error"))
    page.parts.append(
        f'<header class="{_e(status)}"><h1>{_e(status.upper())} · suite {_e(document.get("suite"))}'
        f'</h1><div class="meta">run {_e(document.get("run_id"))} · target '
        f'{_e((document.get("target") or {}).get("kind", ""))} · started '
        f'{_e(document.get("started_at"))} · {_e(document.get("duration_s"))} s · '
        f'{_e(document.get("reason"))}</div></header><main>'
    )
    page.parts.append(
        "<nav>" + "".join(f'<a href="#step-{i}">{_e(s.name)}</a>' for i, s in enumerate(steps))
        + ('<a href="#trends">trends</a>' if trend else "") + "</nav>"
    )
    for index, step in enumerate(steps):
        page.parts.append(_step_section(page, index, step))
    if trend:
        page.parts.append(_trend_section(page, trend))
    page.parts.append("</main>")
    return page.render(f"harness {status.upper()} {document.get('suite')} {document.get('run_id')}")


def _step_section(page: Page, index: int, step: StepView) -> str:
    parts = [
        f'<section class="step" id="step-{index}"><h2>{_badge(step.status)}{_e(step.name)} '
        f'<small>({_e(step.kind)}, stage {_e(step.stage)})</small></h2>'
        f'<p class="summary">{_e(step.summary)}</p>'
    ]
    if step.load is not None:
        parts.append('<div class="grid">' + page.chart(charts.latency_figure(step.load))
                     + page.chart(charts.throughput_figure(step.load)) + "</div>")
        if step.load.failure_reasons:
            parts.append(page.chart(charts.reasons_figure(step.load.failure_reasons)))
    if step.chaos is not None and (step.chaos.activities or step.chaos.faults):
        parts.append(page.chart(charts.chaos_figure(step.chaos)))
    if step.answers:
        parts.append(_answers_table(step))
    if step.watched is not None:
        parts.append(_pod_starts_table(step.watched))
    parts.append(_criteria_table(step))
    parts.append("</section>")
    return "".join(parts)


def _criteria_table(step: StepView) -> str:
    heading = "interaction" if step.kind == "contract" else (
        "probe / criterion" if step.kind == "chaos" else "criterion")
    rows = [
        f"<table><tr><th>{heading}</th><th>status</th><th>observed</th><th>threshold</th>"
        "<th>baseline</th><th>phase</th><th>reason / mismatches</th></tr>"
    ]
    for criterion in step.criteria:
        rows.append(
            f"<tr><td>{_e(criterion.name)}</td><td>{_badge(criterion.status)}</td>"
            f'<td class="num">{_e(_value(criterion.observed, criterion.unit))}</td>'
            f'<td class="num">{_e(_value(criterion.threshold, criterion.unit))}</td>'
            f"<td>{_e(criterion.baseline)}</td><td>{_e(criterion.phase or '')}</td>"
            f"<td>{_e(criterion.reason)}{_mismatches(criterion)}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _answers_table(step: StepView) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in answers.HEADINGS)
    rows = [f'<table class="answers"><caption>model answers</caption><tr>{head}</tr>']
    for row in step.answers:
        rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in answers.cells(row)) + "</tr>")
    rows.append("</table>")
    return "".join(rows)


def _pod_starts_table(seen: Mapping[str, Any]) -> str:
    """What the chaos step's answer watcher saw: headline figures, then each pod start."""
    figures = "".join(
        f"<tr><th>{_e(label)}</th><td class=\"num\">{_e(value)}</td></tr>"
        for label, value in pod_starts.figure_cells(seen)
    )
    head = "".join(f"<th>{_e(h)}</th>" for h in pod_starts.HEADINGS)
    starts = "".join(
        "<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>"
        for row in pod_starts.start_rows(seen)
    )
    return (
        f'<table class="answers"><caption>answers watched</caption>{figures}</table>'
        f'<table class="answers"><caption>pod starts</caption><tr>{head}</tr>{starts}</table>'
    )


def _mismatches(criterion: CriterionView) -> str:
    if not criterion.mismatches:
        return ""
    items = "".join(
        f'<li class="mismatch">{_e(m.get("path"))}: expected {_e(m.get("expected"))}, '
        f'got {_e(m.get("actual"))}</li>'
        for m in criterion.mismatches
    )
    return f"<ul>{items}</ul>"


def _value(value: object, unit: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and unit == "ratio":
        return f"{value * 100:.4g} %"
    if isinstance(value, float):
        return f"{value:.6g} {unit}".strip()
    return f"{value} {unit}".strip()


def _trend_section(page: Page, trend: Sequence[TrendRun]) -> str:
    figures = trend_figures(trend)
    charts_html = "".join(page.chart(figure) for figure in figures)
    return (
        f'<section class="step" id="trends"><h2>trends: the last {len(trend)} runs of this '
        f'suite</h2><div class="grid">{charts_html}</div></section>'
    )
