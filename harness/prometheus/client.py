"""A small async client for the Prometheus HTTP query API (httpx).

    client = PrometheusClient("http://prometheus:9090")
    samples = await client.query('sum(rate(ml_predictions_total[30s]))', at=time.time())
    series = await client.query_range(expr, start, end, step_s=1.0)

Answers are parsed at the boundary into frozen values. Anything that is not a successful
answer of the expected shape raises :class:`PrometheusError`, whose message names the URL
and the query and quotes the answer (trimmed), so an ERROR says exactly what went wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

ANSWER_QUOTE_CHARS = 300


class PrometheusError(RuntimeError):
    """A query could not be answered (unreachable, HTTP error, PromQL error, odd shape)."""


@dataclass(frozen=True)
class Sample:
    """One series' value at one instant (an instant vector element, or a scalar)."""

    labels: Mapping[str, str]
    value: float
    at: float


@dataclass(frozen=True)
class Series:
    """One series of a range query: (timestamp, value) points in time order."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...] = field(default_factory=tuple)


def describe_labels(labels: Mapping[str, str]) -> str:
    """``{pod="a",status="500"}``; ``{}`` for none."""
    inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return "{" + inner + "}"


class PrometheusClient:
    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    async def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Instant query (``/api/v1/query``) at ``at`` (default: now)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = await self._get("/api/v1/query", params, expr)
        result_type, result = data.get("resultType"), data.get("result")
        if not isinstance(result, list):
            raise self._odd(expr, f"a {result_type} result that is not a list", data)
        try:
            if result_type == "scalar":
                return [Sample({}, _number(result[1]), float(result[0]))]
            if result_type == "vector":
                return [
                    Sample(_labels(item["metric"]), _number(item["value"][1]),
                           float(item["value"][0]))
                    for item in result
                ]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise self._odd(expr, f"unreadable {result_type} ({exc!r})", data) from None
        raise self._odd(expr, f"result type {result_type!r} is not a number", data)

    async def query_range(
        self, expr: str, start: float, end: float, step_s: float
    ) -> list[Series]:
        """Range query (``/api/v1/query_range``) over [start, end] every ``step_s``."""
        params = {
            "query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}",
        }
        data = await self._get("/api/v1/query_range", params, expr)
        if data.get("resultType") != "matrix":
            raise self._odd(expr, f"result type {data.get('resultType')!r}", data)
        try:
            return [
                Series(
                    _labels(item["metric"]),
                    tuple((float(at), _number(value)) for at, value in item["values"]),
                )
                for item in data["result"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise self._odd(expr, f"unreadable matrix ({exc!r})", data) from None

    async def _get(self, path: str, params: Mapping[str, str], expr: str) -> dict[str, Any]:
        url = self.base_url + path
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise PrometheusError(
                f"Prometheus at {self.base_url} unreachable for {expr!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise PrometheusError(
                f"Prometheus at {url} answered HTTP {response.status_code} to {expr!r}, "
                f"not JSON: {_quote(response.text)}"
            )
        if payload.get("status") != "success":
            raise PrometheusError(
                f"Prometheus rejected {expr!r} (HTTP {response.status_code}, "
                f"{payload.get('errorType', 'error')}): {payload.get('error', _quote(payload))}"
            )
        data = payload.get("data")
        if not isinstance(data, dict):
            raise self._odd(expr, "no data", payload)
        return data

    def _odd(self, expr: str, what: str, answer: object) -> PrometheusError:
        return PrometheusError(
            f"Prometheus at {self.base_url} answered {expr!r} with {what}: {_quote(answer)}"
        )


def _labels(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise TypeError(f"labels are {type(raw).__name__}")
    return {str(key): str(value) for key, value in raw.items()}


def _number(raw: Any) -> float:
    """Prometheus sends sample values as strings ("1.5", "NaN", "+Inf")."""
    if isinstance(raw, bool):
        raise TypeError("a boolean is not a sample value")
    return float(raw)


def _quote(answer: object) -> str:
    text = answer if isinstance(answer, str) else json.dumps(answer, default=str)
    return text if len(text) <= ANSWER_QUOTE_CHARS else text[:ANSWER_QUOTE_CHARS] + "…"


def is_number(value: float) -> bool:
    """False for NaN and ±Inf (a rate over no data, a division by zero)."""
    return math.isfinite(value)
