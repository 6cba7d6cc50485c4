"""Plotly figures (as plain JSON-able dicts) for report.html.

Built with plotly's figure objects, so every property name is checked when the page
is written; drawn in the browser by the plotly.js bundled with the same plotly
package and inlined into the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from harness.report.views import ChaosView, Instant, LoadView, Span

PHASE_COLOURS = {"baseline": "rgba(46,139,87,0.10)", "fault": "rgba(220,20,60,0.16)",
                 "recovery": "rgba(255,165,0,0.14)"}
STATUS_COLOURS = {"succeeded": "#2e8b57", "failed": "#dc143c", "interrupted": "#8a2be2"}
KIND_COLOURS = {"probe": "#4682b4", "action": "#d2691e", "rollback": "#6a5acd", "pause": "#999999"}
TEMPLATE = "plotly_white"


def _layout(title: str, x_title: str, y_title: str) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 15}},
        "template": TEMPLATE,
        "height": 320,
        "margin": {"l": 60, "r": 20, "t": 45, "b": 45},
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": -0.25},
    }


def _decorations(phases: Sequence[Span], faults: Sequence[Instant]) -> dict[str, Any]:
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for span in phases:
        shapes.append({
            "type": "rect", "xref": "x", "yref": "paper", "x0": span.start_s, "x1": span.end_s,
            "y0": 0, "y1": 1, "fillcolor": PHASE_COLOURS.get(span.phase, "rgba(0,0,0,0.05)"),
            "line": {"width": 0}, "layer": "below",
        })
        annotations.append({
            "x": (span.start_s + span.end_s) / 2, "y": 1.0, "xref": "x", "yref": "paper",
            "text": span.phase, "showarrow": False, "font": {"size": 10, "color": "#555"},
            "yanchor": "bottom",
        })
    for fault in faults:
        shapes.append({
            "type": "line", "xref": "x", "yref": "paper", "x0": fault.at_s, "x1": fault.at_s,
            "y0": 0, "y1": 1, "line": {"color": "#b22222", "width": 1.5, "dash": "dot"},
        })
        annotations.append({
            "x": fault.at_s, "y": 0.92, "xref": "x", "yref": "paper", "text": fault.label,
            "showarrow": False, "textangle": -90, "font": {"size": 9, "color": "#b22222"},
            "xanchor": "right",
        })
    return {"shapes": shapes, "annotations": annotations}


def latency_figure(view: LoadView) -> dict[str, Any]:
    figure = go.Figure(layout=_layout("latency per second", "seconds since start", "ms"))
    for name, values in (("p50", view.p50_ms), ("p95", view.p95_ms), ("p99", view.p99_ms)):
        figure.add_trace(go.Scatter(x=view.seconds, y=values, mode="lines+markers", name=name,
                                    marker={"size": 4}, connectgaps=False))
    figure.update_layout(**_decorations(view.phases, view.faults))
    return figure.to_plotly_json()  # type: ignore[no-any-return]


def throughput_figure(view: LoadView) -> dict[str, Any]:
    figure = go.Figure(layout=_layout("requests and errors per second", "seconds since start",
                                      "per second"))
    ok = [r - f for r, f in zip(view.requests, view.failures, strict=True)]
    figure.add_trace(go.Bar(x=view.seconds, y=ok, name="succeeded", marker={"color": "#4682b4"}))
    figure.add_trace(go.Bar(x=view.seconds, y=view.failures, name="failed",
                            marker={"color": "#dc143c"}))
    figure.update_layout(barmode="stack", bargap=0.05, **_decorations(view.phases, view.faults))
    return figure.to_plotly_json()  # type: ignore[no-any-return]


def reasons_figure(reasons: Sequence[tuple[str, int]]) -> dict[str, Any]:
    top = list(reasons[:10])[::-1]
    layout = _layout("failure reasons", "failed requests", "")
    layout["height"] = 120 + 28 * len(top)
    layout["margin"]["l"] = 260
    figure = go.Figure(layout=layout)
    figure.add_trace(go.Bar(x=[c for _, c in top], y=[r[:60] for r, _ in top], orientation="h",
                            marker={"color": "#dc143c"}, name="failures"))
    return figure.to_plotly_json()  # type: ignore[no-any-return]


def chaos_figure(view: ChaosView) -> dict[str, Any]:
    layout = _layout("chaos timeline", "seconds since the experiment started", "")
    layout["height"] = 160 + 26 * max(len(view.activities), 1)
    layout["margin"]["l"] = 220
    layout["yaxis"] = {"autorange": "reversed", "type": "category"}
    figure = go.Figure(layout=layout)
    for kind in ("probe", "action", "rollback", "pause"):
        chosen = [a for a in view.activities if a.kind == kind]
        if not chosen:
            continue
        figure.add_trace(go.Bar(
            base=[a.start_s for a in chosen], x=[max(a.end_s - a.start_s, 0.05) for a in chosen],
            y=[f"{a.stage}: {a.name}" for a in chosen], orientation="h", name=kind,
            marker={"color": KIND_COLOURS[kind],
                    "line": {"color": [STATUS_COLOURS.get(a.status, "#333") for a in chosen],
                             "width": 2}},
            text=[a.status for a in chosen], textposition="inside",
            hovertemplate="%{y}<br>%{base:.2f}s + %{x:.2f}s: %{text}<extra></extra>",
        ))
    figure.update_layout(barmode="overlay", **_decorations((), view.faults))
    return figure.to_plotly_json()  # type: ignore[no-any-return]


def trend_figure(title: str, unit: str, labels: Sequence[str],
                 series: dict[str, list[float | None]], statuses: Sequence[str]) -> dict[str, Any]:
    figure = go.Figure(layout=_layout(title, "run", unit))
    figure.update_layout(xaxis={"type": "category", "tickangle": -30})
    if unit == "ratio":
        figure.update_layout(yaxis={"tickformat": ".2%", "title": {"text": "error rate"}})
    for name, values in series.items():
        figure.add_trace(go.Scatter(
            x=list(labels), y=values, mode="lines+markers", name=name,
            marker={"size": 8, "color": [STATUS_COLOURS.get(
                {"pass": "succeeded", "fail": "failed"}.get(s, "interrupted"), "#333")
                for s in statuses]},
        ))
    return figure.to_plotly_json()  # type: ignore[no-any-return]
