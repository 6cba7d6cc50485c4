"""What the Locust plugin records per process, and how the master merges it.

Pure Python (hdrh and numpy, never locust): the plugin drives these from inside
Locust; tests drive them directly.

- A request is attributed to the wall-clock second in which it *started* (for an
  open-model arrival: its intended start), never the one in which it completed: a
  request sent during a fault belongs to the fault, however late its answer.
- Each second is shipped once it has ended (provisionally: answers still in flight
  arrive later). An answer for a second already shipped is shipped as a *late*
  delta for that same second; the master writes late deltas as further interval
  lines with ``"late": true``, and the orchestrator merges lines of one second.
- A failed request keeps its reason (:func:`failure_reason`), counted per endpoint.
- A request cut off at the end of the run (killed after the stop timeout) is
  counted as ``unfinished``: a request, a failure, with the reason "unfinished".
- *Closing*: each shipment of a second carries ``open``, the change since the last
  shipment in how many of its requests are still in flight in this process
  (``harness.load.inflight``); a second whose open count changed gets a late delta
  even without answers. The master sums the deltas of every worker and writes the
  total still open with every line of that second (and ``awaiting``: workers that
  have not reported it yet); the orchestrator closes a second once that total is 0
  for it and every earlier second (``harness.load.closing``).
"""

from __future__ import annotations

import json
import re
import time
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.load import answers, histogram
from harness.load.answers import Answer, AnswerCounts

UNFINISHED = "unfinished"
REASON_MAX_CHARS = 160
REASONS_PER_ENDPOINT = 20
"""Distinct reasons kept per endpoint and second; the rest count as "other"."""
OTHER_REASON = "other"
COUNTER_NAMES = ("scheduled", "sent", "unsent", "finished", "unfinished_arrivals")
WORKER_GRACE_S = 1.5

_SPACE = re.compile(r"\s+")


CLOSED = "ConnectionResetError"
"""The server closed or reset the connection before answering, whatever the client
calls it (geventhttpclient: HTTPConnectionClosed; requests: ConnectionError wrapping
ConnectionResetError or RemoteDisconnected)."""
_CLOSED_KINDS = frozenset({
    "ConnectionResetError", "HTTPConnectionClosed", "RemoteDisconnected",
    "ConnectionAbortedError", "BrokenPipeError",
})
_WRAPPED = (
    ("RemoteDisconnected", CLOSED), ("ConnectionResetError", CLOSED),
    ("Connection reset", CLOSED), ("Connection aborted", CLOSED),
    ("ConnectionRefusedError", "ConnectionRefusedError"),
    ("Connection refused", "ConnectionRefusedError"),
    ("timed out", "timeout"), ("Timeout", "timeout"),
)


def failure_reason(exception: object, status_code: int | None) -> str:
    """One normalised line: the locustfile's own ``response.failure(text)``, else
    ``HTTP 503`` for an HTTP error status, ``timeout``, ``ConnectionResetError`` (see
    :data:`CLOSED`), or the exception's type name."""
    kind = type(exception).__name__
    if kind == "CatchResponseError":
        text = _SPACE.sub(" ", str(exception)).strip()
        return text[:REASON_MAX_CHARS] or kind
    if status_code and status_code >= 400:
        return f"HTTP {status_code}"
    if isinstance(exception, TimeoutError) or "timeout" in kind.lower():
        return "timeout"
    if kind in _CLOSED_KINDS:
        return CLOSED
    if kind in ("ConnectionError", "ProtocolError", "ChunkedEncodingError"):
        text = str(exception)
        for fragment, reason in _WRAPPED:
            if fragment in text:
                return reason
    return kind


