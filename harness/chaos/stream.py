"""The chaos event stream: JSON lines appended by the control and the fault driver (both run
inside ``chaos run``) and tailed live by the runner (in the orchestrator).

The file is named by env ``HARNESS_CHAOS_EVENTS``; with no such variable (a plain
``chaos run`` by hand) nothing is written. Each line is one object with at least
``event`` (a kebab-case name) and ``at`` (wall-clock seconds, time.time()).

Events written:

- control: ``experiment-started``, ``hypothesis-started``/``hypothesis-finished``
  (``when``: before|after), ``method-started``/``method-finished``, ``rollbacks-started``/
  ``rollbacks-finished``, ``activity-started``/``activity-finished`` (``name``, ``type``,
  ``stage``: hypothesis-before|method|hypothesis-after|rollbacks, ``status``),
  ``pause-started`` (``name``, ``seconds``), ``experiment-finished`` (``status``, ``deviated``).
- driver: ``fault-injected`` (``fault``, ``target``, ``ledger_id``) right after a fault is in
  place, ``fault-reverted`` (``fault``, ``target``, ``ok``, ``detail``, ``ledger_id``) right
  after a revert was verified.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.line_tail import LineTail
from wholefile import append_line

EVENTS_ENV = "HARNESS_CHAOS_EVENTS"


def append_event(event: str, **fields: Any) -> None:
    """Append one event line to the stream named by the environment (if any).

    One ``write`` of one line on an O_APPEND file: lines from threads of the same
    process never interleave. Never raises: the stream is telemetry, not control.
    """
    path = os.environ.get(EVENTS_ENV)
    if not path:
        return
    line = json.dumps({"event": event, "at": time.time(), **fields}, default=str) + "\n"
    try:
        append_line(path, line)
    except OSError:
        pass


@dataclass
class StreamReader:
    """Incremental reader: each ``poll`` returns the complete lines added since the last one."""

    path: Path
    bad_lines: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)
    _tail: LineTail = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._tail = LineTail(self.path)

    def poll(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for raw in self._tail.read_lines():
            try:
                item = json.loads(raw)
            except json.JSONDecodeError:
                self.bad_lines += 1
                continue
            if isinstance(item, dict) and isinstance(item.get("event"), str):
                events.append(item)
            else:
                self.bad_lines += 1
        self.seen.extend(events)
        return events
