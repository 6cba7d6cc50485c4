"""Registry API behaviour over real HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.testbed.test_registry_support import (
    LiveRegistry,
    bearer,
    serve_in_thread,
    start_registry,
)

pytest_plugins = ["tests.testbed.test_registry_support"]

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def spec(name: str = "churn", version: str = "1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "version": version,
        "framework": "scikit-learn",
        "metrics": {"accuracy": 0.91, "auc": 1},
        "tags": {"team": "growth"},
    }
    body.update(extra)
    return body


async def register(client: httpx.AsyncClient, reg: LiveRegistry, **kw: Any) -> dict[str, Any]:
    response = await client.post("/models/register", json=spec(**kw), headers=reg.headers())
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["error"]
    assert isinstance(detail["message"], str) and detail["message"]
    if code is not None:
        assert detail["code"] == code


async def test_register_then_get_round_trips(registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=registry.url) as client:
        created = await register(client, registry)
        assert created["model_id"] >= 1
        assert (created["status"], created["stage"]) == ("active", "none")
        assert created["metrics"] == {"accuracy": 0.91, "auc": 1.0}
        assert created["tags"] == {"team": "growth"}
        assert RFC3339_UTC.match(created["created_at"]), created["created_at"]
        got = await client.get(f"/models/{created['model_id']}", headers=registry.headers("read"))
        assert got.status_code == 200
        assert got.json() == created


async def test_duplicate_name_and_version_is_409(registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=registry.url) as client:
        await register(client, registry)
        again = await client.post("/models/register", json=spec(), headers=registry.headers())
        assert_error(again, 409, "duplicate_model")
        other_version = await client.post(
            "/models/register", json=spec(version="2"), headers=registry.headers()
        )
        assert other_version.status_code == 201


# (method, path template, body, scope needed); {id} and {name} are filled in by the test.
ROUTES = [
    ("GET", "/models/{id}", None, "read"),
    ("GET", "/models/{id}/versions", None, "read"),
    ("POST", "/models/register", spec(version="auth"), "write"),
    ("POST", "/models/{id}/transition", {"stage": "staging"}, "write"),
    ("POST", "/models/{name}/rollback", None, "write"),
    ("POST", "/models/{id}/retire", None, "write"),
    ("DELETE", "/models/{id}", None, "write"),
    ("GET", "/admin/faults", None, "admin"),
    ("DELETE", "/admin/faults", None, "admin"),
]
SCOPES = ["read", "write", "admin"]


async def test_auth_matrix(registry: LiveRegistry) -> None:
    async with asyncio.timeout(30), httpx.AsyncClient(base_url=registry.url) as client:
        for index, (method, template, body, needed) in enumerate(ROUTES):
            # A fresh model per route, so a DELETE does not spoil the next row.
            model = await register(client, registry, name="authz", version=f"v{index}")
            path = template.format(id=model["model_id"], name="authz")

            def call(
                headers: dict[str, str], path: str = path, method: str = method, body: Any = body
            ) -> Any:
                return client.request(method, path, json=body, headers=headers)

            missing = await call({})
            assert_error(missing, 401, "unauthorized")
            assert missing.headers["www-authenticate"] == "Bearer"
            assert_error(await call({"Authorization": "Basic dXNlcjpwdw=="}), 401)
            assert_error(await call(bearer("not-a-token")), 403, "forbidden")
            for scope in SCOPES:
                response = await call(registry.headers(scope))
                if SCOPES.index(scope) < SCOPES.index(needed):
                    assert_error(response, 403, "insufficient_scope")
                else:
                    assert response.status_code not in (401, 403), (method, path, scope)
                    break  # the lowest sufficient scope passed; higher ones imply it


MALFORMED_IDS = [
    "abc",
    "-1",
    "0",
    "1.5",
    "99999999999999999999999",
    "9223372036854775808",
    "%27%3B%20DROP%20TABLE%20models%3B%20--",
    "1e3",
    "%20",
    "0x10",
]


async def test_unknown_id_is_404_and_malformed_id_is_400(registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=registry.url) as client:
        read = registry.headers("read")
        assert_error(await client.get("/models/424242", headers=read), 404, "model_not_found")
        assert_error(await client.get("/models/424242/versions", headers=read), 404)
        write = registry.headers("write")
        assert_error(await client.delete("/models/424242", headers=write), 404)
        assert_error(
            await client.post(
                "/models/424242/transition", json={"stage": "staging"}, headers=write
            ),
            404,
        )
        for bad in MALFORMED_IDS:
            response = await client.get(f"/models/{bad}", headers=read)
            assert_error(response, 400, "invalid_path")
            assert response.json()["error"]["field"] == "model_id"
        # The injection attempt changed nothing: the table is still there.
        model = await register(client, registry)
        assert (await client.get(f"/models/{model['model_id']}", headers=read)).status_code == 200


async def test_production_transition_archives_previous_and_versions_are_ordered(
    registry: LiveRegistry,
) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=registry.url) as client:
        write = registry.headers("write")
        v1, v2, v3 = [await register(client, registry, version=v) for v in ("1", "2", "3")]
        await register(client, registry, name="other", version="1")
        for model in (v1, v2):
            response = await client.post(
                f"/models/{model['model_id']}/transition",
                json={"stage": "production"},
                headers=write,
            )
            assert response.status_code == 200
            assert response.json()["stage"] == "production"
        staged = await client.post(
            f"/models/{v3['model_id']}/transition", json={"stage": "staging"}, headers=write
        )
        assert staged.json()["stage"] == "staging"
        versions = await client.get(
            f"/models/{v2['model_id']}/versions", headers=registry.headers("read")
        )
        assert versions.status_code == 200
        listed = versions.json()["versions"]
        assert [m["version"] for m in listed] == ["1", "2", "3"]
        assert [m["stage"] for m in listed] == ["archived", "production", "staging"]
        assert {m["name"] for m in listed} == {"churn"}
        bad_stage = await client.post(
            f"/models/{v1['model_id']}/transition", json={"stage": "live"}, headers=write
        )
        assert_error(bad_stage, 422, "invalid_body")
        assert bad_stage.json()["error"]["field"] == "stage"


async def test_rollback_restores_previous_production(registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=registry.url) as client:
        write = registry.headers("write")
        read = registry.headers("read")
        v1, v2, v3 = [await register(client, registry, version=v) for v in ("1", "2", "3")]
        assert_error(
            await client.post("/models/churn/rollback", headers=write), 409, "stage_conflict"
        )
        for model in (v1, v2, v3):
            await client.post(
                f"/models/{model['model_id']}/transition",
                json={"stage": "production"},
                headers=write,
            )
        back = await client.post("/models/churn/rollback", headers=write)
        assert back.status_code == 200, back.text
        assert (back.json()["model_id"], back.json()["stage"]) == (v2["model_id"], "production")
        assert (await client.get(f"/models/{v3['model_id']}", headers=read)).json()[
            "stage"
        ] == "archived"
        back_again = await client.post("/models/churn/rollback", headers=write)
        assert back_again.json()["model_id"] == v1["model_id"]
        assert_error(
            await client.post("/models/churn/rollback", headers=write), 409, "stage_conflict"
        )
        assert_error(await client.post("/models/nobody/rollback", headers=write), 404)
        assert_error(await client.post("/models/bad%20name/rollback", headers=write), 400)


async def test_delete_and_retire(registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=registry.url) as client:
        write = registry.headers("write")
        first = await register(client, registry, version="1")
        second = await register(client, registry, version="2")
        retired = await client.post(f"/models/{first['model_id']}/retire", headers=write)
        assert retired.json()["status"] == "retired"
        to_prod = await client.post(
            f"/models/{first['model_id']}/transition", json={"stage": "production"}, headers=write
        )
        assert_error(to_prod, 409, "stage_conflict")
        deleted = await client.delete(f"/models/{second['model_id']}", headers=write)
        assert deleted.status_code == 204 and deleted.content == b""
        assert_error(await client.get(f"/models/{second['model_id']}", headers=write), 404)
        assert_error(await client.delete(f"/models/{second['model_id']}", headers=write), 404)
        # Ids are never reused, even for the newest deleted one.
        third = await register(client, registry, version="3")
        assert third["model_id"] > second["model_id"]


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("nan", b'{"name":"a","version":"1","framework":"f","metrics":{"m":NaN}}', "application/json"),
    (
        "infinity",
        b'{"name":"a","version":"1","framework":"f","metrics":{"m":Infinity}}',
        "application/json",
    ),
    (
        "overflow float",
        b'{"name":"a","version":"1","framework":"f","metrics":{"m":1e999}}',
        "application/json",
    ),
    (
        "huge int",
        b'{"name":"a","version":"1","framework":"f","metrics":{"m":1' + b"0" * 5000 + b"}}",
        "application/json",
    ),
    ("deep json", _deep(20000), "application/json"),
    ("deep object", b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/json"),
    ("not utf-8", b'\xff\xfe{"name": "\xc3\x28"}', "application/json"),
    ("wrong content type", b"name=a&version=1", "application/x-www-form-urlencoded"),
    ("plain text", b"hello", "text/plain"),
    ("empty", b"", "application/json"),
    ("array", b"[]", "application/json"),
    ("string", b'"x"', "application/json"),
    ("missing fields", b'{"name":"a"}', "application/json"),
    ("extra field", b'{"name":"a","version":"1","framework":"f","owner":"me"}', "application/json"),
    (
        "long name",
        b'{"name":"' + b"a" * 5000 + b'","version":"1","framework":"f"}',
        "application/json",
    ),
    (
        "too large",
        b'{"name":"' + b"a" * 70000 + b'","version":"1","framework":"f"}',
        "application/json",
    ),
    (
        "lone surrogate",
        b'{"name":"a","version":"1","framework":"f","tags":{"t":"\\ud800"}}',
        "application/json",
    ),
    (
        "nul in tag",
        b'{"name":"a","version":"1","framework":"f","tags":{"t":"a\\u0000b"}}',
        "application/json",
    ),
    ("bad name", b'{"name":"a b/../c","version":"1","framework":"f"}', "application/json"),
    (
        "metric as string",
        b'{"name":"a","version":"1","framework":"f","metrics":{"m":"0.9"}}',
        "application/json",
    ),
    (
        "tags as list",
        b'{"name":"a","version":"1","framework":"f","tags":["x"]}',
        "application/json",
    ),
    ("null name", b'{"name":null,"version":"1","framework":"f"}', "application/json"),
]


@pytest.fixture(scope="module")
def shared_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    """One SQLite registry for the bad-input table (none of those requests may store a thing)."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('bad-input') / 'registry.sqlite3'}"
    tokens, app = start_registry(database_url)
    with serve_in_thread(app) as url:
        yield LiveRegistry(url, tokens, database_url, app)


