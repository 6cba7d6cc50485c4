"""The store's schema: Alembic migrations from revision 1 to head, models equal to head,
URLs and timeouts, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from harness.history.models import Base, CriterionRow, RunRow
from harness.history.store import (
    HEAD_REVISION,
    HistoryError,
    current_revision,
    head_revision,
    open_store,
    store_location,
    upgrade,
)


def _engine_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def test_a_store_written_at_revision_1_opens_at_head(store_env: str) -> None:
    engine = create_engine(_engine_url(store_env))
    if engine.url.get_backend_name() == "sqlite":
        Path(engine.url.database or "").parent.mkdir(parents=True, exist_ok=True)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO runs (run_id, suite, target_kind, target_json, status, interrupted,"
            " reason, started_at, report_dir) VALUES ('old-run', 'nightly', 'local', '{}',"
            " 'pass', false, 'all 1 steps passed', 1000.0, '/tmp/r')"
        ))
        run_pk = connection.execute(text("SELECT id FROM runs")).scalar_one()
        connection.execute(text(
            "INSERT INTO steps (run_pk, position, name, kind, stage, status, summary)"
            f" VALUES ({run_pk}, 0, 'inference', 'load', 's', 'pass', '')"
        ))
        step_pk = connection.execute(text("SELECT id FROM steps")).scalar_one()
        connection.execute(text(
            "INSERT INTO criteria (step_pk, position, name, status, observed, threshold, unit,"
            f" reason) VALUES ({step_pk}, 0, 'p95 < 100ms', 'pass', 12.5, 100.0, 'ms', '')"
        ))
    engine.dispose()

    store = open_store()  # migrates to head
    try:
        assert current_revision(store.engine) == head_revision() == HEAD_REVISION
        with store.session() as session:
            run = session.scalar(select(RunRow).where(RunRow.run_id == "old-run"))
            assert run is not None and run.suite == "nightly" and run.status == "pass"
            criterion = session.scalar(select(CriterionRow))
            assert criterion is not None and criterion.observed == 12.5
            assert criterion.baseline_run_id is None and criterion.baseline_value is None
    finally:
        store.close()


def test_models_match_the_head_migration(store: object) -> None:
    from harness.history.store import HistoryStore

    assert isinstance(store, HistoryStore)
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_opening_twice_does_not_migrate_again(store_env: str) -> None:
    first = open_store()
    first.close()
    started = time.monotonic()
    second = open_store()
    second.close()
    assert current_revision(second.engine) == head_revision()
    assert time.monotonic() - started < 5


def test_default_location_is_sqlite_in_the_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARNESS_HISTORY_URL", raising=False)
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    location = store_location()
    assert location.url.get_backend_name() == "sqlite"
    assert location.url.database == str(tmp_path / "state" / "history.sqlite")
    monkeypatch.setenv("HARNESS_HISTORY_URL", "postgresql://u:secret@127.0.0.1:5/h")
    assert store_location().url.drivername == "postgresql+psycopg"
    assert "secret" not in store_location().shown
    monkeypatch.setenv("HARNESS_HISTORY_URL", "not a url")
    with pytest.raises(HistoryError, match="HARNESS_HISTORY_URL is not an SQLAlchemy URL"):
        store_location()


def test_a_refused_store_is_an_error_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HARNESS_HISTORY_URL", f"postgresql://postgres:pw@127.0.0.1:{port}/h")
    started = time.monotonic()
    with pytest.raises(HistoryError) as caught:
        open_store()
    assert time.monotonic() - started < 5
    assert f"127.0.0.1:{port}" in str(caught.value) and "pw" not in str(caught.value)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_store_that_never_answers_times_out(
    silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.history.recorder import start_recording

    monkeypatch.setenv("HARNESS_HISTORY_URL", f"postgresql://postgres@127.0.0.1:{silent_server}/h")
    started = time.monotonic()
    with pytest.raises(HistoryError, match=f"127.0.0.1:{silent_server}"):
        start_recording("r", "s", "local", Path("/tmp/r"), Path("/tmp"), time.time())
    assert time.monotonic() - started < 20
