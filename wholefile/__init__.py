"""Files replaced whole: readers see the old content or the new, never a torn write.

One copy, shared by the harness and the testbed (which never imports the harness that
tests it); it depends on nothing but the standard library.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


_UMASK = _umask()


def write_atomically(
    path: Path, data: str | bytes, *, durable: bool = False, mode: int = 0o666
) -> None:
    """Write ``data`` to a temp file beside ``path`` and rename it over ``path``.

    The file gets ``mode`` under the process umask, as ``open()`` would give it (a temp
    file alone would be 0600): report files all share one mode.

    ``durable``: fsync the file before the rename and the directory after it, so the
    new content survives a crash of the machine, not only of the process.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode & ~_UMASK)
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data.encode() if isinstance(data, str) else data)
            if durable:
                tmp.flush()
                os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    if durable:
        fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable (best effort: some file
    systems refuse to fsync a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def append_line(path: Path | str, line: str) -> None:
    """Append ``line`` (newline included) in one ``write`` on an O_APPEND file and fsync
    it: lines of concurrent writers never interleave, and a written line survives a crash
    (a kill mid-write tears only the last line)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
