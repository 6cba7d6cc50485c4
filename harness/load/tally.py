"""Merged measurements of a set of intervals, and the metric values read from them.

A :class:`Tally` holds one merged HDR histogram per endpoint (fixed memory,
whatever the run length); it answers every load metric of the criteria
language for the intervals added to it.

Selectors: ``p99{name="POST /predict"}`` matches the endpoint whose key
"<request type> <name>" equals the label (Locust's request type is the HTTP
method), or, failing that, every endpoint whose Locust name equals it
(``name="/predict"`` merges all methods). Without a selector the metric covers
every endpoint except the pipeline entries (request type PIPELINE), which
only feed ``completion_rate`` and ``pipeline_p*``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from harness.criteria import PERCENTILE_RE
from harness.load import answers, histogram
from harness.load.answers import ANSWER_METRICS, AnswerCounts
from harness.load.interval import PIPELINE_TYPE, Interval

STANDARD_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
TOP_REASONS = 5


class SelectionError(ValueError):
    """A selector that matches no endpoint."""


@dataclass
class _Endpoint:
    request_type: str
    name: str
    count: int = 0
    failures: int = 0
    hist: HdrHistogram = field(default_factory=histogram.new_histogram)
    reasons: dict[str, int] = field(default_factory=dict)
    unfinished: int = 0
    answers: AnswerCounts = field(default_factory=AnswerCounts)


@dataclass(frozen=True)
class Selection:
    count: int
    failures: int
    hist: HdrHistogram
    reasons: Mapping[str, int] = field(default_factory=dict)
    unfinished: int = 0
    answers: AnswerCounts = field(default_factory=AnswerCounts)

    def top_reasons(self, limit: int = TOP_REASONS) -> tuple[tuple[str, int], ...]:
        """The most frequent failure reasons, most frequent first (ties by name)."""
        ranked = sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))
        return tuple(ranked[:limit])


class Tally:
    """``expected_version``: the model version pinned for ``version_skew`` (None: the
    first seen in this tally, see :meth:`expected_version`)."""

    def __init__(
        self, intervals: Iterable[Interval] = (), expected_version: str | None = None
    ) -> None:
        self.pinned_version = expected_version
        self.first_versions: tuple[int, AnswerCounts] | None = None  # (second, versions)
        self.endpoints: dict[str, _Endpoint] = {}
        self.seconds = 0
        self.scheduled = 0
        self.sent = 0
        self.unsent = 0
        self.finished = 0
        self.unfinished_arrivals = 0
        self.first_second: int | None = None
        self.last_second: int | None = None
        self.first_active: int | None = None  # first and last second with requests
        self.last_active: int | None = None
        for interval in intervals:
            self.add(interval)

    def add(self, interval: Interval) -> None:
        self.seconds += 1
        self.scheduled += interval.scheduled
        self.sent += interval.sent
        self.unsent += interval.unsent
        self.finished += interval.finished
        self.unfinished_arrivals += interval.unfinished_arrivals
        if self.first_second is None or interval.second < self.first_second:
            self.first_second = interval.second
        if self.last_second is None or interval.second > self.last_second:
            self.last_second = interval.second
        if interval.endpoints and any(e.count for e in interval.endpoints.values()):
            if self.first_active is None or interval.second < self.first_active:
                self.first_active = interval.second
            if self.last_active is None or interval.second > self.last_active:
                self.last_active = interval.second
        for key, measured in interval.endpoints.items():
            endpoint = self.endpoints.get(key)
            if endpoint is None:
                endpoint = self.endpoints[key] = _Endpoint(measured.request_type, measured.name)
            endpoint.count += measured.count
            endpoint.failures += measured.failures
            endpoint.unfinished += measured.unfinished
            for reason, count in measured.reasons.items():
                endpoint.reasons[reason] = endpoint.reasons.get(reason, 0) + count
            if measured.count:
                histogram.add_into(endpoint.hist, histogram.decode(measured.hist))
            if measured.answers is not None:
                endpoint.answers.merge(measured.answers)
                self._note_versions(interval.second, measured.answers)

    def _note_versions(self, second: int, counts: AnswerCounts) -> None:
        if not counts.versions:
            return
        first = self.first_versions
        if first is None or second < first[0]:
            self.first_versions = (second, counts.copy())
        elif second == first[0]:
            first[1].merge(counts)

    @property
    def expected_version(self) -> str | None:
        """The pinned version, else the most answered one of the first versioned second."""
        if self.pinned_version is not None:
            return self.pinned_version
        if self.first_versions is None:
            return None
        return answers.leading_version(self.first_versions[1].versions)

    @property
    def active_span_s(self) -> float:
        """Seconds from the first to the last second with requests (1 at least)."""
        if self.first_active is None or self.last_active is None:
            return 1.0
        return float(self.last_active - self.first_active + 1)

    @property
    def requests(self) -> int:
        return self.select({}).count

    def select(self, labels: Mapping[str, str], pipeline: bool = False) -> Selection:
        if pipeline:
            chosen = [e for e in self.endpoints.values() if e.request_type == PIPELINE_TYPE]
        elif "name" in labels:
            wanted = labels["name"]
            chosen = [
                e for key, e in self.endpoints.items() if key == wanted
            ] or [e for e in self.endpoints.values() if e.name == wanted]
            if not chosen:
                seen = ", ".join(sorted(self.endpoints)) or "none"
                raise SelectionError(f"no requests named {wanted!r} (endpoints seen: {seen})")
        else:
            chosen = [e for e in self.endpoints.values() if e.request_type != PIPELINE_TYPE]
        if len(chosen) == 1:
            return _selection(chosen[0])
        merged = histogram.new_histogram()
        reasons: dict[str, int] = {}
        counts = AnswerCounts()
        for endpoint in chosen:
            histogram.add_into(merged, endpoint.hist)
            for reason, count in endpoint.reasons.items():
                reasons[reason] = reasons.get(reason, 0) + count
            counts.merge(endpoint.answers)
        return Selection(
            sum(e.count for e in chosen), sum(e.failures for e in chosen), merged, reasons,
            sum(e.unfinished for e in chosen), counts,
        )

    def value(self, metric: str, labels: Mapping[str, str], span_s: float) -> float | None:
        """The metric over this tally (None when there is nothing to measure).

        Latencies in ms, rates as fractions, pipeline durations in s. ``span_s`` is
        the wall time the tally covers (for rps). cpu_utilisation and
        recovery_time are not request metrics: see the judge.
        """
        if metric in ("completion_rate",) or metric.startswith("pipeline_"):
            pipes = self.select({}, pipeline=True)
            if not pipes.count:
                return None
            if metric == "completion_rate":
                return (pipes.count - pipes.failures) / pipes.count
            match = PERCENTILE_RE.match(metric.removeprefix("pipeline_"))
            if not match:
                return None
            return histogram.percentiles_ms(pipes.hist, [float(match["q"])])[
                float(match["q"])
            ] / 1000.0
        if metric == "unsent":
            return float(self.unsent)
        chosen = self.select(labels)
        if metric in ANSWER_METRICS:
            return answers.metric_value(metric, chosen.answers, self.expected_version)
        if metric == "requests":
            return float(chosen.count)
        if metric == "failures":
            return float(chosen.failures)
        if metric == "rps":
            return chosen.count / span_s if span_s > 0 else None
        if metric == "error_rate":
            return chosen.failures / chosen.count if chosen.count else None
        return latency_ms(chosen.hist, metric)

    def summary(self, span_s: float) -> dict[str, object]:
        """Figures per endpoint and overall, for reports (JSON-able)."""
        rows: dict[str, object] = {}
        keys = sorted(self.endpoints)
        for key in [*keys, ""]:
            chosen = _selection(self.endpoints[key]) if key else self.select({})
            rows[key or "overall"] = describe(chosen, span_s, self.expected_version)
        return rows


def _selection(endpoint: _Endpoint) -> Selection:
    return Selection(
        endpoint.count, endpoint.failures, endpoint.hist, endpoint.reasons, endpoint.unfinished,
        endpoint.answers,
    )


def reasons_json(pairs: Iterable[tuple[str, int]]) -> list[dict[str, object]]:
    """[{"reason": "HTTP 503", "count": 12}, ...] (verdict.json, metrics)."""
    return [{"reason": reason, "count": count} for reason, count in pairs]


def reasons_text(pairs: Iterable[tuple[str, int]]) -> str:
    """'HTTP 503 (12), ConnectionResetError (3)' (summaries, console, JUnit)."""
    return ", ".join(f"{reason} ({count})" for reason, count in pairs)


def latency_ms(hist: HdrHistogram, metric: str) -> float | None:
    if metric == "max":
        return histogram.max_ms(hist)
    if metric == "min":
        return histogram.min_ms(hist)
    if metric == "mean":
        return histogram.mean_ms(hist)
    q = 50.0 if metric == "median" else None
    match = PERCENTILE_RE.match(metric)
    if match:
        q = float(match["q"])
    if q is None:
        return None
    return histogram.percentiles_ms(hist, [q]).get(q)


def describe(
    chosen: Selection, span_s: float, expected_version: str | None = None
) -> dict[str, object]:
    """Figures of a selection; ``answers`` (model versions, wrong answers) only when any
    answer carried a version or was checked."""
    values = histogram.percentiles_ms(chosen.hist, STANDARD_PERCENTILES)
    figures: dict[str, object] = {
        "requests": chosen.count,
        "failures": chosen.failures,
        "error_rate": chosen.failures / chosen.count if chosen.count else None,
        "rps": round(chosen.count / span_s, 3) if span_s > 0 else None,
        "p50_ms": values.get(50.0),
        "p90_ms": values.get(90.0),
        "p95_ms": values.get(95.0),
        "p99_ms": values.get(99.0),
        "p99.9_ms": values.get(99.9),
        "max_ms": histogram.max_ms(chosen.hist),
        "min_ms": histogram.min_ms(chosen.hist),
        "mean_ms": round(m, 3) if (m := histogram.mean_ms(chosen.hist)) is not None else None,
        "unfinished": chosen.unfinished,
        "reasons": reasons_json(chosen.top_reasons()),
    }
    if chosen.answers:
        figures["answers"] = answers.describe(chosen.answers, expected_version)
    return figures
