"""schemathesis against the live registry (uvicorn on 127.0.0.1, real HTTP): no 5xx and
no response that breaks the registry's own OpenAPI document.

The schema is built from the app at import (schemathesis' lazy ``from_fixture`` loader
does not work with pytest 9: it sets ``node._nodeid``); every case is sent over HTTP to the
live server, and a test checks that the served /openapi.json is that same document."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.testbed.test_registry_support import LiveRegistry, serve_in_thread, start_registry

pytest_plugins = ["tests.testbed.test_registry_support"]


def _openapi_document() -> dict[str, Any]:
    # Building the app opens no connection (the engine connects lazily); only its schema is used.
    with tempfile.TemporaryDirectory() as tmp:
        _, app = start_registry(f"sqlite:///{Path(tmp) / 'unused.sqlite3'}")
        document: dict[str, Any] = app.openapi()
    return document


OPENAPI = _openapi_document()
schema = schemathesis.openapi.from_dict(OPENAPI)


@pytest.fixture(scope="module")
def live_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'registry.sqlite3'}"
    tokens, app = start_registry(database_url)
    with serve_in_thread(app) as url:
        yield LiveRegistry(url, tokens, database_url, app)


def test_served_openapi_is_the_one_tested(live_registry: LiveRegistry) -> None:
    served = httpx.get(f"{live_registry.url}/openapi.json", timeout=10).json()
    assert served == OPENAPI


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_registry_conforms_to_its_openapi(case: Any, live_registry: LiveRegistry) -> None:
    # The admin token passes every scope check, so generated requests reach the handlers.
    admin = live_registry.headers("admin")
    try:
        case.call_and_validate(base_url=live_registry.url, headers=admin)
    finally:
        if case.path.startswith("/admin/"):  # a generated PUT may have switched faults on
            httpx.delete(f"{live_registry.url}/admin/faults", headers=admin, timeout=10)
