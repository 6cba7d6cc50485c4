"""The typed registry client against the real registry: models in, typed errors out."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from testbed.registry_client import (
    Conflict,
    ContractViolation,
    DuplicateModel,
    Forbidden,
    InvalidRequest,
    Model,
    ModelNotFound,
    ModelSpec,
    RegistryClient,
    RegistryError,
    RegistryUnavailable,
    RegistryUnreachable,
    Unauthorized,
)
from tests.testbed.test_registry_support import LiveRegistry, free_port

pytest_plugins = ["tests.testbed.test_registry_support"]

SPEC = ModelSpec(
    name="ranker", version="1", framework="lightgbm", metrics={"ndcg": 0.71}, tags={"team": "s"}
)


async def test_register_get_transition_rollback_delete(registry: LiveRegistry) -> None:
    async with asyncio.timeout(20), RegistryClient(registry.url, registry.tokens.write) as client:
        first = await client.register_model(SPEC)
        assert isinstance(first, Model)
        assert (first.name, first.version, first.status, first.stage) == (
            "ranker",
            "1",
            "active",
            "none",
        )
        assert first.metrics == {"ndcg": 0.71} and first.tags == {"team": "s"}
        assert first.created_at.tzinfo is not None
        assert await client.get_model(first.model_id) == first
        second = await client.register_model(SPEC.model_copy(update={"version": "2"}))
        assert (await client.transition(first.model_id, "production")).stage == "production"
        assert (await client.transition(second.model_id, "production")).stage == "production"
        versions = await client.list_versions(second.model_id)
        assert [(m.version, m.stage) for m in versions] == [("1", "archived"), ("2", "production")]
        restored = await client.rollback("ranker")
        assert (restored.model_id, restored.stage) == (first.model_id, "production")
        await client.delete_model(second.model_id)
        with pytest.raises(ModelNotFound):
            await client.get_model(second.model_id)


async def test_typed_errors_for_each_status(registry: LiveRegistry) -> None:
    async with asyncio.timeout(20):
        async with RegistryClient(registry.url, registry.tokens.write) as writer:
            model = await writer.register_model(SPEC)
            with pytest.raises(DuplicateModel) as duplicate:
                await writer.register_model(SPEC)
            assert (duplicate.value.status, duplicate.value.code) == (409, "duplicate_model")
            with pytest.raises(Conflict) as conflict:
                await writer.rollback("ranker")
            assert not isinstance(conflict.value, DuplicateModel)
            with pytest.raises(ModelNotFound) as missing:
                await writer.get_model(987654)
            assert missing.value.status == 404
            for malformed in ("abc", "-1", "0", "'; DROP TABLE models; --", "1 2"):
                with pytest.raises(InvalidRequest) as invalid:
                    await writer.get_model(malformed)
                assert invalid.value.status == 400, malformed
            with pytest.raises(InvalidRequest) as unprocessable:
                await writer.transition(model.model_id, "live")
            assert unprocessable.value.status == 422
            with pytest.raises(InvalidRequest) as bad_name:
                await writer.register_model(SPEC.model_copy(update={"name": "bad name"}))
            assert bad_name.value.status == 422
        async with RegistryClient(registry.url, None) as anonymous:
            with pytest.raises(Unauthorized) as unauthorized:
                await anonymous.get_model(model.model_id)
            assert unauthorized.value.status == 401
        async with RegistryClient(registry.url, "made-up") as stranger:
            with pytest.raises(Forbidden):
                await stranger.get_model(model.model_id)
        async with RegistryClient(registry.url, registry.tokens.read) as reader:
            assert (await reader.get_model(model.model_id)).model_id == model.model_id
            with pytest.raises(Forbidden) as forbidden:
                await reader.delete_model(model.model_id)
            assert forbidden.value.code == "insufficient_scope"


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("registry-rename-field", "invalid_model_body"),
        ("registry-retype-field", "invalid_model_body"),
        ("registry-bad-enum", "invalid_model_body"),
        ("registry-wrong-status", "unexpected_status"),
    ],
)
async def test_contract_breaking_answers_raise_contract_violation(
    sqlite_registry: LiveRegistry, fault: str, code: str
) -> None:
    async with (
        asyncio.timeout(20),
        RegistryClient(sqlite_registry.url, sqlite_registry.tokens.write) as client,
    ):
        put = await client._http.put(  # the admin API is not part of the client's surface
            "/admin/faults",
            json={"faults": [fault]},
            headers={"Authorization": f"Bearer {sqlite_registry.tokens.admin}"},
        )
        assert put.status_code == 200
        with pytest.raises(ContractViolation) as violation:
            await client.register_model(SPEC)
        assert violation.value.code == code
        assert isinstance(violation.value, RegistryError)


async def test_unavailable_and_unreachable(sqlite_registry: LiveRegistry) -> None:
    async with asyncio.timeout(20):
        admin = {"Authorization": f"Bearer {sqlite_registry.tokens.admin}"}
        async with httpx.AsyncClient(base_url=sqlite_registry.url, headers=admin) as raw:
            await raw.put("/admin/faults", json={"faults": ["db-down"]})
            async with RegistryClient(sqlite_registry.url, sqlite_registry.tokens.write) as client:
                with pytest.raises(RegistryUnavailable) as unavailable:
                    await client.register_model(SPEC)
                assert unavailable.value.status == 503
                with pytest.raises(RegistryUnavailable):
                    await client.check_ready()
            await raw.delete("/admin/faults")
        async with RegistryClient(f"http://127.0.0.1:{free_port()}", "t", timeout_s=2) as nowhere:
            with pytest.raises(RegistryUnreachable) as unreachable:
                await nowhere.get_model(1)
            assert unreachable.value.status == 0


async def test_nan_metric_is_refused_before_sending() -> None:
    async with asyncio.timeout(5):

        def refuse(request: httpx.Request) -> httpx.Response:
            raise AssertionError("nothing should be sent")

        transport = httpx.MockTransport(refuse)
        async with RegistryClient("http://registry.invalid", "t", transport=transport) as client:
            with pytest.raises(InvalidRequest):
                await client.register_model(
                    SPEC.model_copy(update={"metrics": {"m": float("nan")}})
                )


async def test_non_json_error_body_is_a_contract_violation() -> None:
    async with asyncio.timeout(5):
        transport = httpx.MockTransport(lambda request: httpx.Response(500, text="<html>oops"))
        async with RegistryClient("http://registry.invalid", "t", transport=transport) as client:
            with pytest.raises(ContractViolation) as violation:
                await client.get_model(1)
            assert violation.value.status == 500
