"""``events.jsonl``: the event stream as JSON lines (for tools and tests)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import IO, Any

from harness.events import Event, StepFinished


class EventLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def __call__(self, event: Event) -> None:
        self._file.write(json.dumps(event_record(event), default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


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
