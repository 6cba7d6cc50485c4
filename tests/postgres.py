"""pytest plugin: a private, throw-away PostgreSQL cluster for the test session.

``postgres_url`` (session) starts it on 127.0.0.1 on a free port, as the ``postgres`` OS
user (the server refuses to run as root), with trust auth for 127.0.0.1 and its unix socket
in a fresh temporary directory; at session end it is stopped (``pg_ctl stop -m fast``) and
the directory removed, on every path. ``postgres_database_url`` (function) gives each test a
fresh empty database. Missing server binaries FAIL the tests that need them: run
``bin/setup --tests``. Mark such tests ``@pytest.mark.postgres``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.local_servers import free_port, log_tail, served_for_session

_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_OS_USER = "postgres"
_START_ATTEMPTS = 3


@dataclass(frozen=True)
class PostgresCluster:
    bin_dir: Path
    root_dir: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.root_dir / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def find_bin_dir() -> Path:
    """The newest installed server's bin directory, or a failure that says how to install."""
    candidates = sorted(
        (Path(p) for p in glob.glob(_BIN_GLOB) if (Path(p) / "postgres").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        pytest.fail(
            f"PostgreSQL server binaries not found in {_BIN_GLOB}: "
            "run `bin/setup --tests` (installs the Debian postgresql package)",
            pytrace=False,
        )
    return candidates[-1]


def _as_postgres(argv: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", _OS_USER, "--"] if os.geteuid() == 0 else []
    return subprocess.run(
        prefix + argv, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def _chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(_OS_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _stop(cluster: PostgresCluster) -> None:
    if (cluster.data_dir / "postmaster.pid").exists():
        _as_postgres(
            [
                str(cluster.bin_dir / "pg_ctl"),
                "-D",
                str(cluster.data_dir),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            timeout_s=60,
        )
    shutil.rmtree(cluster.root_dir, ignore_errors=True)


def start_cluster() -> PostgresCluster:
    bin_dir = find_bin_dir()
    root_dir = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    _chown_to_postgres(root_dir)
    cluster = PostgresCluster(bin_dir, root_dir, 0)
    try:
        init = _as_postgres(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(cluster.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            timeout_s=120,
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr.strip()[-800:]}")
        log_path = root_dir / "server.log"
        last_error = ""
        for _ in range(_START_ATTEMPTS):  # a free port can be taken between probe and bind
            cluster = PostgresCluster(bin_dir, root_dir, free_port())
            options = (
                f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {root_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            start = _as_postgres(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(cluster.data_dir),
                    "-l",
                    str(log_path),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                timeout_s=90,
            )
            if start.returncode == 0:
                return cluster
            last_error = start.stderr.strip() + "\n" + log_tail(log_path)
        raise RuntimeError(f"pg_ctl start failed {_START_ATTEMPTS} times: {last_error[-800:]}")
    except BaseException:
        _stop(cluster)
        raise


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of the session's private cluster (database ``postgres``)."""
    with served_for_session(
        "the test PostgreSQL cluster", start_cluster, _stop,
        (RuntimeError, OSError, subprocess.TimeoutExpired),
    ) as cluster:  # fmt: skip
        yield cluster.url()


@pytest.fixture
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """A fresh empty database for one test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
