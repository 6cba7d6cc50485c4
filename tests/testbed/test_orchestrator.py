"""The pipeline orchestrator against the real registry: runs succeed and register their
model; 50 concurrent runs all finish; failures are reported, not hidden."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from testbed.orchestrator.app import OrchestratorSettings, create_app
from testbed.orchestrator.training import evaluate_accuracy, make_dataset, train_classifier
from tests.testbed.test_registry_support import (
    REPO_ROOT,
    LiveRegistry,
    RegistryProcess,
    free_port,
    make_tokens,
    serve_in_thread,
    write_tokens_file,
)

pytest_plugins = ["tests.testbed.test_registry_support"]


@pytest.fixture
def orchestrator(sqlite_registry: LiveRegistry) -> Iterator[str]:
    settings = OrchestratorSettings(sqlite_registry.url, sqlite_registry.tokens.write)
    with serve_in_thread(create_app(settings)) as url:
        yield url


async def wait_finished(
    client: httpx.AsyncClient, run_id: str, poll_s: float = 0.05
) -> dict[str, Any]:
    while True:
        response = await client.get(f"/pipelines/{run_id}")
        assert response.status_code == 200, response.text
        run: dict[str, Any] = response.json()
        if run["status"] != "running":
            return run
        await asyncio.sleep(poll_s)


async def registry_get(registry: LiveRegistry, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=registry.url, timeout=5) as client:
        response = await client.get(path, headers=registry.headers("read"))
    assert response.status_code == 200, response.text
    return response


def test_training_is_deterministic_and_fast() -> None:
    started = time.perf_counter()
    first = make_dataset(2000, seed=3)
    accuracy = evaluate_accuracy(train_classifier(first), first)
    elapsed_s = time.perf_counter() - started
    second = make_dataset(2000, seed=3)
    assert (first.x_train == second.x_train).all() and (first.y_test == second.y_test).all()
    assert accuracy == evaluate_accuracy(train_classifier(second), second)
    assert 0.8 < accuracy <= 1.0  # a learnable problem, learned
    assert elapsed_s < 1.0, elapsed_s
    assert (make_dataset(2000, seed=4).x_train != first.x_train).any()


async def test_pipeline_succeeds_and_model_is_in_the_registry(
    orchestrator: str, sqlite_registry: LiveRegistry
) -> None:
    async with asyncio.timeout(30), httpx.AsyncClient(base_url=orchestrator) as client:
        accepted = await client.post(
            "/pipelines", json={"name": "churn", "version": "3", "samples": 600, "seed": 1}
        )
        assert accepted.status_code == 202
        run = await wait_finished(client, accepted.json()["run_id"])
        assert run["status"] == "succeeded", run
        assert run["error"] is None
        assert [s["name"] for s in run["steps"]] == ["ingest", "train", "evaluate", "register"]
        assert all(s["status"] == "succeeded" and s["duration_s"] >= 0 for s in run["steps"])
        assert run["duration_s"] > 0
        model = (await registry_get(sqlite_registry, f"/models/{run['model_id']}")).json()
        assert (model["name"], model["version"], model["framework"]) == (
            "churn",
            "3",
            "scikit-learn",
        )
        assert 0.5 < model["metrics"]["accuracy"] <= 1.0
        assert model["tags"]["run_id"] == run["run_id"]
        # A second run with the same name and version fails at register, and says why.
        again = await client.post("/pipelines", json={"name": "churn", "version": "3"})
        failed = await wait_finished(client, again.json()["run_id"])
        assert failed["status"] == "failed" and failed["model_id"] is None
        assert "DuplicateModel" in failed["error"]
        assert failed["steps"][-1]["status"] == "failed"


async def test_fifty_concurrent_pipelines_all_finish(
    orchestrator: str, sqlite_registry: LiveRegistry
) -> None:
    async with asyncio.timeout(60), httpx.AsyncClient(base_url=orchestrator) as client:
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(client.post("/pipelines", json={"samples": 300, "seed": i}) for i in range(50))
        )
        assert [r.status_code for r in responses] == [202] * 50
        runs = await asyncio.gather(
            *(wait_finished(client, r.json()["run_id"], poll_s=0.2) for r in responses)
        )
        elapsed_s = time.perf_counter() - started
        assert [r["status"] for r in runs] == ["succeeded"] * 50, [r["error"] for r in runs]
        assert len({r["model_id"] for r in runs}) == 50
        assert elapsed_s < 30, elapsed_s
        path = f"/models/{runs[0]['model_id']}/versions"
        versions = (await registry_get(sqlite_registry, path)).json()["versions"]
        assert len(versions) == 50


async def test_bad_requests_and_unknown_runs(orchestrator: str) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=orchestrator) as client:
        for body in ({"samples": 5}, {"samples": "many"}, {"name": "a b"}, {"colour": "red"}):
            response = await client.post("/pipelines", json=body)
            assert response.status_code == 422, body
            assert response.json()["error"]["message"]
        missing = await client.get("/pipelines/nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "run_not_found"
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/ready")).status_code == 200
        no_body = await client.post("/pipelines")
        assert no_body.status_code == 202


async def test_registry_down_fails_the_run_with_the_reason(
    orchestrator: str, sqlite_registry: LiveRegistry
) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=orchestrator) as client:
        admin = sqlite_registry.headers("admin")
        faults_url = f"{sqlite_registry.url}/admin/faults"
        await client.put(faults_url, json={"faults": ["db-down"]}, headers=admin)
        try:
            accepted = await client.post("/pipelines", json={})
            run = await wait_finished(client, accepted.json()["run_id"])
            assert run["status"] == "failed"
            assert "register: RegistryUnavailable" in run["error"]
            assert (await client.get("/ready")).status_code == 503
        finally:
            await client.delete(faults_url, headers=admin)


@pytest.mark.e2e
async def test_entry_points_run_a_pipeline_end_to_end(tmp_path: Path) -> None:
    tokens = make_tokens()
    tokens_file = write_tokens_file(tokens, tmp_path / "tokens.json")
    registry = RegistryProcess(
        ["--tokens-file", str(tokens_file), "--state-dir", str(tmp_path / "state")],
        tmp_path / "registry.log",
    )
    port = free_port()
    orchestrator = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "testbed.orchestrator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--registry-url",
        registry.url,
        "--token-file",
        str(tokens_file),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(60):
            await asyncio.to_thread(registry.wait_healthy)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                while True:
                    try:
                        if (await client.get("/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                accepted = await client.post("/pipelines", json={"samples": 300})
                run = await wait_finished(client, accepted.json()["run_id"])
        assert run["status"] == "succeeded", run
    finally:
        if orchestrator.returncode is None:
            orchestrator.terminate()
        try:
            await asyncio.wait_for(orchestrator.wait(), 15)
        except TimeoutError:
            orchestrator.kill()
            await orchestrator.wait()
        registry.stop()
    assert orchestrator.returncode == 0 or orchestrator.returncode == -15


def test_bad_token_file_exits_2_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "tokens.json"
    bad.write_text('{"read": "r", "write": ""}')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "testbed.orchestrator",
            "--port",
            "1",
            "--registry-url",
            "http://127.0.0.1:1",
            "--token-file",
            str(bad),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"{bad}: field 'write' must be a non-empty string" in result.stderr
    assert "Traceback" not in result.stderr
