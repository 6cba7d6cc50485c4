"""The SQLAlchemy engine behind the registry: SQLite (WAL, synchronous=FULL) or PostgreSQL
(psycopg 3), and a gate that can cut it off from the database (the ``db-down`` fault)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
)


class DatabaseUrlError(ValueError):
    """A database URL the registry cannot use."""


def sqlite_url(state_dir: Path) -> str:
    return f"sqlite:///{(state_dir / 'registry.sqlite3').resolve()}"


def normalize_url(url: str) -> str:
    """postgresql://, postgres:// and sqlite:/// URLs -> the SQLAlchemy URL with our driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return url
    raise DatabaseUrlError(
        f"unsupported database URL {url.split('://')[0]!r}://...: "
        "use postgresql://user@host:port/db or sqlite:///path"
    )


class ConnectionGate:
    """Refuses every new connection while closed; closing also drops the pooled ones.

    A refused connection raises the driver's own OperationalError, so the application sees
    exactly what a lost database looks like."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._closed = False
        self._lock = threading.Lock()
        event.listen(engine, "do_connect", self._on_connect)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._engine.dispose()

    def open(self) -> None:
        with self._lock:
            self._closed = False

    def _on_connect(self, dialect: sa.Dialect, conn_rec: Any, cargs: Any, cparams: Any) -> Any:
        if self._closed:
            dbapi: Any = dialect.loaded_dbapi
            raise dbapi.OperationalError("connection refused: the database is unreachable")
        return None  # let the dialect connect as usual


def create_engine(url: str) -> sa.Engine:
    """An engine for a normalized URL, with the pragmas/timeouts the registry relies on."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10.0},
            pool_size=8,
            max_overflow=16,
            pool_timeout=10.0,
        )

        @event.listens_for(engine, "connect")
        def _set_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
            cursor.close()

        return engine
    return sa.create_engine(
        url,
        connect_args={"connect_timeout": 3},
        pool_size=8,
        max_overflow=16,
        pool_timeout=10.0,
        pool_pre_ping=True,
    )
