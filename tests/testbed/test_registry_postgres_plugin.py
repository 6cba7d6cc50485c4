"""The private PostgreSQL cluster plugin (tests/postgres.py): it fails loudly without the
server binaries, and leaves neither a process nor a directory behind."""

from __future__ import annotations

import socket

import psycopg
import pytest

from tests import postgres


def test_missing_binaries_fail_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "_BIN_GLOB", "/nonexistent/postgresql/*/bin")
    with pytest.raises(pytest.fail.Exception, match=r"bin/setup --tests"):
        postgres.find_bin_dir()


@pytest.mark.postgres
def test_cluster_starts_on_loopback_and_stops_clean() -> None:
    cluster = postgres.start_cluster()
    try:
        with psycopg.connect(cluster.url(), connect_timeout=5) as conn:
            row = conn.execute("SHOW listen_addresses").fetchone()
            assert row == ("127.0.0.1",)
            assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    finally:
        postgres._stop(cluster)
    assert not cluster.root_dir.exists()
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", cluster.port))


@pytest.mark.postgres
@pytest.mark.parametrize("attempt", [1, 2])  # the second would see the first one's table
def test_each_test_gets_an_empty_database(postgres_database_url: str, attempt: int) -> None:
    with psycopg.connect(postgres_database_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE marker (id int)")
