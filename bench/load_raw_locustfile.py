"""Benchmark locustfile: the inference user (no think time) plus a recorder that
writes every raw response time (ms, exactly as Locust hands it to listeners) to
HARNESS_BENCH_RAW_DIR/raw-<pid>.txt. The exact percentiles of those values are the
"true" figures the harness's HDR percentiles are compared with."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from locust import events

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loadtests"))
from inference import InferenceUser

__all__ = ["InferenceUser"]

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


events.request.add_listener(_record)
events.test_stop.add_listener(_close)
events.quitting.add_listener(_close)
