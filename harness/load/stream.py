"""Tail the plugin's interval stream (JSON lines) while Locust writes it."""

from __future__ import annotations

from pathlib import Path

from harness.line_tail import LineTail
from harness.load.interval import StreamError, StreamLine, parse_line


class IntervalStream:
    """Reads the complete lines appended since the last read; never blocks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tail = LineTail(path)
        self.errors: list[str] = []
        self.started = False
        self.ended = False

    def read_new(self) -> list[StreamLine]:
        lines = []
        for raw in self._tail.read_lines():
            text = raw.decode("utf-8", errors="replace").strip()
            try:
                line = parse_line(text)
            except StreamError as exc:
                self.errors.append(f"{self.path.name}: {exc}")
                continue
            self.started = self.started or line.kind == "start"
            self.ended = self.ended or line.kind == "end"
            lines.append(line)
        return lines
