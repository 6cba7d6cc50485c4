"""Rows for the reports from a chaos step's watched answers (``metrics.answers``, written
by :mod:`harness.chaos.answers`): the rollout's headline figures and every pod start."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HEADINGS = ("pod", "started by", "cold start (s)", "time to ready (s)")
FIGURES = (
    ("rollout_time", "rollout_time (s)"),
    ("old_version_replicas", "old_version_replicas"),
    ("version_flips", "version_flips"),
    ("skew_outside_rollout", "skew_outside_rollout"),
    ("not_ready_answers", "not_ready_answers"),
    ("cold_start_s", "cold_start_s (slowest)"),
    ("answers", "answers watched"),
    ("answer_errors", "answer_errors"),
)


def _seconds(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "not seen"


def watched(metrics: Mapping[str, Any]) -> Mapping[str, Any] | None:
    answers = metrics.get("answers")
    return answers if isinstance(answers, Mapping) and "pod_starts" in answers else None


def figure_cells(answers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) for each figure the step observed."""
    cells = []
    for key, label in FIGURES:
        value = answers.get(key)
        if value is None:
            continue
        cells.append((label, f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float)
                      else str(value)))  # fmt: skip
    if answers.get("rollout_version"):
        cells.insert(0, ("rolled out", str(answers["rollout_version"])))
    return cells


def start_rows(answers: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (str(s.get("pod")), str(s.get("cause")), _seconds(s.get("cold_start_s")),
         _seconds(s.get("time_to_ready_s")))
        for s in answers.get("pod_starts", [])
        if isinstance(s, Mapping)
    ]  # fmt: skip
