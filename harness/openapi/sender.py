"""Runs in the driver child only: one HTTP client for every probe, with a per-request
timeout (longer is a hang) and a curl command for every request, secrets masked."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from harness.openapi.curl import curl_command, mask
from harness.openapi.results import Finding


@dataclass(frozen=True)
class Answer:
    """What came back: ``status`` None when nothing did (``error`` says why)."""

    operation: str
    curl: str
    status: int | None
    headers: Mapping[str, str]
    text: str
    elapsed_s: float
    error: str = ""
    response: requests.Response | None = None

    def finding(self, problem: str) -> Finding:
        answer = self.error or self.text
        return Finding(self.operation, problem, self.curl, self.status, answer)

    @property
    def hung(self) -> bool:
        return self.status is None


class Sender:
    def __init__(self, timeout_s: float, secrets: Iterable[str]) -> None:
        self.timeout_s = timeout_s
        self.secrets: tuple[str, ...] = tuple(s for s in secrets if s)
        self.session = requests.Session()
        self.sent = 0

    def send(self, operation: str, **request: Any) -> Answer:
        """Send ``requests.Request(**request)``; never raises for a network failure."""
        prepared = self.session.prepare_request(requests.Request(**request))
        body = prepared.body if isinstance(prepared.body, bytes | str) else None
        headers = {str(k): str(v) for k, v in prepared.headers.items()}
        curl = curl_command(str(prepared.method), str(prepared.url), headers, body, self.secrets)
        started = time.monotonic()
        self.sent += 1
        try:
            response = self.session.send(prepared, timeout=self.timeout_s, allow_redirects=False)
        except requests.Timeout:
            elapsed = time.monotonic() - started
            why = f"no answer within {self.timeout_s:g}s (a hang)"
            return Answer(operation, curl, None, {}, "", elapsed, why)
        except requests.RequestException as exc:
            elapsed = time.monotonic() - started
            return Answer(operation, curl, None, {}, "", elapsed, f"{type(exc).__name__}: {exc}")
        text = mask(response.text[:1000], self.secrets)
        return Answer(
            operation,
            curl,
            response.status_code,
            dict(response.headers),
            text,
            time.monotonic() - started,
            response=response,
        )

    def close(self) -> None:
        self.session.close()
