"""A golden set: request bodies with the answers a model must give them, and how an
answer is compared with its expected fields. Pure Python (runs inside Locust).

File (JSON, schema ``harness.golden/1``)::

    {"schema": "harness.golden/1", "tolerance": 1e-06,
     "cases": [{"input": {"features": [0.1, ...]},
                "expected": {"prediction": 1, "probability": 0.93}}]}

``input`` is the request body sent as it is. ``expected`` names fields of the answer:
a number matches within ``tolerance`` (absolute, default 1e-6; per case with
``"tolerance"``), a mapping matches field by field (extra answer fields are ignored),
a list element by element, anything else exactly. ``bool`` is not a number here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

GOLDEN_SCHEMA = "harness.golden/1"
DEFAULT_TOLERANCE = 1e-6
MAX_BYTES = 50_000_000


class GoldenSetError(ValueError):
    """A golden-set file that cannot be used (the message names the file and the case)."""


@dataclass(frozen=True)
class GoldenCase:
    input: Mapping[str, Any]
    expected: Mapping[str, Any]
    tolerance: float = DEFAULT_TOLERANCE


@dataclass(frozen=True)
class GoldenSet:
    cases: tuple[GoldenCase, ...]
    source: str = ""

    def __len__(self) -> int:
        return len(self.cases)


def matches(expected: object, actual: object, tolerance: float) -> bool:
    """Whether ``actual`` (a parsed JSON answer, or part of it) has the expected value."""
    kind, actual_kind = type(expected), type(actual)
    if (kind is float or kind is int) and (actual_kind is float or actual_kind is int):
        return abs(cast(float, actual) - cast(float, expected)) <= tolerance  # the hot path
    if kind is dict and actual_kind is dict:
        got = cast(dict[str, Any], actual)
        return all(
            key in got and matches(value, got[key], tolerance)
            for key, value in cast(dict[str, Any], expected).items()
        )
    if _is_number(expected):
        return _is_number(actual) and math.isclose(
            float(actual), float(expected), rel_tol=0.0, abs_tol=tolerance  # type: ignore[arg-type]
        )
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and matches(value, actual[key], tolerance)
            for key, value in expected.items()
        )
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list | tuple) and len(actual) == len(expected)
            and all(matches(e, a, tolerance) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(actual, bool) and actual is expected
    return bool(expected == actual)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def load_golden_set(path: Path) -> GoldenSet:
    """Read and check a golden-set file; GoldenSetError names what is wrong."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise GoldenSetError(f"{path}: larger than {MAX_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GoldenSetError(f"{path}: cannot read the golden set: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise GoldenSetError(f"{path}: not a JSON golden set: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != GOLDEN_SCHEMA:
        raise GoldenSetError(f"{path}: expected a JSON object with schema {GOLDEN_SCHEMA!r}")
    tolerance = _tolerance(data.get("tolerance", DEFAULT_TOLERANCE), f"{path}: tolerance")
    raw_cases = data.get("cases")
    if not isinstance(raw_cases, list) or not raw_cases:
        raise GoldenSetError(f"{path}: 'cases' must be a non-empty list")
    cases = tuple(_case(raw, f"{path}: cases[{i}]", tolerance) for i, raw in enumerate(raw_cases))
    return GoldenSet(cases, str(path))


def _case(raw: object, where: str, tolerance: float) -> GoldenCase:
    if not isinstance(raw, dict):
        raise GoldenSetError(f"{where}: expected an object with 'input' and 'expected'")
    body, expected = raw.get("input"), raw.get("expected")
    if not isinstance(body, dict) or not isinstance(expected, dict) or not expected:
        raise GoldenSetError(f"{where}: 'input' and 'expected' must be (non-empty) objects")
    own = _tolerance(raw.get("tolerance", tolerance), f"{where}: tolerance")
    return GoldenCase(body, expected, own)


def _tolerance(value: object, where: str) -> float:
    if not _is_number(value) or not math.isfinite(float(value)) or float(value) < 0:  # type: ignore[arg-type]
        raise GoldenSetError(f"{where}: must be a number >= 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def cases_from(pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> GoldenSet:
    """A golden set built in code: [(input body, expected fields), ...]."""
    return GoldenSet(tuple(GoldenCase(dict(i), dict(e)) for i, e in pairs), "code")
