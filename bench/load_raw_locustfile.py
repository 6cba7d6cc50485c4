"""Benchmark locustfile: the inference user (no think time) plus the raw response-time
recorder (bench/raw_recorder.py), for bench/load_accuracy.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loadtests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from inference import InferenceUser
from raw_recorder import record_raw_response_times

__all__ = ["InferenceUser"]

record_raw_response_times()
