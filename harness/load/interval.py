"""One second of measurements as the plugin streams it, parsed into frozen values.

An interval holds the requests that *started* in its second. A second is written
once it has ended; answers that came later (a stall, a freeze) follow as further
``late`` lines for the same second, merged with :func:`merge_intervals`. Every line
says how many of the second's requests are still in flight (``open``, summed over
the workers, as of that line) and how many workers have not reported the second yet
(``awaiting``): the merged interval keeps the latest line's figures, from which
``harness.load.closing`` decides when the second is closed (final).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from harness.load import histogram
from harness.load.answers import AnswerCounts

PIPELINE_TYPE = "PIPELINE"
"""Request type of the custom entries a pipeline scenario fires per pipeline run
(response time = pipeline duration, failure = the pipeline did not succeed).
They are kept out of the overall request figures."""


class StreamError(ValueError):
    """A line of the interval stream that cannot be read."""


@dataclass(frozen=True)
class EndpointInterval:
    request_type: str
    name: str
    count: int
    failures: int
    hist: str  # encoded HDR histogram, µs (finished requests only)
    reasons: Mapping[str, int] = field(default_factory=dict)  # failure reason -> count
    unfinished: int = 0  # cut off at the end of the run: in count and failures
    answers: AnswerCounts | None = None  # versions, checked answers (never mutated)

    @property
    def key(self) -> str:
        return f"{self.request_type} {self.name}"


@dataclass(frozen=True)
class Interval:
    """Requests that started in the wall-clock second [second, second + 1)."""

    second: int
    endpoints: Mapping[str, EndpointInterval] = field(default_factory=dict)
    scheduled: int = 0
    sent: int = 0
    unsent: int = 0
    workers: int = 1
    finished: int = 0  # open model: arrivals that completed
    unfinished_arrivals: int = 0  # open model: arrivals cut off at the end
    late: bool = False  # answers for a second already written
    open: int = 0  # requests of this second still in flight as of this line (all workers)
    awaiting: int = 0  # workers that had not reported this second yet

    @property
    def requests(self) -> int:
        return sum(e.count for e in self.endpoints.values() if e.request_type != PIPELINE_TYPE)

    @property
    def failures(self) -> int:
        return sum(e.failures for e in self.endpoints.values() if e.request_type != PIPELINE_TYPE)


@dataclass(frozen=True)
class StreamLine:
    kind: str  # "start" | "interval" | "end"
    interval: Interval | None = None


def merge_endpoints(a: EndpointInterval, b: EndpointInterval) -> EndpointInterval:
    total = histogram.decode(a.hist)
    histogram.add_into(total, histogram.decode(b.hist))
    reasons = dict(a.reasons)
    for reason, count in b.reasons.items():
        reasons[reason] = reasons.get(reason, 0) + count
    answers = a.answers
    if b.answers is not None:
        answers = b.answers.copy() if a.answers is None else a.answers.copy()
        if a.answers is not None:
            answers.merge(b.answers)
    return replace(
        a,
        answers=answers,
        count=a.count + b.count,
        failures=a.failures + b.failures,
        hist=histogram.encode(total),
        reasons=reasons,
        unfinished=a.unfinished + b.unfinished,
    )


def merge_intervals(a: Interval, b: Interval) -> Interval:
    """One interval holding both (lines of the same second: the written one and its
    late answers, ``b`` the later line: its open and awaiting counts are the current
    ones)."""
    endpoints = dict(a.endpoints)
    for key, endpoint in b.endpoints.items():
        have = endpoints.get(key)
        endpoints[key] = endpoint if have is None else merge_endpoints(have, endpoint)
    return Interval(
        second=a.second,
        endpoints=endpoints,
        scheduled=a.scheduled + b.scheduled,
        sent=a.sent + b.sent,
        unsent=a.unsent + b.unsent,
        workers=max(a.workers, b.workers),
        finished=a.finished + b.finished,
        unfinished_arrivals=a.unfinished_arrivals + b.unfinished_arrivals,
        late=False,
        open=b.open,
        awaiting=b.awaiting,
    )


def parse_line(text: str) -> StreamLine:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StreamError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise StreamError("not a JSON object")
    kind = data.get("type")
    if kind in ("start", "end"):
        return StreamLine(str(kind))
    if kind != "interval":
        raise StreamError(f"unknown line type {kind!r}")
    return StreamLine("interval", _interval(data))


def _interval(data: dict[str, Any]) -> Interval:
    try:
        endpoints = {}
        for key, wire in dict(data.get("endpoints") or {}).items():
            endpoints[str(key)] = EndpointInterval(
                request_type=str(wire["type"]),
                name=str(wire["name"]),
                count=int(wire["count"]),
                failures=int(wire["failures"]),
                hist=str(wire["hist"]),
                reasons={str(k): int(v) for k, v in dict(wire.get("reasons") or {}).items()},
                unfinished=int(wire.get("unfinished", 0)),
                answers=AnswerCounts.from_wire(wire["answers"]) if "answers" in wire else None,
            )
        return Interval(
            second=int(data["second"]),
            endpoints=endpoints,
            scheduled=int(data.get("scheduled", 0)),
            sent=int(data.get("sent", 0)),
            unsent=int(data.get("unsent", 0)),
            workers=int(data.get("workers", 1)),
            finished=int(data.get("finished", 0)),
            unfinished_arrivals=int(data.get("unfinished_arrivals", 0)),
            late=bool(data.get("late", False)),
            open=int(data.get("open", 0)),
            awaiting=int(data.get("awaiting", 0)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StreamError(f"malformed interval: {exc!r}") from None
