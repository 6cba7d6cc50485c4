"""Prometheus metrics of the registry: requests by route and status, latency, models_total."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

INITIAL_STATUSES = ("200", "500")
_LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ModelCountCollector(Collector):
    """models_total, counted in the database at scrape time (absent while it is unreachable)."""

    def __init__(self, count_models: Callable[[], int]) -> None:
        self._count_models = count_models

    def collect(self) -> Iterator[Metric]:
        try:
            count = self._count_models()
        except Exception:  # the database is down: say nothing rather than a wrong number
            return
        family = GaugeMetricFamily("models_total", "Model versions in the registry")
        family.add_metric([], float(count))
        yield family


class RequestMetrics:
    """The request counters and histogram, in a registry of their own (one per app)."""

    def __init__(self, count_models: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route template, method and status",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template and method",
            ("route", "method"),
            buckets=_LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.registry.register(ModelCountCollector(count_models))

    def initialise(self, routes: Iterable[object]) -> None:
        """Create the series of every route (statuses 200 and 500) at 0, so that dashboards
        and PromQL see 0 from the first scrape rather than no data."""
        for route in routes:
            path, methods = getattr(route, "path", None), getattr(route, "methods", None)
            for method in sorted(methods or ()) if isinstance(path, str) else ():
                for status in INITIAL_STATUSES:
                    self.requests.labels(path, method, status)
                self.latency.labels(path, method)

    def observe(self, route: str, method: str, status: int, duration_s: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(duration_s)


class MetricsMiddleware:
    """ASGI middleware recording every HTTP request (unmatched paths as route "unmatched")."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(
                template, scope.get("method", ""), status, time.perf_counter() - started
            )
