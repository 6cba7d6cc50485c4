"""Untrusted request input, checked before anything parses it: the content type, a cap on
the body size (declared and actual, chunked too), JSON depth, and bearer tokens compared
as bytes (``secrets.compare_digest`` raises on non-ASCII ``str``). Every refusal is a 4xx
with the serving's error shape ``{"error", "detail"}``; nothing here can answer 5xx."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
JSON_TYPES = ("application/json",)


@dataclass(frozen=True)
class BadInput:
    """Why a request's input was refused: the status and the serving's error body."""

    status: int
    error: str
    detail: str


def _content_type_refusal(request: Request) -> BadInput | None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type in JSON_TYPES or media_type.endswith("+json"):
        return None
    shown = media_type or "none"
    return BadInput(415, "unsupported_media_type", f"send application/json (got {shown})")


def _too_large(limit_bytes: int) -> BadInput:
    return BadInput(413, "payload_too_large", f"request body larger than {limit_bytes} bytes")


async def read_body(request: Request, limit_bytes: int = MAX_BODY_BYTES) -> bytes | BadInput:
    """The body of a JSON request, or why it was refused (415, 413, 400)."""
    refusal = _content_type_refusal(request)
    if refusal is not None:
        return refusal
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            return BadInput(400, "bad_request", "Content-Length is not a number")
        if int(declared) > limit_bytes:
            return _too_large(limit_bytes)
    chunks: list[bytes] = []
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit_bytes:
                return _too_large(limit_bytes)
            chunks.append(chunk)
    except ClientDisconnect:
        return BadInput(400, "bad_request", "client disconnected before the body ended")
    return b"".join(chunks)


def json_depth_exceeds(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """True when brackets nest deeper than ``max_depth`` (strings are skipped), checked
    without parsing, so a 100,000-deep body costs one pass and no recursion."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def parse_json_body(body: bytes) -> Any | BadInput:
    """A small JSON document, or why not (400): not UTF-8, not JSON, nested too deep."""
    if json_depth_exceeds(body):
        return BadInput(400, "bad_request", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return BadInput(400, "bad_request", "body is not UTF-8")
    except (ValueError, RecursionError):
        return BadInput(400, "bad_request", "body is not JSON")


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of header text (latin-1, as HTTP carries it) as bytes."""
    return secrets.compare_digest(given.encode("latin-1", "replace"), expected.encode("utf-8"))
