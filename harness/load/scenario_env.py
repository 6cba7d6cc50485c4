"""What the scenarios in loadtests/ need to know about the target, without locust.

Precedence: the environment (HARNESS_<SERVICE>_URL, HARNESS_<KIND>_TOKEN), then
the testbed manifest at TESTBED_MANIFEST, then the default. The runner sets both
for harness-driven runs; with plain ``locust -f`` they are optional (``-H`` wins
for the host of the scenario's own service).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

DEFAULT_URLS = {
    "serving": "http://127.0.0.1:8000",
    "registry": "http://127.0.0.1:8001",
    "orchestrator": "http://127.0.0.1:8002",
}


def _manifest() -> dict[str, Any]:
    path = os.environ.get("TESTBED_MANIFEST", "").strip()
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


HEADERS_ENV = "HARNESS_SERVICE_HEADERS"


def url_env(service: str) -> str:
    """``HARNESS_<SERVICE>_URL``, the service name upper-cased, other characters as ``_``."""
    return "HARNESS_" + re.sub(r"[^A-Z0-9]", "_", service.upper()) + "_URL"


def service_url(service: str) -> str:
    configured = os.environ.get(url_env(service), "").strip()
    if configured:
        return configured
    url = _manifest().get("services", {}).get(service, {}).get("url")
    return str(url) if url else DEFAULT_URLS.get(service, "")


def service_headers(service: str) -> dict[str, str]:
    """The headers the suite configures for ``service`` (values from its env variables)."""
    try:
        headers = json.loads(os.environ.get(HEADERS_ENV) or "{}").get(service) or {}
    except (ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}


def token(kind: str) -> str:
    """Bearer token 'read' | 'write' | 'admin' ('' when none is known)."""
    configured = os.environ.get(f"HARNESS_{kind.upper()}_TOKEN", "").strip()
    if configured:
        return configured
    return str(_manifest().get("tokens", {}).get(kind, ""))


def think_time_s(default: tuple[float, float]) -> tuple[float, float]:
    """HARNESS_THINK_TIME_S="min,max" (or one number, or 0) overrides a scenario's wait."""
    text = os.environ.get("HARNESS_THINK_TIME_S", "").strip()
    if not text:
        return default
    parts = [float(p) for p in text.split(",")]
    return (parts[0], parts[-1])
