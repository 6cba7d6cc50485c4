"""Quantities with units, as written in suite files: "10m", "90s", "100ms", "0.1%".

Each parser returns a plain float in the unit its name says (seconds, milliseconds,
fraction) and raises ValueError with a message fit to show a user.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_NUMBER = r"(?P<num>\d+(?:\.\d+)?|\.\d+)"
_DURATION_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>ms|s|m|h)\s*$")
_LATENCY_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>us|µs|ms|s)\s*$")
_RATE_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>%)?\s*$")

MAX_DURATION_S = 7 * 24 * 3600.0
"""Every duration and timeout in a suite is at most a week: finite for every timer."""

_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_MILLIS = {"us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0}


def parse_duration_s(text: str | int | float) -> float:
    """ "10m" -> 600.0; "90s" -> 90.0; "250ms" -> 0.25. Bare numbers are refused."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"expected a duration with a unit such as '90s' or '10m', got {text!r}")
    match = _DURATION_RE.match(text)
    if not match:
        raise ValueError(f"expected a duration such as '90s', '10m', '1h' or '500ms', got {text!r}")
    seconds = float(match["num"]) * _SECONDS[match["unit"]]
    if not seconds <= MAX_DURATION_S:  # also inf and nan from a thousand-digit number
        raise ValueError(f"a duration must be at most 7 days (168h), got {text!r}")
    return seconds


def parse_latency_ms(text: str | int | float) -> float:
    """ "100ms" -> 100.0; "1.5s" -> 1500.0; "250us" -> 0.25."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"expected a latency with a unit such as '100ms', got {text!r}")
    match = _LATENCY_RE.match(text)
    if not match:
        raise ValueError(f"expected a latency such as '100ms', '1.5s' or '250us', got {text!r}")
    return float(match["num"]) * _MILLIS[match["unit"]]


def parse_rate(text: str | int | float) -> float:
    """ "0.1%" -> 0.001; "0.05" -> 0.05 (a fraction). Must lie in [0, 1]."""
    if isinstance(text, bool):
        raise ValueError(f"expected a rate such as '0.1%', got {text!r}")
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _RATE_RE.match(text)
        if not match:
            raise ValueError(f"expected a rate such as '0.1%' or '0.001', got {text!r}")
        value = float(match["num"]) / (100.0 if match["unit"] else 1.0)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a rate must lie between 0% and 100%, got {text!r}")
    return value


def _duration(value: object) -> float:
    return parse_duration_s(value)  # type: ignore[arg-type]


def _rate(value: object) -> float:
    return parse_rate(value)  # type: ignore[arg-type]


DurationS = Annotated[float, BeforeValidator(_duration)]
"""A pydantic field type: a duration string in a suite file, seconds in Python."""

Rate = Annotated[float, BeforeValidator(_rate)]
"""A pydantic field type: "0.1%" or a fraction in a suite file, a fraction in Python."""