@pytest.mark.parametrize(
    ("label", "content", "content_type"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
async def test_bad_input_gets_4xx_json_never_5xx(
    shared_registry: LiveRegistry, label: str, content: bytes, content_type: str
) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=shared_registry.url) as client:
        headers = {**shared_registry.headers(), "Content-Type": content_type}
        response = await client.post("/models/register", content=content, headers=headers)
        assert 400 <= response.status_code < 500, (label, response.status_code, response.text)
        assert response.json()["error"]["code"], label
        # Nothing was stored by a rejected request.
        probe = await client.get("/models/1", headers=shared_registry.headers("read"))
        assert probe.status_code == 404, label


async def test_unknown_route_and_method_are_json(sqlite_registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=sqlite_registry.url) as client:
        assert_error(await client.get("/nope"), 404, "not_found")
        response = await client.put("/models/1", headers=sqlite_registry.headers())
        assert_error(response, 405, "method_not_allowed")


async def test_health_ready_and_metrics(registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=registry.url) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/ready")).json() == {"status": "ready"}
        await register(client, registry, version="1")
        await register(client, registry, version="2")
        await client.get("/models/999", headers=registry.headers("read"))
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert re.search(r"^models_total 2\.0$", text, re.M), text
        assert re.search(
            r'^http_requests_total\{method="POST",route="/models/register",status="201"\} 2\.0$',
            text,
            re.M,
        ), text
        assert 'route="/models/{model_id}",status="404"' in text
        assert "http_request_duration_seconds_bucket" in text


async def test_openapi_describes_routes_and_error_bodies(sqlite_registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=sqlite_registry.url) as client:
        doc = (await client.get("/openapi.json")).json()
    paths = doc["paths"]
    register_op = paths["/models/register"]["post"]
    assert set(register_op["responses"]) >= {"201", "400", "401", "403", "409", "422", "503"}
    assert register_op["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "422" in paths["/models/{model_id}/transition"]["post"]["responses"]
    assert "404" in paths["/models/{model_id}"]["get"]["responses"]
    assert "204" in paths["/models/{model_id}"]["delete"]["responses"]
    model_schema = doc["components"]["schemas"]["ModelOut"]
    assert model_schema["properties"]["status"]["enum"] == ["active", "retired"]
    assert set(model_schema["required"]) >= {"model_id", "name", "version", "status", "stage"}
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
