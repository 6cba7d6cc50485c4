"""Each registry fault switch, seen from the outside: the defect shows in the response, and
switching it off restores the contract."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.testbed.test_registry_support import (
    REPO_ROOT,
    LiveRegistry,
    RegistryProcess,
    make_tokens,
    write_tokens_file,
)

pytest_plugins = ["tests.testbed.test_registry_support"]

SPEC = {"name": "fraud", "version": "7", "framework": "xgboost", "metrics": {"auc": 0.97}}


async def set_faults(client: httpx.AsyncClient, reg: LiveRegistry, *names: str) -> None:
    response = await client.put(
        "/admin/faults", json={"faults": list(names)}, headers=reg.headers("admin")
    )
    assert response.status_code == 200, response.text
    assert response.json()["faults"] == sorted(names)


async def register_and_get(
    client: httpx.AsyncClient, reg: LiveRegistry, version: str
) -> tuple[httpx.Response, dict[str, Any]]:
    created = await client.post(
        "/models/register", json={**SPEC, "version": version}, headers=reg.headers()
    )
    model_id = created.json().get("model_id", created.json().get("id"))
    got = await client.get(f"/models/{model_id}", headers=reg.headers("read"))
    assert got.status_code == 200
    return created, got.json()


async def test_rename_field_says_id_instead_of_model_id(sqlite_registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=sqlite_registry.url) as client:
        await set_faults(client, sqlite_registry, "registry-rename-field")
        created, got = await register_and_get(client, sqlite_registry, "1")
        for body in (created.json(), got):
            assert "model_id" not in body and isinstance(body["id"], int)
        versions = await client.get(
            f"/models/{got['id']}/versions", headers=sqlite_registry.headers("read")
        )
        assert all("id" in m and "model_id" not in m for m in versions.json()["versions"])
        await client.delete("/admin/faults", headers=sqlite_registry.headers("admin"))
        _, healthy = await register_and_get(client, sqlite_registry, "2")
        assert "model_id" in healthy and "id" not in healthy


async def test_retype_field_sends_metric_values_as_strings(sqlite_registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=sqlite_registry.url) as client:
        await set_faults(client, sqlite_registry, "registry-retype-field")
        created, got = await register_and_get(client, sqlite_registry, "1")
        assert created.json()["metrics"] == {"auc": "0.97"}
        assert got["metrics"] == {"auc": "0.97"}
        await client.delete("/admin/faults", headers=sqlite_registry.headers("admin"))
        _, healthy = await register_and_get(client, sqlite_registry, "2")
        assert healthy["metrics"] == {"auc": 0.97}


async def test_wrong_status_answers_200_on_register(sqlite_registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=sqlite_registry.url) as client:
        await set_faults(client, sqlite_registry, "registry-wrong-status")
        created, _ = await register_and_get(client, sqlite_registry, "1")
        assert created.status_code == 200
        await client.delete("/admin/faults", headers=sqlite_registry.headers("admin"))
        created, _ = await register_and_get(client, sqlite_registry, "2")
        assert created.status_code == 201


async def test_bad_enum_sends_status_outside_the_enum(sqlite_registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=sqlite_registry.url) as client:
        await set_faults(client, sqlite_registry, "registry-bad-enum")
        created, got = await register_and_get(client, sqlite_registry, "1")
        assert created.json()["status"] == got["status"] == "deprecated"
        await client.delete("/admin/faults", headers=sqlite_registry.headers("admin"))
        _, healthy = await register_and_get(client, sqlite_registry, "2")
        assert healthy["status"] == "active"


async def test_db_down_cuts_the_database_and_clears_again(registry: LiveRegistry) -> None:
    async with asyncio.timeout(30), httpx.AsyncClient(base_url=registry.url) as client:
        _, before = await register_and_get(client, registry, "1")
        await set_faults(client, registry, "db-down")
        # The pool really is gone: no connection is held, and new ones are refused.
        assert registry.app.state.store.engine.pool.checkedin() == 0
        for method, path, body in (
            ("GET", f"/models/{before['model_id']}", None),
            ("POST", "/models/register", {**SPEC, "version": "2"}),
            ("GET", f"/models/{before['model_id']}/versions", None),
        ):
            response = await client.request(method, path, json=body, headers=registry.headers())
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "database_unavailable"
        ready = await client.get("/ready")
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "database_unavailable"
        assert (await client.get("/health")).status_code == 200  # liveness is not readiness
        assert "models_total" not in (await client.get("/metrics")).text
        cleared = await client.delete("/admin/faults", headers=registry.headers("admin"))
        assert cleared.json()["faults"] == []
        assert (await client.get("/ready")).status_code == 200
        got = await client.get(f"/models/{before['model_id']}", headers=registry.headers("read"))
        assert got.json() == before
        # The write attempted while the database was down was not half-applied.
        versions = await client.get(
            f"/models/{before['model_id']}/versions", headers=registry.headers("read")
        )
        assert [m["version"] for m in versions.json()["versions"]] == ["1"]


async def test_fault_admin_needs_admin_and_known_names(sqlite_registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=sqlite_registry.url) as client:
        body = {"faults": ["db-down"]}
        for scope in ("read", "write"):
            response = await client.put(
                "/admin/faults", json=body, headers=sqlite_registry.headers(scope)
            )
            assert response.status_code == 403
        unknown = await client.put(
            "/admin/faults",
            json={"faults": ["registry-bad-enum", "disk-full"]},
            headers=sqlite_registry.headers("admin"),
        )
        assert unknown.status_code == 422
        assert unknown.json()["error"]["field"] == "faults.1"
        listed = await client.get("/admin/faults", headers=sqlite_registry.headers("admin"))
        assert listed.json()["faults"] == []
        assert "db-down" in listed.json()["known"]


def test_fault_flag_at_start_is_active(tmp_path: Path) -> None:
    tokens = make_tokens()
    tokens_file = write_tokens_file(tokens, tmp_path / "tokens.json")
    proc = RegistryProcess(
        [
            "--tokens-file",
            str(tokens_file),
            "--state-dir",
            str(tmp_path / "state"),
            "--fault",
            "registry-wrong-status",
            "--fault",
            "registry-bad-enum",
        ],
        tmp_path / "registry.log",
    )
    try:
        proc.wait_healthy()
        headers = {"Authorization": f"Bearer {tokens.write}"}
        created = httpx.post(f"{proc.url}/models/register", json=SPEC, headers=headers, timeout=10)
        assert created.status_code == 200
        assert created.json()["status"] == "deprecated"
        admin = {"Authorization": f"Bearer {tokens.admin}"}
        listed = httpx.get(f"{proc.url}/admin/faults", headers=admin, timeout=10).json()
        assert listed["faults"] == ["registry-bad-enum", "registry-wrong-status"]
        assert (tmp_path / "state" / "registry.sqlite3").exists()
    finally:
        proc.stop()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--fault", "disk-full"], "unknown fault 'disk-full'"),
        (["--tokens-file", "{missing}"], "cannot read the tokens file"),
        (["--tokens-file", "{bad_json}"], "line 1: not valid JSON"),
        (["--tokens-file", "{no_admin}"], "field 'admin' must be a non-empty string"),
        (["--database-url", "mysql://x/y"], "unsupported database URL"),
    ],
)
def test_bad_start_options_exit_2_with_a_clear_message(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    files = {
        "missing": tmp_path / "nope.json",
        "bad_json": tmp_path / "bad.json",
        "no_admin": tmp_path / "no_admin.json",
    }
    files["bad_json"].write_text("{read: 1}")
    files["no_admin"].write_text(json.dumps({"read": "a", "write": "b"}))
    good = write_tokens_file(make_tokens(), tmp_path / "good.json")
    argv = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]
    if "--tokens-file" not in argv:
        argv += ["--tokens-file", str(good)]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "testbed.registry",
            "--port",
            "1",
            "--state-dir",
            str(tmp_path / "state"),
            *argv,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    if "--tokens-file" in args:
        assert str(files[args[1].strip("{}")]) in result.stderr  # the message names the file


async def test_auth_bypass_lets_a_read_token_write(sqlite_registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=sqlite_registry.url) as client:
        read = sqlite_registry.headers("read")
        body = {**SPEC, "version": "bypass"}
        assert (await client.post("/models/register", json=body, headers=read)).status_code == 403
        await set_faults(client, sqlite_registry, "registry-auth-bypass")
        created = await client.post("/models/register", json=body, headers=read)
        assert created.status_code == 201, created.text
        # Only write is bypassed: admin still needs the admin token.
        assert (await client.get("/admin/faults", headers=read)).status_code == 403
        assert (await client.post("/models/register", json=body)).status_code == 401
        await client.delete("/admin/faults", headers=sqlite_registry.headers("admin"))
        again = await client.post("/models/register", json={**body, "version": "b2"}, headers=read)
        assert again.status_code == 403


async def test_bad_id_500_answers_a_malformed_id_with_500(sqlite_registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=sqlite_registry.url) as client:
        read = sqlite_registry.headers("read")
        assert (await client.get("/models/abc", headers=read)).status_code == 400
        await set_faults(client, sqlite_registry, "registry-bad-id-500")
        assert (await client.get("/models/abc", headers=read)).status_code == 500
        assert (await client.get("/models/999999", headers=read)).status_code == 404
        await client.delete("/admin/faults", headers=sqlite_registry.headers("admin"))
        assert (await client.get("/models/abc", headers=read)).status_code == 400
