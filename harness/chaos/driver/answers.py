"""Watching the serving pods' answers during an experiment (a background activity).

``watch_answers(duration_s, rps)`` sends ``POST /predict`` at a fixed rate, each on a new
connection (so the kernel spreads them over every replica that accepts), beside whatever
load the suite runs, and records every answer: when it was sent, status, the pod that
answered (``X-Pod``), the model version in the body, and whether the prediction is the
correct one *for that version* (the expected answers come from the trained artifacts in the
testbed's artifact store). It also records each pod's record as it changes (boot, ready,
version). The runner turns the file into ``rollout_time``, ``cold_start_s`` and friends
(:mod:`harness.chaos.answers`).

File: ``answers.jsonl`` beside the event stream (``HARNESS_CHAOS_EVENTS``); lines
``{"type": "start", "at", "pods": [names]}``, ``{"type": "answer", "at", "status", "pod",
"version", "error", "correct"}``, ``{"type": "pod", "at", "name", "booted_at",
"ready_at", "version"}``, ``{"type": "end", "at", "pods": [names alive at the end]}``.
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx

from harness.chaos.driver.testbed import FaultError, current_manifest
from harness.chaos.stream import EVENTS_ENV

ANSWERS_FILE = "answers.jsonl"
_launched = threading.Event()  # a watcher was started in this process
_watching = threading.Event()  # ... and is recording answers
ROWS = 8
PROBABILITY_TOLERANCE = 1e-9


def wait_until_watching(timeout_s: float = 30.0) -> None:
    """A fault injected before the watcher records would go unseen: when a watcher was
    started in this process (a background activity), wait until it records."""
    if _launched.is_set() and not _watching.wait(timeout_s):
        raise FaultError(f"the answer watcher did not start within {timeout_s:g}s")


def answers_path() -> Path:
    events = os.environ.get(EVENTS_ENV)
    return Path(events).with_name(ANSWERS_FILE) if events else Path(ANSWERS_FILE)


def probe_rows() -> list[list[float]]:
    rng = random.Random(20261201)
    return [[round(rng.gauss(0.0, 1.5), 4) for _ in range(8)] for _ in range(ROWS)]


def expected_answers(
    state_dir: Path, rows: list[list[float]]
) -> dict[str, list[tuple[int, float]]]:
    """Each trained version's (prediction, probability) for each row."""
    from testbed.serving.deployment import model_source_path
    from testbed.serving.model import MODEL_VERSIONS, load_model

    expected: dict[str, list[tuple[int, float]]] = {}
    for version in MODEL_VERSIONS:
        path = model_source_path(state_dir, version)
        if path.is_file():
            model = load_model(path)
            results = [model.predict(row) for row in rows]
            expected[model.version] = [(r.prediction, r.probability) for r in results]
    return expected


def _correct(body: Any, expected: tuple[int, float] | None) -> bool:
    if expected is None or not isinstance(body, dict):
        return False
    prediction, probability = expected
    return bool(
        body.get("prediction") == prediction
        and isinstance(body.get("probability"), float)
        and math.isclose(body["probability"], probability, abs_tol=PROBABILITY_TOLERANCE)
    )


def _write(out: IO[str], **line: Any) -> None:
    out.write(json.dumps({"at": time.time(), **line}) + "\n")


class _PodLog:
    """Writes a pod line each time a live pod's record changes."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, str]] = {}

    def poll(self, manifest: Any, out: IO[str]) -> list[str]:
        from testbed.manifest import live_pods
        from testbed.serving.pods import read_pod_record

        names = []
        for pod in live_pods(manifest):
            record = read_pod_record(Path(manifest.services.serving.pods_dir), pod.pid)
            if record is None:
                continue
            names.append(record.name)
            key = (record.ready_at, record.model_version)
            if self._seen.get(record.name) != key:
                self._seen[record.name] = key
                _write(out, type="pod", name=record.name, booted_at=record.booted_at,
                       ready_at=record.ready_at, version=record.model_version)  # fmt: skip
        return names


def watch_answers(duration_s: float = 20.0, rps: float = 40.0) -> dict[str, Any]:
    """Record ``duration_s`` of answers at ``rps`` (bounded: at most duration * rps)."""
    if not 0 < duration_s <= 600 or not 0 < rps <= 200:
        raise FaultError("watch_answers: duration_s must lie in (0, 600], rps in (0, 200]")
    _launched.set()
    manifest = current_manifest()
    rows = probe_rows()
    expected = expected_answers(Path(manifest.state_dir), rows)
    url = manifest.services.serving.url.rstrip("/") + "/predict"
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection per request
    counts = {"answers": 0, "ok": 0}
    pods = _PodLog()
    with answers_path().open("a") as out, httpx.Client(timeout=2.0, limits=limits) as client:
        _write(out, type="start", pods=pods.poll(manifest, out))
        out.flush()
        _watching.set()
        started = time.monotonic()
        for n in range(int(duration_s * rps)):
            due = started + n / rps
            time.sleep(max(due - time.monotonic(), 0.0))
            row = n % ROWS
            sent = time.time()
            line = _ask(client, url, rows[row], expected, row)
            out.write(json.dumps({"type": "answer", "at": sent, **line}) + "\n")
            counts["answers"] += 1
            counts["ok"] += line["status"] == 200
            if n % max(int(rps / 4), 1) == 0:
                pods.poll(manifest, out)
        _write(out, type="end", pods=pods.poll(manifest, out))
    return counts


def _ask(
    client: httpx.Client,
    url: str,
    row: list[float],
    expected: dict[str, list[tuple[int, float]]],
    index: int,
) -> dict[str, Any]:
    try:
        response = client.post(url, json={"features": row})
    except httpx.HTTPError as exc:
        return {
            "status": 0,
            "pod": "",
            "version": "",
            "correct": False,
            "error": type(exc).__name__,
        }
    try:
        body = response.json()
    except ValueError:
        body = None
    version = str(body.get("model_version", "")) if isinstance(body, dict) else ""
    answers = expected.get(version)
    return {
        "status": response.status_code,
        "pod": response.headers.get("x-pod", ""),
        "version": version,
        "error": str(body.get("error", "")) if isinstance(body, dict) else "",
        "correct": response.status_code == 200
        and _correct(body, answers[index] if answers else None),
    }
