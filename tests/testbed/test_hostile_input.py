"""Hostile and malformed input to the real serving (gunicorn, two replicas) and registry
(uvicorn) answers 4xx with a JSON error, never 5xx, never a hang (finding 4 of issue 11)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from testbed.serving.deployment import ServingDeployment
from tests.testbed.conftest import ADMIN_TOKEN
from tests.testbed.test_registry_support import LiveRegistry, serve_in_thread, start_registry

pytest_plugins = ["tests.testbed.test_registry_support"]

JSON = "application/json"
DEEP = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"faults": ' + DEEP + b"}"
HUGE = b'{"features": [' + b"0.5, " * 40_000 + b"0.5]}"
NOT_UTF8 = b'{"features": [0.5, "\xff\xfe"]}'


async def chunked(body: bytes) -> AsyncIterator[bytes]:
    """No Content-Length: the body arrives chunked and must be counted as it comes."""
    for start in range(0, len(body), 16_384):
        yield body[start : start + 16_384]


@dataclass(frozen=True)
class Hostile:
    label: str
    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = JSON
    auth: bytes | None = None  # None: the service's admin/write token
    stream: bool = False
    expected: int | None = None  # exact status, when the contract fixes it


ADMIN = b"Bearer " + ADMIN_TOKEN.encode()
SERVING = [
    Hostile("predict non-UTF-8 body", "POST", "/predict", NOT_UTF8, expected=400),
    Hostile("predict raw 0xff", "POST", "/predict", b"\xff\xfe\xfd", expected=400),
    Hostile("predict text/plain", "POST", "/predict", b'{"features": []}', "text/plain",
            expected=415),
    Hostile("predict no content type", "POST", "/predict", b'{"features": []}', None,
            expected=415),
    Hostile("predict form", "POST", "/predict", b"a=1", "application/x-www-form-urlencoded",
            expected=415),
    Hostile("predict 200 KB body", "POST", "/predict", HUGE, expected=413),
    Hostile("predict 200 KB chunked", "POST", "/predict", HUGE, stream=True, expected=413),
    Hostile("predict 1000-deep JSON", "POST", "/predict", DEEP),
    Hostile("predict empty body", "POST", "/predict", b"", expected=422),
    Hostile("faults GET bearer 0xff", "GET", "/admin/faults", auth=b"Bearer \xff", expected=401),
    Hostile("faults PUT bearer 0xff", "PUT", "/admin/faults", b"{}", auth=b"Bearer \xff",
            expected=401),
    Hostile("faults DELETE bearer non-ASCII", "DELETE", "/admin/faults",
            auth="Bearer é€".encode(), expected=401),
    Hostile("faults PUT 1000-deep JSON", "PUT", "/admin/faults", DEEP_OBJECT, expected=400),
    Hostile("faults PUT non-UTF-8", "PUT", "/admin/faults", b'{"faults": ["\xff"]}',
            expected=400),
    Hostile("faults PUT text/plain", "PUT", "/admin/faults", b"{}", "text/plain", expected=415),
    Hostile("faults PUT 200 KB", "PUT", "/admin/faults", HUGE, expected=413),
    Hostile("faults PUT list", "PUT", "/admin/faults", b"[1, 2]", expected=422),
]
REGISTRY = [
    Hostile("register non-UTF-8 body", "POST", "/models/register", NOT_UTF8),
    Hostile("register text/plain", "POST", "/models/register", b"{}", "text/plain"),
    Hostile("register 200 KB", "POST", "/models/register", HUGE, expected=413),
    Hostile("register 200 KB chunked", "POST", "/models/register", HUGE, stream=True,
            expected=413),
    Hostile("register 1000-deep JSON", "POST", "/models/register", DEEP),
    Hostile("register bearer 0xff", "POST", "/models/register", b"{}", auth=b"Bearer \xff"),
    Hostile("faults GET bearer 0xff", "GET", "/admin/faults", auth=b"Bearer \xff"),
    Hostile("faults PUT 1000-deep JSON", "PUT", "/admin/faults", DEEP_OBJECT),
    Hostile("faults PUT non-UTF-8", "PUT", "/admin/faults", b'{"faults": ["\xff"]}'),
]


async def send(base_url: str, case: Hostile, token: bytes) -> httpx.Response:
    headers: dict[str, bytes] = {"Authorization": case.auth or token}
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type.encode()
    content = chunked(case.body) if case.stream and case.body else case.body
    async with (
        asyncio.timeout(15),  # never a hang
        httpx.AsyncClient(base_url=base_url, timeout=10) as client,
    ):
        request = client.build_request(case.method, case.path, content=content, headers=headers)
        return await client.send(request)


def assert_refused(case: Hostile, response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (case.label, response.status_code, response.text)
    if case.expected is not None:
        assert response.status_code == case.expected, (case.label, response.text)
    assert response.headers["content-type"].startswith(JSON), case.label
    assert response.json(), case.label


@pytest.mark.parametrize("case", SERVING, ids=[c.label for c in SERVING])
async def test_serving_refuses_hostile_input_with_4xx(
    shared_serving: ServingDeployment, case: Hostile
) -> None:
    response = await send(shared_serving.url, case, ADMIN)
    assert_refused(case, response)
    async with httpx.AsyncClient(base_url=shared_serving.url, timeout=10) as client:
        faults = await client.get("/admin/faults", headers={"Authorization": ADMIN.decode()})
        assert faults.json()["faults"] == []  # nothing was switched on by a refused request


@pytest.fixture(scope="module")
def hostile_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'registry.sqlite3'}"
    tokens, app = start_registry(database_url)
    with serve_in_thread(app) as url:
        yield LiveRegistry(url, tokens, database_url, app)


@pytest.mark.parametrize("case", REGISTRY, ids=[c.label for c in REGISTRY])
async def test_registry_refuses_hostile_input_with_4xx(
    hostile_registry: LiveRegistry, case: Hostile
) -> None:
    token = b"Bearer " + hostile_registry.tokens.admin.encode()
    assert_refused(case, await send(hostile_registry.url, case, token))
