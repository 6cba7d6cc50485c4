"""One second of measurements as the plugin streams it, parsed into frozen values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
    hist: str  # encoded HDR histogram, µs

    @property
    def key(self) -> str:
        return f"{self.request_type} {self.name}"


@dataclass(frozen=True)
class Interval:
    """Requests that completed in the wall-clock second [second, second + 1)."""

    second: int
    endpoints: Mapping[str, EndpointInterval] = field(default_factory=dict)
    scheduled: int = 0
    sent: int = 0
    unsent: int = 0
    workers: int = 1

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
            )
        return Interval(
            second=int(data["second"]),
            endpoints=endpoints,
            scheduled=int(data.get("scheduled", 0)),
            sent=int(data.get("sent", 0)),
            unsent=int(data.get("unsent", 0)),
            workers=int(data.get("workers", 1)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StreamError(f"malformed interval: {exc!r}") from None
