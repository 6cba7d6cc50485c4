"""A token bucket shared by all replicas: 16 bytes in a file, updated under ``flock``.

The file holds (tokens, last refill time on CLOCK_MONOTONIC, which is system-wide on Linux).
The burst capacity is one second worth of tokens (at least 1).
"""

from __future__ import annotations

import fcntl
import os
import struct
import time
from pathlib import Path

_LAYOUT = struct.Struct("<dd")


class SharedTokenBucket:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def try_take(self, rate_rps: float) -> bool:
        """Take one token if there is one; refill at ``rate_rps`` since the last take."""
        capacity = max(1.0, rate_rps)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            now = time.monotonic()
            raw = os.pread(self._fd, _LAYOUT.size, 0)
            if len(raw) == _LAYOUT.size:
                tokens, last = _LAYOUT.unpack(raw)
                tokens = min(capacity, tokens + max(0.0, now - last) * rate_rps)
            else:
                tokens = capacity
            allowed = bool(tokens >= 1.0)
            if allowed:
                tokens -= 1.0
            os.pwrite(self._fd, _LAYOUT.pack(tokens, now), 0)
            return allowed
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)
