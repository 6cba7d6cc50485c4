"""Steady-state probes against the local testbed, judged by tolerances in the experiment.

Probes answer with values, never raise for a sick system (a connection refused is a value:
status 0 / False), so a broken system shows up as a deviation, not a tool error. ``within_s``
lets a probe wait for the system to come back (used after the method) and bounds the wait.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from harness.chaos.driver.disk import CHUNK, registry_storage_dir
from harness.chaos.driver.testbed import current_manifest
from testbed.manifest import live_pods

T = TypeVar("T")
HTTP_TIMEOUT_S = 2.0
FEATURES = [0.5, -1.2, 3.3, 0.0, 1.1, -0.4, 2.2, 0.9]
_first_versions: set[str] = set()


def _retry(check: Callable[[], T], good: Callable[[T], bool], within_s: float) -> T:
    deadline = time.monotonic() + max(within_s, 0.0)
    result = check()
    while not good(result) and time.monotonic() < deadline:
        time.sleep(0.25)
        result = check()
    return result


def _get_status(url: str) -> int:
    try:
        return httpx.get(url, timeout=HTTP_TIMEOUT_S).status_code
    except httpx.HTTPError:
        return 0


def service_healthy(within_s: float = 0.0) -> int:
    """HTTP status of serving ``GET /health`` (0: no answer). Tolerance: 200."""
    url = current_manifest().services.serving.url.rstrip("/") + "/health"
    return _retry(lambda: _get_status(url), lambda s: s == 200, within_s)


def registry_healthy(within_s: float = 0.0) -> int:
    """HTTP status of registry ``GET /health`` (0: no answer). Tolerance: 200."""
    url = current_manifest().services.registry.url.rstrip("/") + "/health"
    return _retry(lambda: _get_status(url), lambda s: s == 200, within_s)


def _model_versions(samples: int) -> set[str]:
    manifest = current_manifest()
    url = manifest.services.serving.url.rstrip("/") + "/model-info"
    headers = {"Authorization": f"Bearer {manifest.tokens.read}"}
    versions: set[str] = set()
    for _ in range(samples):
        try:
            answer = httpx.get(url, timeout=HTTP_TIMEOUT_S, headers=headers)
            if answer.status_code != 200:
                return set()
            versions.add(str(answer.json()["version"]))
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return set()
    return versions


def model_version_unchanged(samples: int = 4, within_s: float = 0.0) -> bool:
    """Every sampled ``/model-info`` answers one version, the same as the first time this
    probe ran in this experiment (so a replica that came back with another model fails)."""

    def check() -> bool:
        versions = _model_versions(samples)
        if len(versions) != 1:
            return False
        if not _first_versions:
            _first_versions.update(versions)
        return versions == _first_versions

    return _retry(check, bool, within_s)


def prediction_round_trip(within_s: float = 0.0) -> bool:
    """A real ``POST /predict``: 200, a probability in [0, 1] and a model version."""
    manifest = current_manifest()
    url = manifest.services.serving.url.rstrip("/") + "/predict"
    headers = {"Authorization": f"Bearer {manifest.tokens.read}"}

    def check() -> bool:
        try:
            answer = httpx.post(
                url, json={"features": FEATURES}, timeout=HTTP_TIMEOUT_S, headers=headers
            )
            body = answer.json()
            probability = float(body["probability"])
            return (
                answer.status_code == 200
                and 0.0 <= probability <= 1.0
                and "prediction" in body
                and bool(body.get("model_version"))
            )
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return False

    return _retry(check, bool, within_s)


def replicas_restored(within_s: float = 0.0) -> bool:
    """As many live, ready serving pods as the testbed was started with."""
    manifest = current_manifest()
    expected = manifest.services.serving.replicas

    def check() -> bool:
        pods = live_pods(manifest)
        return len(pods) >= expected and all(p.ready is not False for p in pods)

    return _retry(check, bool, within_s)


def disk_free_mb() -> float:
    """Free space on the filesystem holding the registry's storage, in MB."""
    return round(shutil.disk_usage(registry_storage_dir()).free / CHUNK, 1)
