"""Fixtures of the history tests: a store on SQLite (a temp state dir) or on the test
session's private PostgreSQL (a fresh database per test), chosen by parameter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.history.store import HistoryStore, open_store
from tests.core.conftest import health_url  # noqa: F401  (fixture re-used here)


def url_of_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store URL of the parameter: SQLite in the test's state dir, or a fresh
    PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'history.sqlite'}"
    url: str = request.getfixturevalue("postgres_database_url")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return url_of_store(request, tmp_path)


@pytest.fixture
def store_env(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """HARNESS_HISTORY_URL and HARNESS_STATE_DIR set for this test; returns the URL."""
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HARNESS_HISTORY_URL", store_url)
    return store_url


@pytest.fixture
def store(store_env: str) -> Iterator[HistoryStore]:
    opened = open_store()
    yield opened
    opened.close()
