"""Fixtures for the serving tests: a real gunicorn deployment on a free 127.0.0.1 port."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.processes import free_port, stop_service
from testbed.serving.deployment import (
    ServingDeployment,
    model_source_path,
    start_serving,
    wait_serving_ready,
)
from testbed.serving.golden import golden_set_path
from testbed.serving.model import NEXT_MODEL_VERSION, train_model

ADMIN_TOKEN = "admin-token-for-tests"
READ_TOKEN = "read-token-for-tests"


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def read_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {READ_TOKEN}"}


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained once per session (training is deterministic); deployments reuse the file.
    The next version (what a rollout promotes) is trained beside it, ``model-<version>``."""
    folder = tmp_path_factory.mktemp("model")
    train_model(folder / f"model-{NEXT_MODEL_VERSION}.joblib", NEXT_MODEL_VERSION)
    return train_model(folder / "model.joblib")


def copy_trained(trained: Path, state_dir: Path) -> None:
    """Both trained versions and their golden sets into a state dir's artifact store."""
    model_source_path(state_dir).parent.mkdir(parents=True, exist_ok=True)
    following = trained.with_name(f"model-{NEXT_MODEL_VERSION}.joblib")
    pairs = ((trained, model_source_path(state_dir)),
             (following, model_source_path(state_dir, NEXT_MODEL_VERSION)))  # fmt: skip
    for source, target in pairs:
        shutil.copyfile(source, target)
        shutil.copyfile(golden_set_path(source), golden_set_path(target))


def launch_serving(
    state_dir: Path, replicas: int = 2, trained: Path | None = None
) -> ServingDeployment:
    state_dir.mkdir(parents=True, exist_ok=True)
    if trained is not None:
        copy_trained(trained, state_dir)
    tokens_file = state_dir / "tokens.json"
    tokens_file.write_text(json.dumps({"read": READ_TOKEN, "write": "w", "admin": ADMIN_TOKEN}))
    deployment = start_serving(
        state_dir, port=free_port(), replicas=replicas, tokens_file=tokens_file
    )
    try:
        asyncio.run(wait_serving_ready(deployment, timeout_s=45.0))
    except BaseException:
        stop_service(deployment.process.pid, deployment.process.create_time, grace_s=3.0)
        raise
    return deployment


def _shutdown(deployment: ServingDeployment) -> None:
    process = deployment.process
    stop_service(process.pid, process.create_time, grace_s=5.0)


@pytest.fixture(scope="module")
def shared_serving(
    tmp_path_factory: pytest.TempPathFactory, trained_model: Path
) -> Iterator[ServingDeployment]:
    """One deployment for a module's non-destructive tests (faults cleared by each test)."""
    running = launch_serving(tmp_path_factory.mktemp("serving"), trained=trained_model)
    try:
        yield running
    finally:
        _shutdown(running)


@pytest.fixture
def own_serving(tmp_path: Path, trained_model: Path) -> Iterator[ServingDeployment]:
    """A deployment of its own, for tests that kill replicas or break the model."""
    running = launch_serving(tmp_path / "state", trained=trained_model)
    try:
        yield running
    finally:
        _shutdown(running)
