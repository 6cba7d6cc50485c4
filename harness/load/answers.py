"""What the load stage knows about the answers themselves, beyond their status: the model
version each one carried, and whether a checked answer was right or crossed over.

Pure Python, importable inside Locust (the plugin) and in the orchestrator (the judge).

- Per request, the locustfile helper (:mod:`harness.load.ml`) hands the plugin one small
  :class:`Answer` through the request's Locust ``context`` (key :data:`ANSWER_KEY`), so the
  plugin never parses a body the user code already parsed. Without the helper, the plugin
  reads the version the step names (``model_version: {header: ...}``: a header lookup;
  ``{field: ...}``: one JSON parse of a 2xx body) with :class:`VersionSource`.
- Per endpoint and second, :class:`AnswerCounts` counts answers checked, wrong, crossed
  over, and answers per model version (wire key ``"answers"``, merged like the reasons).
- Metrics: ``wrong_answer_rate`` = wrong / checked (golden answers compared with their
  expected outputs), ``crossover_count`` = answers that belonged to another request (a
  request id echoed wrong, needs echoes or golden answers compared), ``version_skew`` =
  answers not on the expected version / answers that carried one. The expected version
  is the one pinned in the step (``model_version: {expected: "1.0.0"}``) or else the
  first seen: the most answered version of the first second in which any answer
  carried one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ANSWER_KEY = "harness.answer"
"""Key of the :class:`Answer` in a Locust request's context dict."""
VERSION_ENV = "HARNESS_MODEL_VERSION"
"""Where the locust processes learn the step's version source: ``header:NAME`` or
``field:a.b``."""
VERSIONS_PER_ENDPOINT = 20
"""Distinct versions kept per endpoint and second; the rest count as "other"."""
OTHER_VERSION = "other"
ANSWER_METRICS = ("wrong_answer_rate", "crossover_count", "version_skew")


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer, as the helper (or the plugin) saw it."""

    version: str | None = None
    checked: bool = False  # compared with the expected output (a golden input)
    wrong: bool = False  # not the expected output (within tolerance)
    echoed: bool = False  # its echo (request id) compared with the one sent
    crossed: bool = False  # the answer belongs to another request's input


@dataclass
class AnswerCounts:
    checked: int = 0
    wrong: int = 0
    crossed: int = 0
    versions: dict[str, int] = field(default_factory=dict)
    echoed: int = 0

    def add(self, answer: Answer) -> None:
        if answer.checked:
            self.checked += 1
            self.wrong += answer.wrong
        if answer.echoed:
            self.echoed += 1
        self.crossed += answer.crossed
        if answer.version is not None:
            self._count_version(answer.version, 1)

    def _count_version(self, version: str, count: int) -> None:
        versions = self.versions
        if version not in versions and len(versions) >= VERSIONS_PER_ENDPOINT:
            version = OTHER_VERSION
        versions[version] = versions.get(version, 0) + count

    def merge(self, other: AnswerCounts) -> None:
        self.checked += other.checked
        self.wrong += other.wrong
        self.crossed += other.crossed
        self.echoed += other.echoed
        for version, count in other.versions.items():
            self._count_version(version, count)

    @property
    def versioned(self) -> int:
        return sum(self.versions.values())

    @property
    def crossover_checked(self) -> bool:
        """Whether cross-over could have been seen (golden answers or echoes compared)."""
        return bool(self.checked or self.echoed or self.crossed)

    def __bool__(self) -> bool:
        return bool(self.crossover_checked or self.versions)

    def to_wire(self) -> dict[str, Any]:
        return {
            "checked": self.checked, "wrong": self.wrong, "crossed": self.crossed,
            "echoed": self.echoed, "versions": dict(self.versions),
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any] | None) -> AnswerCounts:
        """Raises KeyError/TypeError/ValueError on a malformed wire dict."""
        if not wire:
            return cls()
        versions = {str(k): int(v) for k, v in dict(wire.get("versions") or {}).items()}
        return cls(
            int(wire.get("checked", 0)), int(wire.get("wrong", 0)),
            int(wire.get("crossed", 0)), versions, int(wire.get("echoed", 0)),
        )

    def copy(self) -> AnswerCounts:
        return AnswerCounts(
            self.checked, self.wrong, self.crossed, dict(self.versions), self.echoed
        )


def merge_wire(have: dict[str, Any], wire: Mapping[str, Any]) -> None:
    """Add one endpoint wire dict's ``answers`` into another's (the master's merge)."""
    theirs = wire.get("answers")
    if not theirs:
        return
    mine = AnswerCounts.from_wire(have.get("answers"))
    mine.merge(AnswerCounts.from_wire(theirs))
    have["answers"] = mine.to_wire()


def leading_version(versions: Mapping[str, int]) -> str | None:
    """The most answered version (ties: the first by name)."""
    if not versions:
        return None
    return min(versions.items(), key=lambda item: (-item[1], item[0]))[0]


def metric_value(metric: str, counts: AnswerCounts, expected: str | None) -> float | None:
    """One of :data:`ANSWER_METRICS`; None when there is nothing to measure."""
    if metric == "wrong_answer_rate":
        return counts.wrong / counts.checked if counts.checked else None
    if metric == "crossover_count":
        return float(counts.crossed) if counts.crossover_checked else None
    versioned = counts.versioned
    if not versioned:
        return None
    on_expected = counts.versions.get(expected, 0) if expected is not None else 0
    return (versioned - on_expected) / versioned


def nothing_measured(metric: str) -> str:
    """Why an answer metric has no value (the judge's ERROR reason)."""
    if metric == "version_skew":
        return (
            "no answer carried a model version (the step's model_version names the body "
            "field or header)"
        )
    return (
        f"no answer was checked for {metric} (send golden inputs with harness.load.ml, "
        "or check answers yourself and report them)"
    )


def describe(counts: AnswerCounts, expected: str | None) -> dict[str, Any]:
    """The answer figures of a selection, for reports (JSON-able)."""
    return {
        "checked": counts.checked,
        "wrong": counts.wrong,
        "echoed": counts.echoed,
        "crossed": counts.crossed,
        "wrong_answer_rate": metric_value("wrong_answer_rate", counts, expected),
        "crossover_count": counts.crossed if counts.crossover_checked else None,
        "versions": dict(sorted(counts.versions.items())),
        "expected_version": expected,
        "version_skew": metric_value("version_skew", counts, expected),
    }


class VersionSource:
    """Reads the model version of one answer, as the step names it (inside Locust)."""

    def __init__(self, spec: str) -> None:
        kind, _, name = spec.partition(":")
        if kind not in ("header", "field") or not name:
            raise ValueError(f"{VERSION_ENV}: expected 'header:NAME' or 'field:PATH', got {spec!r}")
        self.header = name if kind == "header" else None
        self.path = tuple(name.split(".")) if kind == "field" else ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> VersionSource | None:
        text = environ.get(VERSION_ENV, "").strip()
        return cls(text) if text else None

    def from_body(self, body: object) -> str | None:
        """The version in an already parsed JSON body (None when absent)."""
        for key in self.path:
            if not isinstance(body, dict):
                return None
            body = body.get(key)
        if body is None or isinstance(body, dict | list):
            return None
        return str(body)

    def from_response(self, response: Any) -> str | None:
        """The version of a response: its header, or its body field (one parse)."""
        if response is None:
            return None
        if self.header is not None:
            headers = getattr(response, "headers", None)
            value = headers.get(self.header) if headers is not None else None
            return str(value) if value else None
        status = getattr(response, "status_code", 0) or 0
        if not 200 <= status < 300:
            return None
        try:
            return self.from_body(json.loads(response.content or b"null"))
        except (ValueError, TypeError, AttributeError):
            return None


    def answer(self, response: Any) -> Answer | None:
        """The plugin's record of a response the helper did not report."""
        version = self.from_response(response)
        return Answer(version=version) if version is not None else None


def spec_text(header: str | None, field_path: str | None) -> str:
    """The :data:`VERSION_ENV` value for a step's model_version."""
    return f"header:{header}" if header else f"field:{field_path}"


def answer_point(counts: AnswerCounts) -> dict[str, Any]:
    """One second's answer figures, for the series (rollout windows, version flips)."""
    point: dict[str, Any] = {"versions": dict(sorted(counts.versions.items()))}
    if counts.crossover_checked:
        point.update(
            checked=counts.checked, wrong=counts.wrong, echoed=counts.echoed,
            crossed=counts.crossed,
        )
    return point


def version_json(source: Any, expected: str | None) -> dict[str, Any] | None:
    """metrics.model_version: where versions were read, and the expected one."""
    if source is None:
        return None
    where = f"header {source.header}" if source.header else f"body field {source.field}"
    return {"source": where, "expected": expected, "pinned": source.expected is not None}
