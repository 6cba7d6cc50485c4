"""The events of one stage, readable by each of its steps.

The engine makes one :class:`StageStream` per stage. Every event a step emits goes
to the run's stream (console, event log) and is kept here, in order, so that any
step of the stage can read what its siblings did: a chaos step's
:class:`~harness.events.PhaseChanged` marks are what a load step beside it judges
its phase criteria against. ``others_ended`` lets a step wait for its siblings
(e.g. until the last phase has been marked) before it judges.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TypeVar

from harness.events import Emit, Event, PhaseChanged
from harness.outcome import PhaseMark, StepOutcome

E = TypeVar("E", bound=Event)


class StageStream:
    def __init__(self, emit: Emit, steps: Sequence[str]) -> None:
        self._emit = emit
        self._events: list[Event] = []
        self._running = set(steps)
        self._waiting: set[str] = set()
        self._changed = asyncio.Event()
        self._held: dict[str, StepOutcome] = {}

    def emit(self, event: Event) -> None:
        self._events.append(event)
        self._emit(event)

    @property
    def events(self) -> tuple[Event, ...]:
        return tuple(self._events)

    def of_type(self, kind: type[E]) -> list[E]:
        return [event for event in self._events if isinstance(event, kind)]

    @property
    def phase_marks(self) -> list[PhaseMark]:
        """The phase boundaries marked so far (baseline, fault, recovery), in order."""
        return [PhaseMark(e.phase, e.at, e.detail) for e in self.of_type(PhaseChanged)]

    def hold(self, step: str, outcome: StepOutcome) -> None:
        """The outcome to report for ``step`` should it be interrupted from now on
        (a step that has judged what it could and waits for its siblings)."""
        self._held[step] = outcome

    def held(self, step: str) -> StepOutcome | None:
        return self._held.get(step)

    def step_ended(self, step: str) -> None:
        """Called by the engine when a step of the stage has its outcome."""
        self._running.discard(step)
        self._changed.set()

    async def others_ended(self, step: str, timeout_s: float | None = None) -> bool:
        """Wait until every other step of the stage has ended (or waits likewise, so that
        two waiting steps do not wait for each other); False if ``timeout_s`` passed first."""
        self._waiting.add(step)
        self._changed.set()
        try:
            async with asyncio.timeout(timeout_s):
                while self._running - self._waiting:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        finally:
            self._waiting.discard(step)
        return True
