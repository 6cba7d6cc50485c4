"""What the session's own servers (tests/postgres.py, tests/prometheus_servers.py) share:
a free 127.0.0.1 port, a log's tail for an error message, and a session fixture's body
that starts them once, stops them at the end on every path (also from ``atexit`` if the
session dies before its teardown) and FAILs the tests that need them when they cannot
start."""

from __future__ import annotations

import atexit
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

Servers = TypeVar("Servers")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def served_for_session(
    what: str,
    start: Callable[[], Servers],
    stop: Callable[[Servers], None],
    start_errors: tuple[type[BaseException], ...],
) -> Iterator[Servers]:
    """For a session fixture: ``with served_for_session(...) as servers: yield ...``."""
    try:
        servers = start()
    except start_errors as exc:
        pytest.fail(f"could not start {what}: {exc}", pytrace=False)
    stopper = atexit.register(stop, servers)
    try:
        yield servers
    finally:
        stop(servers)
        atexit.unregister(stopper)
