"""Bearer tokens and the scopes they grant (admin implies write implies read).

The tokens file (and the REGISTRY_TOKENS environment variable) hold the same JSON:
``{"read": "...", "write": "...", "admin": "..."}``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

TOKENS_ENV = "REGISTRY_TOKENS"


class Scope(IntEnum):
    READ = 1
    WRITE = 2
    ADMIN = 3


class TokensError(ValueError):
    """A tokens file or variable that cannot be used; the message names its source."""


@dataclass(frozen=True)
class Tokens:
    read: str
    write: str
    admin: str

    def scope_of(self, token: str) -> Scope | None:
        """The scope a presented token grants, or None for an unknown token."""
        granted: Scope | None = None
        for scope, known in (
            (Scope.READ, self.read),
            (Scope.WRITE, self.write),
            (Scope.ADMIN, self.admin),
        ):
            # Compare every token, in constant time, so timing says nothing.
            if hmac.compare_digest(token.encode(), known.encode()):
                granted = scope
        return granted


def parse_tokens(text: str, source: str) -> Tokens:
    """Tokens from JSON text; ``source`` (a path or variable name) goes into every error."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TokensError(
            f"{source}: line {exc.lineno}: not valid JSON ({exc.msg}); expected "
            '{"read": "...", "write": "...", "admin": "..."}'
        ) from None
    if not isinstance(raw, dict):
        raise TokensError(f"{source}: expected a JSON object with read, write and admin tokens")
    values: dict[str, str] = {}
    for key in ("read", "write", "admin"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise TokensError(f"{source}: field {key!r} must be a non-empty string")
        values[key] = value
    if len(set(values.values())) != 3:
        raise TokensError(f"{source}: the read, write and admin tokens must all differ")
    return Tokens(read=values["read"], write=values["write"], admin=values["admin"])


def load_tokens(path: Path | None, env: Mapping[str, str]) -> Tokens:
    """From ``path`` when given, else from the REGISTRY_TOKENS variable; one is required."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TokensError(f"{path}: cannot read the tokens file ({exc})") from None
        return parse_tokens(text, str(path))
    text_env = env.get(TOKENS_ENV)
    if text_env:
        return parse_tokens(text_env, f"${TOKENS_ENV}")
    raise TokensError(
        f"no tokens: pass --tokens-file PATH or set {TOKENS_ENV} to "
        '{"read": "...", "write": "...", "admin": "..."}'
    )
