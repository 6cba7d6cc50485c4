"""The model answers a load step saw, as rows for summary.md and report.html: per
phase (and the whole run), the model versions that answered, ``version_skew``,
``wrong_answer_rate`` and ``crossover_count``. Read from a step's metrics (the load
stage's ``overall.answers`` and ``phases.<phase>.answers``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WHOLE_RUN = "whole run"


@dataclass(frozen=True)
class AnswerRow:
    phase: str  # "whole run", baseline, fault, recovery
    versions: str  # "1.0.0 (120), 2.0.0 (3)"
    expected_version: str
    version_skew: float | None
    checked: int
    wrong_answer_rate: float | None
    crossover_count: int | None


def answer_rows(metrics: Mapping[str, Any]) -> tuple[AnswerRow, ...]:
    """Rows for the whole run, then each phase measured; none if no answer carried a
    model version or was checked."""
    sources: list[tuple[str, object]] = [(WHOLE_RUN, metrics.get("overall"))]
    phases = metrics.get("phases")
    if isinstance(phases, Mapping):
        sources += [(str(name), figures) for name, figures in phases.items()]
    rows = []
    for phase, figures in sources:
        answers = figures.get("answers") if isinstance(figures, Mapping) else None
        if isinstance(answers, Mapping):
            rows.append(_row(phase, answers))
    return tuple(rows)


def _row(phase: str, answers: Mapping[str, Any]) -> AnswerRow:
    versions = answers.get("versions")
    pairs = versions.items() if isinstance(versions, Mapping) else ()
    crossed = answers.get("crossover_count")
    return AnswerRow(
        phase=phase,
        versions=", ".join(f"{name} ({count})" for name, count in pairs) or "none",
        expected_version=str(answers.get("expected_version") or ""),
        version_skew=_number(answers.get("version_skew")),
        checked=int(answers.get("checked") or 0),
        wrong_answer_rate=_number(answers.get("wrong_answer_rate")),
        crossover_count=int(crossed) if isinstance(crossed, int | float) else None,
    )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.4g} %"


HEADINGS = (
    "phase", "model versions (answers)", "expected", "version_skew", "checked",
    "wrong_answer_rate", "crossover_count",
)


def cells(row: AnswerRow) -> tuple[str, ...]:
    crossed = "" if row.crossover_count is None else str(row.crossover_count)
    return (
        row.phase, row.versions, row.expected_version, percent(row.version_skew),
        str(row.checked), percent(row.wrong_answer_rate), crossed,
    )
