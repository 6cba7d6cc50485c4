"""Project-wide pytest set-up: plugins, and a private history store for every test (so that
test runs never land in the project's own ``.harness/history.sqlite``; a test that wants a
store of its own sets HARNESS_HISTORY_URL itself)."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.postgres", "tests.prometheus_servers"]


@pytest.fixture(autouse=True)
def _private_history_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path_factory.mktemp("history") / "history.sqlite"
    monkeypatch.setenv("HARNESS_HISTORY_URL", f"sqlite:///{store}")
