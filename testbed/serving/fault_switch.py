"""The fault state as one replica sees it: re-read when the state file changes.

Each request costs one ``os.stat``; the file is parsed again only when its (mtime, size,
inode) changes. Random draws come from a golden-ratio additive sequence with a random start
per replica (a low-discrepancy sequence): the marginal distribution is the one asked for, and a
short run already shows the asked-for percentiles and error rate instead of a sampling accident.
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

from testbed.faults import ErrorFault, FaultSpecError, FaultState, LatencyFault, read_fault_state

_GOLDEN = 0.6180339887498949
_log = logging.getLogger("testbed.serving")


class _Sequence:
    def __init__(self) -> None:
        self._u = random.random()

    def next(self) -> float:
        self._u = (self._u + _GOLDEN) % 1.0
        return self._u


class FaultSwitch:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._key: tuple[int, int, int] | None = None
        self._state = FaultState()
        self._latency_draws = _Sequence()
        self._error_draws = _Sequence()
        self.problem = ""
        """Why the last change of the file could not be applied ("" when it was)."""

    def current(self) -> FaultState:
        try:
            st = os.stat(self._path)
            key: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            key = None
        if key != self._key:
            self._key = key
            try:
                self._state = read_fault_state(self._path)
                self.problem = ""
            except (FaultSpecError, OSError) as exc:
                # Keep the last good state: a bad write must not silently clear faults.
                self.problem = str(exc)
                _log.warning("fault state not applied: %s", exc)
        return self._state

    def next_delay_s(self, fault: LatencyFault) -> float:
        return fault.delay_ms(self._latency_draws.next()) / 1000.0

    def should_fail(self, fault: ErrorFault) -> bool:
        return self._error_draws.next() < fault.rate
