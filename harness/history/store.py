"""Opening the history store: where it is, connection and statement timeouts, migrations.

Default: an SQLite file ``<state dir>/history.sqlite``; ``HARNESS_HISTORY_URL`` names any
SQLAlchemy URL instead (``postgresql+psycopg://...``; ``postgresql://`` is read as psycopg 3).
Every open brings the schema to the head Alembic revision shipped in this package.

Nothing here may hang a run: SQLite waits at most ``BUSY_TIMEOUT_S`` for a lock,
PostgreSQL at most ``CONNECT_TIMEOUT_S`` to connect and ``STATEMENT_TIMEOUT_S`` per
statement, and :func:`within_deadline` bounds a whole operation (a server that accepts
and then never answers).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from harness.paths import state_dir

if TYPE_CHECKING:
    from alembic.config import Config

URL_ENV = "HARNESS_HISTORY_URL"
BUSY_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_S = 15
OPERATION_DEADLINE_S = 45.0

HEAD_REVISION = "0002"
"""The newest migration in ``migrations/versions`` (a test pins it). Known here so that
opening an up-to-date store does not import Alembic (slow to import)."""

T = TypeVar("T")


class HistoryError(Exception):
    """The history store cannot be opened, read or written (message says which and why)."""


@dataclass(frozen=True)
class StoreLocation:
    url: URL

    @property
    def shown(self) -> str:
        """The URL with any password hidden (for messages)."""
        return self.url.render_as_string(hide_password=True)


def store_location() -> StoreLocation:
    configured = os.environ.get(URL_ENV, "").strip()
    if not configured:
        return StoreLocation(make_url(f"sqlite:///{state_dir() / 'history.sqlite'}"))
    try:
        url = make_url(configured)
    except ArgumentError as exc:
        raise HistoryError(f"${URL_ENV} is not an SQLAlchemy URL: {exc}") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return StoreLocation(url)


class HistoryStore:
    """An open, migrated store. Use :func:`open_store`; close with :meth:`close`."""

    def __init__(self, location: StoreLocation, engine: Engine) -> None:
        self.location = location
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed at the end of the block, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


def open_store(location: StoreLocation | None = None) -> HistoryStore:
    """Open (creating and migrating as needed) the store. Raises HistoryError."""
    location = location or store_location()
    try:
        engine = _engine(location.url)
        upgrade(engine)
    except SQLAlchemyError as exc:
        raise HistoryError(f"history store {location.shown}: {_first_line(exc)}") from None
    except OSError as exc:
        raise HistoryError(f"history store {location.shown}: {exc}") from None
    return HistoryStore(location, engine)


def _engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() == "postgresql":
        options = (
            f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000} "
            f"-c lock_timeout={STATEMENT_TIMEOUT_S * 1000}"
        )
        return create_engine(
            url,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "options": options},
            pool_pre_ping=True,
        )
    return create_engine(url)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    location = resources.files("harness.history") / "migrations"
    config.set_main_option("script_location", str(location))
    return config


def head_revision() -> str:
    """The head of the shipped migrations, as Alembic reads them."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (no-op when it is there already)."""
    wanted = HEAD_REVISION if revision == "head" else revision
    if current_revision(engine) == wanted:
        return
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def within_deadline(
    work: Callable[[], T], what: str, deadline_s: float = OPERATION_DEADLINE_S
) -> T:
    """Run ``work`` in a daemon thread; HistoryError if it raises or outlives the deadline
    (the thread is abandoned: a hung server cannot hang the run)."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except HistoryError as exc:
            box["error"] = exc
        except (SQLAlchemyError, OSError) as exc:
            box["error"] = HistoryError(f"{what}: {_first_line(exc)}")

    thread = threading.Thread(target=target, name="harness-history", daemon=True)
    thread.start()
    thread.join(deadline_s)
    if thread.is_alive():
        raise HistoryError(f"{what}: no answer within {deadline_s:g} s")
    if "error" in box:
        error = box["error"]
        assert isinstance(error, HistoryError)
        raise error
    return box["value"]  # type: ignore[return-value]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
