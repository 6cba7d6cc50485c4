"""For the benchmark locustfiles only (it imports locust): a recorder that writes every raw
response time (ms, exactly as Locust hands it to listeners) to
HARNESS_BENCH_RAW_DIR/raw-<pid>.txt, one ``REQUEST_TYPE MS`` line per request. The exact
percentiles of those values are the "true" figures the harness's percentiles are compared
with (bench/load_accuracy.py, bench/load_open_accuracy.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from locust import events

_out: Any = None


def _record(response_time: float, request_type: str, **_: Any) -> None:
    global _out
    if _out is None:
        raw_dir = os.environ.get("HARNESS_BENCH_RAW_DIR")
        if not raw_dir:
            return
        _out = open(Path(raw_dir) / f"raw-{os.getpid()}.txt", "a")  # noqa: SIM115
    _out.write(f"{request_type} {response_time!r}\n")


def _close(**_: Any) -> None:
    if _out is not None:
        _out.flush()


def record_raw_response_times() -> None:
    """Add the recorder to Locust's events (call once, at the locustfile's import)."""
    events.request.add_listener(_record)
    events.test_stop.add_listener(_close)
    events.quitting.add_listener(_close)
