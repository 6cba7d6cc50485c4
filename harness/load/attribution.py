"""Which seconds of a load run a phase criterion judges.

An interval holds the requests that *started* in its wall-clock second. Chaos marks
its phases at any instant, so a mark can fall inside a second: that second's
requests were sent in two phases, and the interval cannot tell which were which.
Such a second is judged in neither phase (it still counts in the whole-run figures):
judging it in one of them puts requests sent during a fault into the baseline (a
latency fault injected at 10.7 s gave a 190 ms request in the baseline's last
second), or requests sent during a freeze into the recovery.

The users' ramp is no baseline either: every closed-model user starts at once and
sends its first request on a new connection, a burst the platform never sees in
steady traffic (20 users spawned together: p95 37-48 ms in that second against 2-12
ms in the next ten, on a machine at load 3). The seconds of the ramp are left out of
the phases' figures (``warmup_s``; 0 for the open model, whose arrivals start on
schedule).

:func:`phase_of` (the phase in force at a second's midpoint) stays the display view:
the series' shading and the history's per-phase figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.load.interval import Interval
from harness.outcome import PhaseMark


def phase_of(second: int, marks: Sequence[PhaseMark]) -> str | None:
    """The phase an interval [second, second + 1) is shown in: the last mark at or
    before its midpoint."""
    current = None
    for mark in sorted(marks, key=lambda m: m.at):
        if mark.at <= second + 0.5:
            current = mark.phase
    return current


def sent_phase_of(second: int, marks: Sequence[PhaseMark]) -> str | None:
    """The phase every request that started in [second, second + 1) was sent in;
    None before the first mark and when a mark falls inside the second."""
    current = None
    for mark in sorted(marks, key=lambda m: m.at):
        if mark.at <= second:
            current = mark.phase
        elif mark.at < second + 1:
            return None
    return current


def warmup_seconds(users: int, spawn_rate: float, open_model: bool) -> int:
    """How many seconds from the first request the users' ramp lasts (at least the
    first second for a closed model: its users' first requests)."""
    if open_model:
        return 0
    return max(1, math.ceil(users / spawn_rate))


def phase_intervals(
    intervals: Sequence[Interval], marks: Sequence[PhaseMark], phase: str, warmup_s: int = 0
) -> list[Interval]:
    """The intervals a criterion of ``phase`` judges: wholly sent in that phase, after
    the ramp."""
    first = next((i.second for i in intervals if i.requests), None)
    settled = (first if first is not None else 0) + warmup_s
    return [
        i for i in intervals if i.second >= settled and sent_phase_of(i.second, marks) == phase
    ]
