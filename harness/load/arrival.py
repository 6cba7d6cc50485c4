"""Open-model load for Locust: requests start on a schedule, whatever the responses do.

Runs INSIDE locust processes only (it imports locust, which gevent-patches the
process). Subclass :class:`ArrivalRateUser`, implement :meth:`arrival` (one
request, made with ``self.client``), and run it with plain ``locust -f`` or
through the harness::

    class PredictArrivals(ArrivalRateUser):
        rate = 200.0
        def arrival(self) -> None:
            self.client.post("/predict", json={...})

Each arrival gets its own greenlet, spawned just before its intended start time
(TIMER_LEAD_S), which it waits out in that greenlet before its request. The
rate is shared between all users of the class (``-u``; one user per worker
process is plenty): each user schedules ``rate / users`` arrivals per second.
An arrival that would exceed ``max_in_flight`` (also shared) is not sent and is
counted in :data:`COUNTERS` ("unsent").

At the end of the run (Locust asks the user to stop) scheduling stops; the
arrivals in flight get the stop timeout to finish, and those still open then are
killed and counted "unfinished_arrivals" (their requests: unfinished). So
``scheduled = finished + unfinished_arrivals + unsent``.

Closing: from its spawn to its end an arrival is counted in flight
(``harness.load.inflight``) for the wall-clock second of its intended start, so the
plugin knows when every arrival of a second has ended; and no second is shipped
before the scheduler has spawned all of its arrivals (:data:`HORIZON`).

Coordinated omission: the harness plugin measures the latency of a request
made by an arrival from its *intended* start (:func:`intended`), not from
when the request could actually be sent. Locust's own statistics keep the
service time (time from send to response), so both can be compared.

Settings (class attributes, overridden by the environment):
HARNESS_ARRIVAL_RATE, HARNESS_ARRIVAL_RAMP_TO, HARNESS_ARRIVAL_POISSON (1/0),
HARNESS_ARRIVAL_MAX_IN_FLIGHT. A ramp goes linearly from ``rate`` to
``ramp_to`` over the run time (``-t``).
"""

from __future__ import annotations

import math
import os
import random
import time
from typing import Any

import gevent
import gevent.local
import gevent.pool
from locust import FastHttpUser, constant, task
from locust.user.task import LOCUST_STATE_STOPPING

from harness.load import inflight

TIMER_LEAD_S = 0.0015
STOP_MARGIN_S = 0.5
"""Arrivals are killed this long before Locust's stop timeout would kill the user."""

_ARRIVAL = gevent.local.local()

COUNTERS: dict[str, int] = {
    "scheduled": 0, "sent": 0, "unsent": 0, "finished": 0, "unfinished_arrivals": 0,
}
"""Per locust process, since start; the plugin ships the deltas every interval."""


HORIZON: dict[int, float] = {}
"""Per scheduling user: the time.time() of its next arrival. Every arrival due before
the earliest of them has been spawned (and counted in flight), so the seconds before
it are complete: the plugin ships no later second (a scheduler running late under
load must not let a second be shipped, and closed, before its last arrivals)."""


def shippable_until(now_s: float) -> int:
    """The first second not to ship yet at ``now_s``: the current one, or that of the
    earliest arrival still to be spawned."""
    until = int(now_s)
    return min(until, int(min(HORIZON.values()))) if HORIZON else until


IN_USE = [False]
"""Set once an ArrivalRateUser schedules: until then no greenlet has an intended start
(lets the plugin skip the greenlet-local look-up per request of a closed model)."""


def intended() -> tuple[float, float] | None:
    """(perf_counter() time, time.time() time) at which the current greenlet's
    arrival was due, if any: the wall-clock time is computed once, at its spawn, so
    that the second it is counted in flight for (``harness.load.inflight``) and the
    second its requests are recorded in are the same."""
    if not IN_USE[0]:
        return None
    value: tuple[float, float] | None = getattr(_ARRIVAL, "due", None)
    return value


def intended_start_wall() -> float:
    """time.time() at which the current greenlet's arrival was due (now if none)."""
    due = intended()
    return time.time() if due is None else due[1]


def _env_float(name: str, default: float | None) -> float | None:
    text = os.environ.get(name, "").strip()
    return float(text) if text else default


