"""A real MLflow (``platforms/mlflow/``), end to end with the real tools.

- ``suites/mlflow.yaml`` through the real CLI: the project's script starts MLflow (its
  virtualenv built once and cached), every interaction, the load and the chaos are judged,
  PASS, and nothing of MLflow is left running.
- A contract change on the MLflow side: a proxy in front of a real ``mlflow server``
  renames one field of one answer; the verdict is FAIL naming the interaction and path.

Marked ``mlflow`` (select with ``-m mlflow``). The suite is part of the default run; the
changed-field test, a second MLflow start for a contract failure the testbed's contract
tests already prove end to end (tests/contract/test_verify_registry.py), is in the slow set
(``-m slow``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

pytestmark = [pytest.mark.mlflow, pytest.mark.e2e, pytest.mark.timeout(1500)]
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_ROOT / "platforms/mlflow/mlflow_platform.py"
HARNESS = str(Path(sys.executable).parent / "harness")


def _mlflow_processes(directory: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if str(directory) in " ".join(proc.info.get("cmdline") or []):
            found.append(proc)
    return found


def test_mlflow_suite_passes(tmp_path: Path) -> None:
    report_dir = tmp_path / "report"
    state, machine_tmp = tmp_path / "state", tmp_path / "tmp"
    machine_tmp.mkdir()  # the run's temp directory: nothing of MLflow or the tools stays
    env = {**os.environ, "HARNESS_STATE_DIR": str(state), "TMPDIR": str(machine_tmp)}
    done = subprocess.run(
        [HARNESS, "run", "suites/mlflow.yaml", "--report-dir", str(report_dir)],
        capture_output=True, text=True, timeout=1200, cwd=PROJECT_ROOT, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    verdict = json.loads((report_dir / "verdict.json").read_text())
    steps = {s["name"]: s for s in verdict["steps"]}
    contract = steps["mlflow-registry-contract"]
    assert contract["metrics"]["interactions_verified"] == 8
    assert contract["metrics"]["interactions_failed"] == 0
    load = {c["name"]: c for c in steps["invocations-load"]["criteria"]}
    assert {c["phase"] for c in load.values() if c.get("phase")} >= {"baseline", "fault"}
    assert all(c["status"] == "pass" for c in load.values())
    chaos = steps["scoring-worker-kill"]
    assert chaos["status"] == "pass"
    assert "kill-one-scoring-worker" in json.dumps(chaos)
    platforms = list((state / "platforms").iterdir())
    assert len(platforms) == 1
    assert _mlflow_processes(platforms[0]) == []  # stopped by the script's `down`
    assert not (platforms[0] / "tmp").exists()  # MLflow's TMPDIR (db_init_lock-*), removed
    assert list(machine_tmp.iterdir()) == []


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The project's script brings MLflow's tracking server + registry up; its URL."""
    directory = tmp_path_factory.mktemp("mlflow")
    up = subprocess.run(
        [sys.executable, str(SCRIPT), "up", "--dir", str(directory), "--registry-only"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr[-2000:]
        manifest = json.loads((directory / "manifest.json").read_text())
        yield str(manifest["services"]["mlflow"]["url"])
    finally:
        subprocess.run(
            [sys.executable, str(SCRIPT), "down", "--dir", str(directory)],
            capture_output=True, timeout=120,
        )  # fmt: skip


class RenamingProxy:
    """Forwards to MLflow; in answers to model-versions/get, ``status`` says ``REGISTERED``
    (not one of READY / PENDING_REGISTRATION / FAILED_REGISTRATION): the provider changed
    one field of its contract."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        upstream = self.upstream
        client = httpx.Client(timeout=30)  # one pool: a slow machine must not add connects

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {"Content-Type": self.headers.get("Content-Type") or "application/json"}
                answer = client.request(
                    self.command, upstream + self.path, content=body, headers=headers
                )
                data = answer.content
                if "/model-versions/get" in self.path and answer.status_code == 200:
                    parsed = answer.json()
                    parsed["model_version"]["status"] = "REGISTERED"
                    data = json.dumps(parsed).encode()
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _forward

        return Handler


CONTRACT_SUITE = """
name: mlflow-contract-through-proxy
target:
  kind: external
  external:
    services:
      mlflow: {url: "URL", health: /health}
stages:
  - name: contracts
    steps:
      - name: mlflow-registry-contract
        kind: contract
        provider: mlflow-registry
        pacts: platforms/mlflow/pacts
        service: mlflow
        states: mlflow
        request_timeout: 30s
        timeout: 3m
"""


@pytest.mark.slow
def test_a_changed_field_fails_naming_interaction_and_path(
    mlflow_server: str, tmp_path: Path
) -> None:
    proxy = RenamingProxy(mlflow_server)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    suite = PROJECT_ROOT / "suites" / f".test-mlflow-proxy-{os.getpid()}.yaml"
    suite.write_text(CONTRACT_SUITE.replace("URL", proxy.url))
    try:
        done = subprocess.run(
            [HARNESS, "run", str(suite), "--report-dir", str(tmp_path / "report")],
            capture_output=True, text=True, timeout=400, cwd=PROJECT_ROOT,
            env={**os.environ, "HARNESS_STATE_DIR": str(tmp_path / "state")},
        )  # fmt: skip
    finally:
        suite.unlink()
        proxy.server.shutdown()
        proxy.server.server_close()
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    verdict = json.loads((tmp_path / "report" / "verdict.json").read_text())
    (step,) = verdict["steps"]
    failed = [c for c in step["criteria"] if c["status"] == "fail"]
    assert step["metrics"]["interactions_failed"] == 1, [c["reason"] for c in failed]
    assert len(failed) == 1
    text = json.dumps(failed[0])
    assert "a request for version 1 of a registered model" in text
    assert "$.model_version.status" in text
    # Everything the states created under the run's names is gone again.
    answer = asyncio.run(_search(mlflow_server))
    assert answer.get("registered_models", []) == []


async def _search(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/api/2.0/mlflow/registered-models/search")
        return dict(response.json())
