"""How many requests that started in each wall-clock second are still in flight, in
this Locust process.

Pure Python, no locust: a module-level table that the harness's session wrapper
(``harness.load.plugin``, closed-model requests: from the call into the session to
Locust's report of it) and the open-model scheduler (``harness.load.arrival``: from an
arrival's spawn to its end, keyed by its *intended* start) keep up to date, and that
the recorder reads once a second to ship each second's open count
(``harness.load.recorder.Recorder.take``).

Per request this is one dict increment and one decrement: no lock (gevent greenlets
switch only at I/O), no clock read beyond the one the caller already made.
"""

from __future__ import annotations

OPEN: dict[int, int] = {}
"""start second -> requests started in it and not yet reported (this process)."""


def opened(second: int) -> None:
    OPEN[second] = OPEN.get(second, 0) + 1


def closed(second: int) -> None:
    OPEN[second] -= 1
