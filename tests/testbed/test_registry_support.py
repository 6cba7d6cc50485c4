"""Fixtures and helpers shared by the registry, client and orchestrator tests (no tests
here). Test modules load it with ``pytest_plugins``.

Servers are real: uvicorn on 127.0.0.1 (a thread for the app under test, or a subprocess
through the documented entry point when a test must kill it)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from testbed.registry.app import RegistrySettings, create_app
from testbed.registry.tokens import Tokens

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_tokens() -> Tokens:
    return Tokens(
        read=f"read-{secrets.token_hex(8)}",
        write=f"write-{secrets.token_hex(8)}",
        admin=f"admin-{secrets.token_hex(8)}",
    )


def write_tokens_file(tokens: Tokens, path: Path) -> Path:
    path.write_text(json.dumps({"read": tokens.read, "write": tokens.write, "admin": tokens.admin}))
    return path


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: Any, startup_timeout_s: float = 15.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (OS-chosen port) in a thread; yield its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            raise RuntimeError("the test server did not start (see the log above)")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        assert not thread.is_alive(), "the test server did not stop"


@dataclass(frozen=True)
class LiveRegistry:
    url: str
    tokens: Tokens
    database_url: str
    app: Any

    def headers(self, scope: str = "write") -> dict[str, str]:
        return bearer(getattr(self.tokens, scope))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty registry database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    return str(request.getfixturevalue("postgres_database_url"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.sqlite3'}"


def start_registry(database_url: str, faults: frozenset[str] = frozenset()) -> Any:
    tokens = make_tokens()
    app = create_app(RegistrySettings(database_url=database_url, tokens=tokens, faults=faults))
    return tokens, app


@pytest.fixture
def registry(database_url: str) -> Iterator[LiveRegistry]:
    """The registry app served on 127.0.0.1 over an empty database (SQLite and PostgreSQL)."""
    tokens, app = start_registry(database_url)
    with serve_in_thread(app) as url:
        yield LiveRegistry(url, tokens, database_url, app)


@pytest.fixture
def sqlite_registry(sqlite_url: str) -> Iterator[LiveRegistry]:
    """The registry on SQLite only (for tests where the database kind does not matter)."""
    tokens, app = start_registry(sqlite_url)
    with serve_in_thread(app) as url:
        yield LiveRegistry(url, tokens, sqlite_url, app)


class RegistryProcess:
    """``python -m testbed.registry`` as a child process (its own session, killed by pid)."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        argv = [sys.executable, "-m", "testbed.registry", "--host", "127.0.0.1"]
        argv += ["--port", str(self.port), *args]
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )

    def wait_healthy(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"registry exited {self.proc.returncode}: {self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/ready", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"registry not ready after {timeout_s}s: {self.log_tail()}")

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown hook runs."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
