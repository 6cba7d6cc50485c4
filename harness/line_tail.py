"""Tailing a file another process appends lines to (JSON-lines streams of the tools)."""

from __future__ import annotations

from pathlib import Path


class LineTail:
    """Returns the complete, non-blank lines appended since the last read; never blocks.

    A line still being written (no newline yet) is kept back until it is complete; a
    file that does not exist yet reads as nothing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read_lines(self) -> list[bytes]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        return [line for line in complete if line.strip()]