class ArrivalRateUser(FastHttpUser):
    abstract = True
    wait_time = constant(0)

    rate: float = 10.0
    ramp_to: float | None = None
    poisson: bool = False
    max_in_flight: int = 500
    concurrency = 1000  # FastHttpSession's connection pool: per user, >= its in-flight cap

    def arrival(self) -> None:
        """One arrival: make one request with ``self.client``."""
        raise NotImplementedError("ArrivalRateUser subclasses implement arrival()")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arrivals = gevent.pool.Group()
        self._in_flight = 0

    def on_stop(self) -> None:
        self._arrivals.kill(block=True, timeout=1.0)

    def _drain(self) -> None:
        """The run is over: let the arrivals in flight finish within the stop timeout,
        then cut the rest (counted unfinished)."""
        stop_timeout_s = float(getattr(self.environment, "stop_timeout", 0.0) or 0.0)
        self._arrivals.join(timeout=max(stop_timeout_s - STOP_MARGIN_S, 0.0))
        self._arrivals.kill(block=True, timeout=1.0)

    def _settings(self) -> tuple[float, float, bool, int]:
        options = getattr(self.environment, "parsed_options", None)
        users = max(int(getattr(options, "num_users", 0) or 1), 1)
        rate = _env_float("HARNESS_ARRIVAL_RATE", self.rate) or self.rate
        ramp_to = _env_float("HARNESS_ARRIVAL_RAMP_TO", self.ramp_to)
        poisson_text = os.environ.get("HARNESS_ARRIVAL_POISSON", "").strip().lower()
        poisson = poisson_text in ("1", "true", "yes") if poisson_text else self.poisson
        max_in_flight = int(
            _env_float("HARNESS_ARRIVAL_MAX_IN_FLIGHT", float(self.max_in_flight))
            or self.max_in_flight
        )
        share = 1.0 / users
        return (
            rate * share,
            (ramp_to if ramp_to is not None else rate) * share,
            poisson,
            max(1, math.ceil(max_in_flight * share)),
        )

    @task
    def schedule(self) -> None:
        start_rate, end_rate, poisson, max_in_flight = self._settings()
        options = getattr(self.environment, "parsed_options", None)
        run_time_s = float(getattr(options, "run_time", 0) or 0)
        rng = random.Random()
        IN_USE[0] = True
        start = time.perf_counter()
        due = start
        try:
            while self._state != LOCUST_STATE_STOPPING:
                elapsed = due - start
                if run_time_s > 0 and end_rate != start_rate:
                    progress = min(elapsed / run_time_s, 1.0)
                    rate = start_rate + (end_rate - start_rate) * progress
                else:
                    rate = start_rate
                due += rng.expovariate(rate) if poisson else 1.0 / rate
                wall = time.time() - (time.perf_counter() - due)
                HORIZON[id(self)] = wall
                if not self._sleep_until(due):
                    break
                COUNTERS["scheduled"] += 1
                if self._in_flight >= max_in_flight:
                    COUNTERS["unsent"] += 1
                    continue
                COUNTERS["sent"] += 1
                self._in_flight += 1
                inflight.opened(int(wall))
                self._arrivals.spawn(self._arrive, due, wall)
        finally:
            HORIZON.pop(id(self), None)
        self._drain()

    def _sleep_until(self, due: float) -> bool:
        """Sleep until TIMER_LEAD_S before ``due`` (at least yield); False once the
        user is stopping.

        gevent's timers wake up to a millisecond late (epoll's timeout is in whole
        ms; measured: open-model p50 +1.0 ms against the true service time), and every
        arrival is timed from ``due``: so the scheduler wakes up early and spawns the
        arrival then, which waits out the rest itself (:func:`_until_due`)."""
        while True:
            delay = due - time.perf_counter() - TIMER_LEAD_S
            gevent.sleep(min(max(delay, 0.0), 0.25))
            if self._state == LOCUST_STATE_STOPPING:
                return False
            if delay <= 0.25:
                return True

    def _arrive(self, due: float, wall: float) -> None:
        """One arrival, in flight (for the second of ``wall``) until it ends."""
        _ARRIVAL.due = (due, wall)
        try:
            _until_due(due)
            self.arrival()
        except gevent.GreenletExit:
            COUNTERS["unfinished_arrivals"] += 1
            raise
        except Exception:  # a request error is already reported by the client
            COUNTERS["finished"] += 1
        else:
            COUNTERS["finished"] += 1
        finally:
            self._in_flight -= 1
            inflight.closed(int(wall))


def _until_due(due: float) -> None:
    """Yield (``sleep(0)``: other greenlets still run) until ``due``, in the arrival's
    own greenlet: its request goes out within one turn of gevent's loop of ``due``.
    (Spawned at ``due`` instead, it started one or more turns later: measured here,
    0.13-0.15 ms at the median, at load 2.5 on 2 cores.)"""
    while time.perf_counter() < due:
        gevent.sleep(0)
