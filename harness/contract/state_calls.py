"""What every provider-state handler shares (runs in the verifier child; stdlib only): the
error that refuses a state, the values a setup answers, the dispatch of a state to its
setup, and one JSON call to the service that the states are set up through
(the testbed registry in :mod:`~harness.contract.states`, MLflow in
:mod:`~harness.contract.mlflow_states`)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

StateValues = dict[str, Any]


class StateSetupError(Exception):
    """A provider state that cannot be set up; the message says why."""


def set_up(
    handlers: Mapping[str, Callable[[Mapping[str, Any]], StateValues]],
    state: str,
    params: Mapping[str, Any],
) -> StateValues:
    """The values of ``state`` set up by its handler; an unknown state names the known."""
    handler = handlers.get(state)
    if handler is None:
        known = ", ".join(sorted(handlers))
        raise StateSetupError(f"unknown provider state {state!r} (known: {known})")
    return handler(params)


def json_call(
    base_url: str,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str],
    body: object | None,
    timeout_s: float,
    service: str,
) -> tuple[int, Any]:
    """(status, parsed JSON answer, or its first 200 characters when not JSON) of
    ``method path`` under ``base_url``; StateSetupError naming ``service`` when it does
    not answer."""
    parts = urlsplit(base_url)
    conn_cls = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    conn = conn_cls(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)
    sent = {**headers, "Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        conn.request(method, parts.path.rstrip("/") + path, body=payload, headers=sent)
        response = conn.getresponse()
        data = response.read()
    except OSError as exc:
        raise StateSetupError(f"{method} {path}: {service} unreachable ({exc})") from None
    finally:
        conn.close()
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = data.decode(errors="replace")[:200]
    return response.status, parsed
