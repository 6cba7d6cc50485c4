"""A request as a curl command someone can paste, with every secret masked."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping

MASK = "***"
MAX_BODY_CHARS = 2000
_KEPT_HEADERS = {"authorization", "content-type", "accept", "x-api-key"}


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (longest first) replaced by ``***``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def curl_command(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | str | None,
    secrets: Iterable[str],
) -> str:
    """``curl -X METHOD -H ... --data-binary ... URL``; a long body is cut (and says so)."""
    parts = ["curl", "-X", method.upper()]
    for name, value in headers.items():
        if name.lower() in _KEPT_HEADERS:
            parts += ["-H", f"{name}: {value}"]
    if body is not None:
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
        if len(text) > MAX_BODY_CHARS:
            text = f"{text[:MAX_BODY_CHARS]}...({len(text)} chars in all)"
        parts += ["--data-binary", text]
    parts.append(url)
    return mask(shlex.join(parts), secrets)


def json_body(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
