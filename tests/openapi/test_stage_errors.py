"""The api stage when the driver cannot finish: a service that accepts connections and
never answers, and a document that cannot be loaded. ERROR with the reason, never PASS."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.status import Status
from harness.target import Target, Tokens
from tests.openapi.conftest import run_step

DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {"/items/{item_id}": {"get": {
        "parameters": [{"name": "item_id", "in": "path", "required": True,
                        "schema": {"type": "integer"}}],
        "responses": {"200": {"description": "ok"}},
    }}},
}  # fmt: skip


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listener that accepts connections (the backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def target_at(port: int) -> Target:
    url = f"http://127.0.0.1:{port}"
    return Target("external", url, url, url, Tokens("r-secret", "w-secret", "a-secret"))


async def test_a_hanging_service_is_an_error_at_the_deadline(
    tmp_path: Path, silent_port: int
) -> None:
    document = tmp_path / "doc.json"
    document.write_text(json.dumps(DOCUMENT))
    started = time.monotonic()
    async with asyncio.timeout(30):
        run = await run_step(
            tmp_path, target_at(silent_port), name="hang", openapi=str(document),
            timeout="5s", request_timeout="30s", auth=False, hostile=False,
        )  # fmt: skip
    assert time.monotonic() - started < 15
    assert run.outcome.status is Status.ERROR
    assert "did not finish within 3s (killed)" in run.outcome.summary


async def test_an_unloadable_document_is_an_error_for_each_check(
    tmp_path: Path, silent_port: int
) -> None:
    document = tmp_path / "doc.json"
    document.write_text('{"openapi": "3.0.3", "paths": 7}')
    async with asyncio.timeout(60):
        run = await run_step(
            tmp_path, target_at(silent_port), name="bad-doc", openapi=str(document)
        )
    assert run.outcome.status is Status.ERROR, run.outcome.summary
    assert [c.status for c in run.outcome.criteria] == [Status.ERROR] * 4
    assert all("OpenAPI document" in c.reason for c in run.outcome.criteria)