@dataclass
class EndpointRecord:
    request_type: str
    name: str
    failures: int = 0
    unfinished: int = 0
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    """Every answered request's latency, recorded in HDR at shipping (raw doubles: no
    float object is kept alive per request)."""
    reasons: dict[str, int] = field(default_factory=dict)
    answers: AnswerCounts | None = None  # model versions, checked answers (harness.load.ml)

    @property
    def count(self) -> int:
        """Requests: every answered one, and every one cut off at the end."""
        return len(self.latencies_ms) + self.unfinished

    def fail(self, reason: str) -> None:
        self.failures += 1
        reasons = self.reasons
        if reason not in reasons and len(reasons) >= REASONS_PER_ENDPOINT:
            reason = OTHER_REASON
        reasons[reason] = reasons.get(reason, 0) + 1

    def answered(self, answer: Answer) -> None:
        if self.answers is None:
            self.answers = AnswerCounts()
        self.answers.add(answer)

    def to_wire(self) -> dict[str, Any]:
        hist = histogram.new_histogram()
        histogram.record_many_ms(hist, self.latencies_ms)
        wire: dict[str, Any] = {
            "type": self.request_type,
            "name": self.name,
            "count": self.count,
            "failures": self.failures,
            "hist": histogram.encode(hist),
        }
        if self.reasons:
            wire["reasons"] = self.reasons
        if self.unfinished:
            wire["unfinished"] = self.unfinished
        if self.answers:
            wire["answers"] = self.answers.to_wire()
        return wire


