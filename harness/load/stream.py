"""Tail the plugin's interval stream (JSON lines) while Locust writes it."""

from __future__ import annotations

from pathlib import Path

from harness.load.interval import StreamError, StreamLine, parse_line


class IntervalStream:
    """Reads the complete lines appended since the last read; never blocks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.errors: list[str] = []
        self.started = False
        self.ended = False

    def read_new(self) -> list[StreamLine]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        lines = []
        for raw in complete:
            text = raw.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                line = parse_line(text)
            except StreamError as exc:
                self.errors.append(f"{self.path.name}: {exc}")
                continue
            self.started = self.started or line.kind == "start"
            self.ended = self.ended or line.kind == "end"
            lines.append(line)
        return lines
