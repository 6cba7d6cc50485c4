"""Deploying the serving replicas: train (or reuse) the model, fetch it into the deployed
location, write the settings, start gunicorn, and wait until every replica is ready.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from testbed.faults import FaultState, write_fault_state
from testbed.processes import ServiceProcess, log_tail, start_service
from testbed.serving.golden import golden_set_path
from testbed.serving.model import (
    MODEL_KIND,
    MODEL_NAME,
    MODEL_VERSION,
    MODEL_VERSIONS,
    train_model,
)
from testbed.serving.pods import read_pod_record
from testbed.serving.replica import apply_fragile, fetch_model_artifact
from testbed.serving.rollout_state import clear_rollout_state
from testbed.serving.settings import SETTINGS_ENV, ServingSettings, write_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


class DeploymentError(Exception):
    """Serving did not come up; the message carries the cause and the log tail."""


@dataclass(frozen=True)
class ServingDeployment:
    url: str
    process: ServiceProcess
    settings: ServingSettings
    replicas: int


def model_source_path(state_dir: Path, version: str = MODEL_VERSION) -> Path:
    """The trained artifact of ``version`` in the state dir's artifact store."""
    import sklearn

    name = f"{MODEL_NAME}-{version}-{MODEL_KIND}-sklearn{sklearn.__version__}.joblib"
    return state_dir / "model" / name


def prepare_serving(
    state_dir: Path, tokens_file: Path, replicas: int, registry_url: str | None = None
) -> ServingSettings:
    """Train each model version once (deterministic, reused while the file exists) and lay
    out files. With ``registry_url`` the serving master rolls out what the registry promotes."""
    serving_dir = state_dir / "serving"
    for version in MODEL_VERSIONS:
        artifact = model_source_path(state_dir, version)
        if not artifact.exists() or not golden_set_path(artifact).exists():
            train_model(artifact, version)
    source = model_source_path(state_dir)
    settings = ServingSettings(
        state_dir=state_dir,
        model_source_path=source,
        model_path=serving_dir / "deployed" / "model.joblib",
        fault_state_path=serving_dir / "faults.json",
        rate_limit_path=serving_dir / "rate-limit.bin",
        tokens_file=tokens_file,
        pods_dir=serving_dir / "pods",
        replicas=replicas,
        registry_url=registry_url,
    )
    clear_rollout_state(serving_dir)
    for stale in (serving_dir / "metrics", settings.pods_dir):
        shutil.rmtree(stale, ignore_errors=True)
        stale.mkdir(parents=True)
    settings.rate_limit_path.unlink(missing_ok=True)
    write_fault_state(settings.fault_state_path, FaultState(set_at=time.time()))
    fetch_model_artifact(source, settings.model_path)
    write_settings(serving_dir / "settings.json", settings)
    return settings


def serving_env(state_dir: Path, settings: ServingSettings) -> dict[str, str]:
    """The environment of the gunicorn master (and so of every replica)."""
    serving_dir = state_dir / "serving"
    return {
        **os.environ,
        SETTINGS_ENV: str(serving_dir / "settings.json"),
        "TESTBED_PODS_DIR": str(settings.pods_dir),
        "PROMETHEUS_MULTIPROC_DIR": str(serving_dir / "metrics"),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
        # One thread per replica: the replicas are the parallelism.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def serving_argv(bind: str, replicas: int) -> list[str]:
    """gunicorn with ``replicas`` uvicorn workers on ``bind`` (host:port)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "testbed.serving.app:create_app()",
        "--config",
        "python:testbed.serving.gunicorn_conf",
        "--bind",
        bind,
        "--workers",
        str(replicas),
        "--name",
        "testbed-serving",
    ]


def start_serving(
    state_dir: Path,
    *,
    port: int,
    replicas: int,
    tokens_file: Path,
    registry_url: str | None = None,
) -> ServingDeployment:
    """Start gunicorn with ``replicas`` uvicorn workers on 127.0.0.1:port (returns at once)."""
    settings = prepare_serving(state_dir, tokens_file, replicas, registry_url)
    env = serving_env(state_dir, settings)
    argv = serving_argv(f"127.0.0.1:{port}", replicas)
    log_path = state_dir / "logs" / "serving.log"
    process = start_service(argv, log_path=log_path, env=env, cwd=state_dir)
    return ServingDeployment(
        url=f"http://127.0.0.1:{port}", process=process, settings=settings, replicas=replicas
    )


def ready_worker_pids(deployment: ServingDeployment) -> list[int]:
    """Workers of this deployment's master whose pod record says the model is loaded."""
    import psutil

    try:
        children = psutil.Process(deployment.process.pid).children()
    except psutil.NoSuchProcess:
        return []
    pids = []
    for child in children:
        record = read_pod_record(deployment.settings.pods_dir, child.pid)
        if record is not None and record.ready:
            pids.append(child.pid)
    return pids


async def wait_serving_ready(deployment: ServingDeployment, timeout_s: float = 30.0) -> None:
    """Until every replica has loaded the model and /ready answers 200; else DeploymentError."""
    from testbed.processes import is_running

    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            if not is_running(deployment.process.pid, deployment.process.create_time):
                raise DeploymentError(
                    "serving (gunicorn) exited during start-up; log tail:\n"
                    + log_tail(deployment.process.log_path)
                )
            if len(ready_worker_pids(deployment)) >= deployment.replicas:
                try:
                    response = await client.get(f"{deployment.url}/ready")
                    if response.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            if time.monotonic() >= deadline:
                raise DeploymentError(
                    f"serving not ready within {timeout_s:g}s "
                    f"({len(ready_worker_pids(deployment))}/{deployment.replicas} replicas ready);"
                    " log tail:\n" + log_tail(deployment.process.log_path)
                )
            await asyncio.sleep(0.1)


def set_serving_faults(settings: ServingSettings, state: FaultState) -> None:
    """Switch all replicas at once (what the admin endpoint does, from outside)."""
    write_fault_state(settings.fault_state_path, state)
    apply_fragile(settings, state)
