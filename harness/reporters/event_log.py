"""``events.jsonl``: the event stream as JSON lines (for tools and tests)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import IO, Any

from harness.events import Event, StepFinished


class EventLog:
    """One run's events, a line each. A write that fails (a full disk) is said once on
    stderr, naming the file and the OS error; the run goes on without the log."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.failed = ""
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def __call__(self, event: Event) -> None:
        if self.failed:
            return
        try:
            self._file.write(json.dumps(event_record(event), default=str) + "\n")
            self._file.flush()
        except OSError as exc:
            self._fail(exc)

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as exc:  # the buffered tail of a failed write
            if not self.failed:
                self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.failed = f"cannot write {self.path}: {exc.strerror or exc}"
        print(f"harness: {self.failed} (later events are not logged)", file=sys.stderr)


def event_record(event: Event) -> dict[str, Any]:
    record: dict[str, Any] = {"event": type(event).__name__, "at": event.at}
    if isinstance(event, StepFinished):
        outcome = event.outcome
        record.update(
            step=outcome.name,
            kind=outcome.kind,
            status=outcome.status.value,
            summary=outcome.summary,
        )
        return record
    for item in dataclasses.fields(event):
        if item.name != "at":
            record[item.name] = getattr(event, item.name)
    return record
