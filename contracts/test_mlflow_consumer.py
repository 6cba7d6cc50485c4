"""Consumer "harness-mlflow-client" -> provider "mlflow-registry" (MLflow's model registry
REST API), through the typed client ``platforms.mlflow.registry_client``. The pact lands in
``platforms/mlflow/pacts/``; ``suites/mlflow.yaml`` verifies a real ``mlflow server``
against it, with provider states set up by ``states: mlflow``
(:mod:`harness.contract.mlflow_states`): names come back through provider-state
generators (``${name}``), so the verification creates its own run-unique models.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pact import Pact, generate, match

from contracts.conftest import mock_provider
from platforms.mlflow.registry_client import AlreadyExists, MlflowRegistryClient, NotFound

NAME = "churn"
API = "/api/2.0/mlflow"
STATUS = r"^(READY|PENDING_REGISTRATION|FAILED_REGISTRATION)$"


def named(value: str = NAME, expression: str = "${name}") -> Any:
    return match.type(value, generator=generate.provider_state(expression))


def version_body(version: str = "1", **extra: Any) -> dict[str, Any]:
    return {
        "name": match.str(NAME),
        "version": match.regex(version, regex=r"^\d+$"),
        "status": match.regex("READY", regex=STATUS),
        "creation_timestamp": match.int(1764000000000),
        **extra,
    }


def model_body() -> dict[str, Any]:
    return {
        "name": match.str(NAME),
        "creation_timestamp": match.int(1764000000000),
        "latest_versions": match.each_like(version_body("2"), min=1),
    }


def error_body(code: str) -> dict[str, Any]:
    return {"error_code": code, "message": match.str("explanation")}


async def test_get_registered_model(mlflow_pact: Pact) -> None:
    (
        mlflow_pact.upon_receiving("a request for a registered model with versions")
        .given("a registered model has versions", name=NAME, versions=2)
        .with_request("GET", f"{API}/registered-models/get")
        .with_query_parameter("name", named())
        .will_respond_with(200)
        .with_body({"registered_model": model_body()})
    )
    async with asyncio.timeout(10):
        with mock_provider(mlflow_pact) as url:
            async with MlflowRegistryClient(url) as registry:
                model = await registry.get_model(NAME)
    assert model.latest_versions[0].version == "2"


async def test_search_registered_models(mlflow_pact: Pact) -> None:
    (
        mlflow_pact.upon_receiving("a search for registered models by name")
        .given("a registered model has versions", name=NAME, versions=2)
        .with_request("GET", f"{API}/registered-models/search")
        .with_query_parameter("filter", named(f"name='{NAME}'", "name='${name}'"))
        .will_respond_with(200)
        .with_body({"registered_models": match.each_like(model_body(), min=1)})
    )
    async with asyncio.timeout(10):
        with mock_provider(mlflow_pact) as url:
            async with MlflowRegistryClient(url) as registry:
                models = await registry.search_models(NAME)
    assert models[0].name == NAME


async def test_get_model_version(mlflow_pact: Pact) -> None:
    (
        mlflow_pact.upon_receiving("a request for version 1 of a registered model")
        .given("a registered model has versions", name=NAME, versions=2)
        .with_request("GET", f"{API}/model-versions/get")
        .with_query_parameter("name", named())
        .with_query_parameter("version", "1")
        .will_respond_with(200)
        .with_body({"model_version": version_body("1")})
    )
    async with asyncio.timeout(10):
        with mock_provider(mlflow_pact) as url:
            async with MlflowRegistryClient(url) as registry:
                version = await registry.get_version(NAME, "1")
    assert version.status == "READY"


async def test_search_model_versions(mlflow_pact: Pact) -> None:
    (
        mlflow_pact.upon_receiving("a search for the versions of a registered model")
        .given("a registered model has versions", name=NAME, versions=2)
        .with_request("GET", f"{API}/model-versions/search")
        .with_query_parameter("filter", named(f"name='{NAME}'", "name='${name}'"))
        .will_respond_with(200)
        .with_body(
            {"model_versions": match.type([version_body("2"), version_body("1")], min=2)}
        )
    )
    async with asyncio.timeout(10):
        with mock_provider(mlflow_pact) as url:
            async with MlflowRegistryClient(url) as registry:
                versions = await registry.search_versions(NAME)
    assert len(versions) == 2


async def test_set_alias(mlflow_pact: Pact) -> None:
    (
        mlflow_pact.upon_receiving("setting the alias champion on version 2")
        .given("a registered model has versions", name=NAME, versions=2)
        .with_request("POST", f"{API}/registered-models/alias")
        .with_body(
            {"name": named(), "alias": "champion", "version": "2"},
            content_type="application/json",
        )
        .will_respond_with(200)
        .with_body({})
    )
    async with asyncio.timeout(10):
        with mock_provider(mlflow_pact) as url:
            async with MlflowRegistryClient(url) as registry:
                await registry.set_alias(NAME, "champion", "2")


async def test_get_version_by_alias(mlflow_pact: Pact) -> None:
    (
        mlflow_pact.upon_receiving("a request for the version an alias points at")
        .given("an alias points at a version", name=NAME, alias="champion", version="2")
        .with_request("GET", f"{API}/registered-models/alias")
        .with_query_parameter("name", named())
        .with_query_parameter("alias", "champion")
        .will_respond_with(200)
        .with_body({"model_version": version_body("2", aliases=["champion"])})
    )
    async with asyncio.timeout(10):
        with mock_provider(mlflow_pact) as url:
            async with MlflowRegistryClient(url) as registry:
                version = await registry.get_version_by_alias(NAME, "champion")
    assert version.version == "2" and "champion" in version.aliases


async def test_missing_model_is_404(mlflow_pact: Pact) -> None:
    (
        mlflow_pact.upon_receiving("a request for a registered model that does not exist")
        .given("no registered model named", name="missing")
        .with_request("GET", f"{API}/registered-models/get")
        .with_query_parameter("name", named("missing"))
        .will_respond_with(404)
        .with_body(error_body("RESOURCE_DOES_NOT_EXIST"))
    )
    async with asyncio.timeout(10):
        with mock_provider(mlflow_pact) as url:
            async with MlflowRegistryClient(url) as registry:
                with pytest.raises(NotFound) as caught:
                    await registry.get_model("missing")
    assert caught.value.status == 404


async def test_duplicate_model_is_400(mlflow_pact: Pact) -> None:
    (
        mlflow_pact.upon_receiving("creating a registered model whose name is taken")
        .given("a registered model exists", name=NAME)
        .with_request("POST", f"{API}/registered-models/create")
        .with_body({"name": named()}, content_type="application/json")
        .will_respond_with(400)
        .with_body(error_body("RESOURCE_ALREADY_EXISTS"))
    )
    async with asyncio.timeout(10):
        with mock_provider(mlflow_pact) as url:
            async with MlflowRegistryClient(url) as registry:
                with pytest.raises(AlreadyExists) as caught:
                    await registry.create_model(NAME)
    assert caught.value.status == 400