class Recorder:
    """Per Locust process: the seconds (by request start) not shipped yet."""

    def __init__(self) -> None:
        self.seconds: dict[int, dict[tuple[str, str], EndpointRecord]] = {}
        self.first_second: int | None = None
        self.shipped_until = 0  # every second < this has been shipped at least once
        self.counters_shipped = dict.fromkeys(COUNTER_NAMES, 0)
        self.open_shipped: dict[int, int] = {}  # second -> open count last shipped

    def start(self, now: float | None = None) -> None:
        if self.first_second is None:
            self.first_second = int(time.time() if now is None else now)
            self.shipped_until = self.first_second

    def endpoint(self, request_type: str, name: str, start_s: float) -> EndpointRecord:
        """The record of this endpoint for the second ``start_s`` is in (made if new)."""
        second = int(start_s)
        bucket = self.seconds.get(second)
        if bucket is None:
            bucket = self.seconds[second] = {}
        key = (request_type, name)
        endpoint = bucket.get(key)
        if endpoint is None:
            endpoint = bucket[key] = EndpointRecord(request_type, name)
        return endpoint

    def record(
        self, request_type: str, name: str, start_s: float, latency_ms: float,
        reason: str | None, answer: Answer | None = None,
    ) -> None:
        """One answered request (the plugin's listener inlines the common case: see
        ``harness.load.plugin``): the HDR work happens at shipping."""
        bucket = self.seconds.get(int(start_s))
        endpoint = bucket.get((request_type, name)) if bucket is not None else None
        if endpoint is None:
            endpoint = self.endpoint(request_type, name, start_s)
        endpoint.latencies_ms.append(latency_ms)
        if reason is not None:
            endpoint.fail(reason)
        if answer is not None:
            endpoint.answered(answer)

    def record_unfinished(self, request_type: str, name: str, start_s: float) -> None:
        endpoint = self.endpoint(request_type, name, start_s)
        endpoint.unfinished += 1
        endpoint.fail(UNFINISHED)

    def take(
        self, until_second: int, counters: Mapping[str, int],
        in_flight: dict[int, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Wire dicts: every second < until_second not shipped yet (empty ones too),
        and a late delta for each earlier second that got answers, or whose count of
        requests in flight (``in_flight``, see ``harness.load.inflight``) changed,
        since. Entries of ``in_flight`` that reached 0 and were shipped are dropped."""
        if self.first_second is None:
            return []
        in_flight = {} if in_flight is None else in_flight
        late = {s for s in self.seconds if s < self.shipped_until}
        late.update(
            s for s, n in in_flight.items()
            if s < self.shipped_until and n != self.open_shipped.get(s, 0)
        )
        late.update(s for s in self.open_shipped if s not in in_flight)
        out = [self._wire(second, True, in_flight) for second in sorted(late)]
        for second in range(self.shipped_until, until_second):
            data = self._wire(second, False, in_flight)
            data.update(self._counter_deltas(counters))
            out.append(data)
        self.shipped_until = max(self.shipped_until, until_second)
        for second in [s for s, n in in_flight.items() if n == 0 and s < self.shipped_until]:
            del in_flight[second]
        return out

    def _wire(self, second: int, late: bool, in_flight: Mapping[int, int]) -> dict[str, Any]:
        endpoints = self.seconds.pop(second, {})
        wire = {f"{t} {n}": e.to_wire() for (t, n), e in endpoints.items()}
        data: dict[str, Any] = {"second": second, "endpoints": wire}
        if late:
            data["late"] = True
        now_open = in_flight.get(second, 0)
        delta = now_open - self.open_shipped.pop(second, 0)
        if now_open:
            self.open_shipped[second] = now_open
        if delta:
            data["open"] = delta
        return data

    def _counter_deltas(self, counters: Mapping[str, int]) -> dict[str, int]:
        deltas = {}
        for name in COUNTER_NAMES:
            now = counters.get(name, 0)
            deltas[name] = now - self.counters_shipped[name]
            self.counters_shipped[name] = now
        return deltas


def _empty(second: int) -> dict[str, Any]:
    return {"second": second, "endpoints": {}, **dict.fromkeys(COUNTER_NAMES, 0)}


def merge_wire(merged: dict[str, Any], data: dict[str, Any]) -> None:
    """Add one shipped second (or late delta) into a merged one of the same second."""
    for name in COUNTER_NAMES:
        merged[name] = merged.get(name, 0) + int(data.get(name, 0))
    for key, wire in data["endpoints"].items():
        have = merged["endpoints"].get(key)
        if have is None:
            merged["endpoints"][key] = {**wire, "reasons": dict(wire.get("reasons", {}))}
            continue
        total = histogram.decode(have["hist"])
        total.add(histogram.decode(wire["hist"]))
        have["hist"] = histogram.encode(total)
        for name in ("count", "failures", "unfinished"):
            have[name] = have.get(name, 0) + wire.get(name, 0)
        reasons = have.setdefault("reasons", {})
        for reason, count in wire.get("reasons", {}).items():
            reasons[reason] = reasons.get(reason, 0) + count
        answers.merge_wire(have, wire)


class Merger:
    """Master side: merges the workers' seconds, writes each second once it is
    complete, and every late delta as a further line for its second.

    Every line of a second says how many of its requests are still ``open`` (in
    flight in any worker, the sum of their deltas) and, while some worker has not
    reported that second yet, how many are ``awaiting`` (their open counts are not
    in the sum: the second cannot be closed yet)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending: dict[int, dict[str, Any]] = {}
        self.reports: dict[int, set[str]] = {}  # kept past writing while incomplete
        self.late: dict[int, dict[str, Any]] = {}
        self.open: dict[int, int] = {}  # second -> requests in flight, every worker
        self.written_until = 0

    def write_line(self, data: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(data, separators=(",", ":")) + "\n")

    def add(self, node: str, data: dict[str, Any]) -> None:
        second = int(data["second"])
        delta = int(data.get("open", 0))
        if delta:
            self.open[second] = self.open.get(second, 0) + delta
        if not data.get("late"):
            self.reports.setdefault(second, set()).add(node)
        target = self.late if second < self.written_until else self.pending
        merge_wire(target.setdefault(second, _empty(second)), data)

    def flush(self, workers: int, final: bool = False, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for second in sorted(self.pending):
            complete = len(self.reports.get(second, ())) >= max(workers, 1)
            if not (final or complete or now >= second + 1 + WORKER_GRACE_S):
                break
            data = self.pending.pop(second)
            self.write_line(
                {"type": "interval", "workers": workers, **data,
                 **self._closing(second, workers, first=True), "written_at": now}
            )
            self.written_until = second + 1
        for second in sorted(self.late):
            data = self.late.pop(second)
            self.write_line(
                {"type": "interval", "workers": workers, "late": True, **data,
                 **self._closing(second, workers, first=False), "written_at": now}
            )

    def _closing(self, second: int, workers: int, first: bool) -> dict[str, int]:
        """``open`` (and ``awaiting`` while > 0) for a line of ``second``; forgets the
        second once nothing of it is open or awaited (a second written complete has
        no reports entry left)."""
        if first:
            self.reports.setdefault(second, set())
        nodes = self.reports.get(second, set())
        awaiting = max(max(workers, 1) - len(nodes), 0) if second in self.reports else 0
        fields = {"open": self.open.get(second, 0)}
        if awaiting:
            fields["awaiting"] = awaiting
        else:
            self.reports.pop(second, None)
        if not fields["open"]:
            self.open.pop(second, None)
        return fields
