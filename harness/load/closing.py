"""Which seconds of a load run are closed (final) and which are still provisional.

Every line of the interval stream says how many requests that started in its second
are still in flight (``open``, summed over the workers) and how many workers have
not reported that second yet (``awaiting``); see ``harness.load.recorder``. A second
is *closed* once none of its requests can still be answered:

- ``answers``: its latest line says nothing open and no worker awaited, and every
  earlier second is closed. Seconds close in order: a closed-model request is counted
  in flight from the wall clock read as it enters the session, a few microseconds
  before Locust reads its own start time, so at a second's edge its answer may be
  recorded in the next second; it is answered before its own second closes, hence
  before any later second does.
- ``timeout``: its requests' bound has passed, ``second + 1 + bound_s``. What bounds a
  request in this code base is the end of the run: Locust stops the users at the
  run time (at most the step's duration after any second of it) and kills whatever
  is still in flight once the stop timeout has passed (counted ``unfinished``). So
  the runner passes ``duration + stop_timeout + a margin for shipping``. (Clients
  have their own timeouts — FastHttpUser's ``network_timeout``, 60 s by default,
  requests' none — which the locustfile owns; they only end requests sooner.)
- ``end``: the run is over and its stream read to the end: what was still open then
  has been killed and counted ``unfinished`` by the plugin.

The live display and ``abort`` judge provisional seconds (they cannot wait);
final criteria per phase, sustained windows and ``recovery_time`` read closed
ones (:attr:`harness.load.judge.Judge.closed_intervals`). A closed second stays
closed: a line for it that arrives later is still merged (nothing is lost) and
counted in :attr:`Closing.lines_after_close`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.load.interval import Interval

ANSWERS = "answers"
TIMEOUT = "timeout"
END = "end"


@dataclass(frozen=True)
class Closure:
    """A second closed at ``closed_at`` (time.time() of the orchestrator) ``by``
    answers, timeout or the end of the run; ``open_when_written``: how many of its
    requests were still in flight when its first line was written."""

    second: int
    closed_at: float
    by: str
    open_when_written: int

    def json(self) -> dict[str, object]:
        return {
            "closed_at": round(self.closed_at, 3), "closed_by": self.by,
            "open_when_written": self.open_when_written,
        }


class Closing:
    """Fed every line of the stream (in order); closes seconds as they qualify."""

    def __init__(self, bound_s: float = math.inf) -> None:
        self.bound_s = bound_s
        self.provisional: dict[int, tuple[int, int]] = {}  # second -> (open, awaiting)
        self.first_open: dict[int, int] = {}
        self.closures: dict[int, Closure] = {}
        self.lines_after_close = 0
        self.requests_after_close = 0

    def is_closed(self, second: int) -> bool:
        return second in self.closures

    def observe(self, interval: Interval, now: float) -> list[Closure]:
        """Note one line; return the seconds it (or the time) closed, in order."""
        second = interval.second
        if second in self.closures:
            self.lines_after_close += 1
            self.requests_after_close += interval.requests
            return self.advance(now)
        if second not in self.first_open:
            self.first_open[second] = interval.open
        self.provisional[second] = (interval.open, interval.awaiting)
        return self.advance(now)

    def advance(self, now: float) -> list[Closure]:
        """Close, in order, the seconds whose requests all ended or timed out."""
        closed = []
        for second in sorted(self.provisional):
            open_now, awaiting = self.provisional[second]
            if open_now <= 0 and awaiting <= 0:
                by = ANSWERS
            elif now >= second + 1 + self.bound_s:
                by = TIMEOUT
            else:
                break
            closed.append(self._close(second, now, by))
        return closed

    def close_all(self, now: float) -> list[Closure]:
        """The run is over: close what answers or time did not."""
        closed = self.advance(now)
        closed += [self._close(second, now, END) for second in sorted(self.provisional)]
        return closed

    def _close(self, second: int, now: float, by: str) -> Closure:
        del self.provisional[second]
        closure = Closure(second, now, by, self.first_open.pop(second, 0))
        self.closures[second] = closure
        return closure

    def summary(self) -> dict[str, object]:
        """For the step's metrics: how the seconds closed and how long it took."""
        by = {kind: 0 for kind in (ANSWERS, TIMEOUT, END)}
        for closure in self.closures.values():
            by[closure.by] += 1
        delays = [c.closed_at - (c.second + 1) for c in self.closures.values()]
        return {
            "seconds": len(self.closures),
            "provisional": len(self.provisional),
            "closed_by": by,
            "written_with_open": sum(1 for c in self.closures.values() if c.open_when_written),
            "max_close_delay_s": round(max(delays), 3) if delays else None,
            "lines_after_close": self.lines_after_close,
            "requests_after_close": self.requests_after_close,
        }
