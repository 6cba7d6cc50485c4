"""Consumer "pipeline-orchestrator" -> provider "model-registry", through the real typed
client ``testbed.registry_client.RegistryClient``.

Conventions the provider verification relies on (harness.contract):
- ids and names the provider creates at verification time come from provider states
  (``given("a model exists", name=..., version=...)``) through provider-state
  generators (``${model_id}``, ``${name}``);
- an ``Authorization`` header under a regex matcher means "a valid token"; its example
  names the scope (``Bearer read-token`` / ``Bearer write-token``). A literal header
  (``Bearer not-a-valid-token``) or none is sent as written.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pact import Pact, generate, match

from contracts.conftest import mock_provider
from testbed.registry_client import (
    DuplicateModel,
    Forbidden,
    InvalidRequest,
    Model,
    ModelNotFound,
    ModelSpec,
    RegistryClient,
    Unauthorized,
)

NAME = "churn-classifier"
TIMESTAMP = "2026-11-21T11:02:36.123456Z"
TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX"  # Java SimpleDateFormat, as pact expects
BEARER = r"^Bearer \S+$"


def auth(scope: str) -> Any:
    return match.regex(f"Bearer {scope}-token", regex=BEARER)


def model_body(
    *,
    version: str = "1.0.0",
    stage: Any = None,
    metrics: dict[str, float] | None = None,
) -> dict[str, Any]:
    """A model as the registry answers it: ids and numbers by type, enums by regex,
    the timestamp by format."""
    return {
        "model_id": match.int(1),
        "name": match.str(NAME),
        "version": match.str(version),
        "status": match.regex("active", regex=r"^(active|retired)$"),
        "stage": stage
        if stage is not None
        else match.regex("none", regex=r"^(none|staging|production|archived)$"),
        "framework": match.str("sklearn"),
        "metrics": match.like(metrics if metrics is not None else {"auc": 0.91}),
        "tags": match.like({}),
        "created_at": match.datetime(TIMESTAMP, format=TIMESTAMP_FORMAT, disable_conversion=True),
    }


def error_body(code: str) -> dict[str, Any]:
    return {"error": {"code": match.str(code), "message": match.str("explanation")}}


async def test_get_existing_model(registry_pact: Pact) -> None:
    (
        registry_pact.upon_receiving("a request for an existing model")
        .given("a model exists", name=NAME, version="1.0.0", metrics={"auc": 0.91})
        .with_request(
            "GET", match.type("/models/1", generator=generate.provider_state("/models/${model_id}"))
        )
        .with_header("Authorization", auth("read"))
        .will_respond_with(200)
        .with_body(model_body())
    )
    async with asyncio.timeout(10):
        with mock_provider(registry_pact) as url:
            async with RegistryClient(url, "read-token") as client:
                model = await client.get_model(1)
    assert model.model_id == 1
    assert model.status == "active"
    assert model.metrics == {"auc": 0.91}
    assert model.created_at.year == 2026


async def test_get_unknown_model(registry_pact: Pact) -> None:
    (
        registry_pact.upon_receiving("a request for a model that does not exist")
        .with_request("GET", "/models/999999999")
        .with_header("Authorization", auth("read"))
        .will_respond_with(404)
        .with_body(error_body("not_found"))
    )
    async with asyncio.timeout(10):
        with mock_provider(registry_pact) as url:
            async with RegistryClient(url, "read-token") as client:
                with pytest.raises(ModelNotFound):
                    await client.get_model(999999999)


async def test_register_model(registry_pact: Pact) -> None:
    (
        registry_pact.upon_receiving("a request to register a new model version")
        .given("no model named", name=NAME)
        .with_request("POST", "/models/register")
        .with_header("Authorization", auth("write"))
        .with_body(
            {
                "name": match.type(NAME, generator=generate.provider_state("${name}")),
                "version": "2.0.0",
                "framework": "sklearn",
                "metrics": {"auc": 0.93},
                "tags": {"team": "fraud"},
            },
            content_type="application/json",
        )
        .will_respond_with(201)
        .with_body(
            {
                **model_body(version="2.0.0", metrics={"auc": 0.93}),
                "tags": {"team": "fraud"},
            }
        )
    )
    spec = ModelSpec(
        name=NAME,
        version="2.0.0",
        framework="sklearn",
        metrics={"auc": 0.93},
        tags={"team": "fraud"},
    )
    async with asyncio.timeout(10):
        with mock_provider(registry_pact) as url:
            async with RegistryClient(url, "write-token") as client:
                model = await client.register_model(spec)
    assert (model.name, model.version, model.tags) == (NAME, "2.0.0", {"team": "fraud"})


async def test_register_duplicate(registry_pact: Pact) -> None:
    (
        registry_pact.upon_receiving("a request to register a model version that exists")
        .given("a model exists", name=NAME, version="1.0.0")
        .with_request("POST", "/models/register")
        .with_header("Authorization", auth("write"))
        .with_body(
            {
                "name": match.type(NAME, generator=generate.provider_state("${name}")),
                "version": "1.0.0",
                "framework": "sklearn",
                "metrics": {},
                "tags": {},
            },
            content_type="application/json",
        )
        .will_respond_with(409)
        .with_body({"error": {"code": "duplicate_model", "message": match.str("exists")}})
    )
    async with asyncio.timeout(10):
        with mock_provider(registry_pact) as url:
            async with RegistryClient(url, "write-token") as client:
                with pytest.raises(DuplicateModel):
                    await client.register_model(
                        ModelSpec(name=NAME, version="1.0.0", framework="sklearn")
                    )


async def test_list_versions(registry_pact: Pact) -> None:
    (
        registry_pact.upon_receiving("a request for the versions of a model")
        .given(
            "a model has versions", name=NAME, versions=["1.0.0", "1.1.0"], metrics={"auc": 0.91}
        )
        .with_request(
            "GET",
            match.type(
                "/models/1/versions",
                generator=generate.provider_state("/models/${model_id}/versions"),
            ),
        )
        .with_header("Authorization", auth("read"))
        .will_respond_with(200)
        .with_body({"versions": match.each_like(model_body(), min=2)})
    )
    async with asyncio.timeout(10):
        with mock_provider(registry_pact) as url:
            async with RegistryClient(url, "read-token") as client:
                versions = await client.list_versions(1)
    # The mock answers one example; the pact asks the provider for at least two.
    assert versions and all(v.name == NAME for v in versions)


async def test_transition_to_production(registry_pact: Pact) -> None:
    (
        registry_pact.upon_receiving("a request to move a model to production")
        .given("a model exists", name=NAME, version="1.0.0", metrics={"auc": 0.91})
        .with_request(
            "POST",
            match.type(
                "/models/1/transition",
                generator=generate.provider_state("/models/${model_id}/transition"),
            ),
        )
        .with_header("Authorization", auth("write"))
        .with_body({"stage": "production"}, content_type="application/json")
        .will_respond_with(200)
        .with_body(model_body(stage="production"))
    )
    async with asyncio.timeout(10):
        with mock_provider(registry_pact) as url:
            async with RegistryClient(url, "write-token") as client:
                model = await client.transition(1, "production")
    assert model.stage == "production"


async def test_rollback(registry_pact: Pact) -> None:
    (
        registry_pact.upon_receiving("a request to roll a model back to its previous version")
        .given(
            "a model has been promoted twice",
            name=NAME,
            versions=["1.0.0", "2.0.0"],
            metrics={"auc": 0.91},
        )
        .with_request(
            "POST",
            match.type(
                f"/models/{NAME}/rollback",
                generator=generate.provider_state("/models/${name}/rollback"),
            ),
        )
        .with_header("Authorization", auth("write"))
        .will_respond_with(200)
        .with_body(model_body(version="1.0.0", stage="production"))
    )
    async with asyncio.timeout(10):
        with mock_provider(registry_pact) as url:
            async with RegistryClient(url, "write-token") as client:
                model = await client.rollback(NAME)
    assert isinstance(model, Model)
    assert (model.version, model.stage) == ("1.0.0", "production")


async def test_delete_model(registry_pact: Pact) -> None:
    (
        registry_pact.upon_receiving("a request to delete a model version")
        .given("a model exists", name=NAME, version="1.0.0")
        .with_request(
            "DELETE",
            match.type("/models/1", generator=generate.provider_state("/models/${model_id}")),
        )
        .with_header("Authorization", auth("write"))
        .will_respond_with(204)
    )
    async with asyncio.timeout(10):
        with mock_provider(registry_pact) as url:
            async with RegistryClient(url, "write-token") as client:
                assert await client.delete_model(1) is None


async def test_no_token(registry_pact: Pact) -> None:
    (
        registry_pact.upon_receiving("a request without a token")
        .with_request("GET", "/models/1")
        .will_respond_with(401)
        .with_body(error_body("unauthorized"))
    )
    async with asyncio.timeout(10):
        with mock_provider(registry_pact) as url:
            async with RegistryClient(url, None) as client:
                with pytest.raises(Unauthorized):
                    await client.get_model(1)


async def test_unknown_token(registry_pact: Pact) -> None:
    (
        registry_pact.upon_receiving("a request with an unknown token")
        .with_request("GET", "/models/1")
        .with_header("Authorization", "Bearer not-a-valid-token")
        .will_respond_with(403)
        .with_body(error_body("forbidden"))
    )
    async with asyncio.timeout(10):
        with mock_provider(registry_pact) as url:
            async with RegistryClient(url, "not-a-valid-token") as client:
                with pytest.raises(Forbidden):
                    await client.get_model(1)


async def test_malformed_id(registry_pact: Pact) -> None:
    (
        registry_pact.upon_receiving("a request with a malformed model id")
        .with_request("GET", "/models/not-a-number")
        .with_header("Authorization", auth("read"))
        .will_respond_with(400)
        .with_body(error_body("invalid_path"))
    )
    async with asyncio.timeout(10):
        with mock_provider(registry_pact) as url:
            async with RegistryClient(url, "read-token") as client:
                with pytest.raises(InvalidRequest):
                    await client.get_model("not-a-number")
