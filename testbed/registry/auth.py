"""Bearer-token checks as FastAPI dependencies: 401 without a token, 403 for an unknown
token or one whose scope is too small."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from testbed.registry.errors import ApiError
from testbed.registry.faults import AUTH_BYPASS, FaultSwitches
from testbed.registry.tokens import Scope, Tokens

_bearer = HTTPBearer(auto_error=False, description="read, write or admin token")


def require_scope(
    tokens: Tokens, needed: Scope, faults: FaultSwitches | None = None
) -> Callable[..., None]:
    """A dependency that lets the request through only with a token of ``needed`` scope.

    With the ``registry-auth-bypass`` fault on, a read token passes for a write."""

    def check_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if credentials is None or not credentials.credentials:
            raise ApiError(
                401,
                "unauthorized",
                "missing bearer token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        granted = tokens.scope_of(credentials.credentials)
        if granted is None:
            raise ApiError(403, "forbidden", "unknown token")
        bypassed = (
            faults is not None
            and faults.is_on(AUTH_BYPASS)
            and needed is Scope.WRITE
            and granted is Scope.READ
        )
        if granted < needed and not bypassed:
            raise ApiError(
                403,
                "insufficient_scope",
                f"this operation needs a {needed.name.lower()} token, "
                f"got a {granted.name.lower()} token",
            )

    return check_token
