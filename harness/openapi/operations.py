"""Runs in the driver child only: the OpenAPI document loaded by schemathesis, and each
operation as the probes see it (label, scope it needs, path parameters, JSON body)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation, BaseSchema

from harness.openapi.spec import ScopeName


class DocumentError(Exception):
    """The OpenAPI document cannot be loaded or has no operation."""


@dataclass(frozen=True)
class PathParam:
    name: str
    constrained: bool
    """The schema forbids arbitrary strings here (integer, enum, pattern, length, format)."""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    secured: bool
    scope: ScopeName
    path_params: tuple[PathParam, ...]
    query_params: tuple[str, ...]
    json_body: bool
    api: APIOperation[Any, Any, Any, Any] = field(compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def matches(self, patterns: Sequence[str]) -> bool:
        return any(fnmatch.fnmatchcase(self.label, p) for p in patterns)


def load_document(location: str) -> BaseSchema:
    try:
        if location.startswith(("http://", "https://")):
            return schemathesis.openapi.from_url(location, timeout=10)
        return schemathesis.openapi.from_path(Path(location))
    except Exception as exc:  # schemathesis raises its own loader errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DocumentError(
            f"cannot load the OpenAPI document {location}: {type(exc).__name__}: {first}"
        ) from None


def scope_for(label: str, scopes: Mapping[str, ScopeName]) -> ScopeName:
    for pattern, scope in scopes.items():
        if fnmatch.fnmatchcase(label, pattern):
            return scope
    return "none"


def operations(
    schema: BaseSchema, scopes: Mapping[str, ScopeName], secured: Sequence[str]
) -> list[Operation]:
    """Every operation of the document; ``DocumentError`` when one cannot be read."""
    try:
        return _operations(schema, scopes, secured)
    except DocumentError:
        raise
    except Exception as exc:  # schemathesis asserts on documents of the wrong shape
        why = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        raise DocumentError(f"the OpenAPI document cannot be read ({why})") from None


def _operations(
    schema: BaseSchema, scopes: Mapping[str, ScopeName], secured: Sequence[str]
) -> list[Operation]:
    found: list[Operation] = []
    raw_schema: dict[str, Any] = getattr(schema, "raw_schema", {})
    global_security = raw_schema.get("security") or []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise DocumentError(f"unusable operation in the OpenAPI document: {result.err()}")
        api = result.ok()
        raw: dict[str, Any] = api.definition.raw
        label = f"{api.method.upper()} {api.path}"
        declared = bool(raw.get("security", global_security))
        is_secured = declared or any(fnmatch.fnmatchcase(label, p) for p in secured)
        params = [p for p in raw.get("parameters", []) if isinstance(p, dict)]
        found.append(
            Operation(
                method=api.method.upper(),
                path=api.path,
                secured=is_secured,
                scope=scope_for(label, scopes) if is_secured else "none",
                path_params=tuple(
                    PathParam(str(p["name"]), _constrained(p.get("schema") or {}))
                    for p in params
                    if p.get("in") == "path"
                ),
                query_params=tuple(str(p["name"]) for p in params if p.get("in") == "query"),
                json_body="application/json" in (raw.get("requestBody") or {}).get("content", {}),
                api=api,
            )
        )
    if not found:
        raise DocumentError("the OpenAPI document lists no operation")
    return found


def _constrained(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") in ("integer", "number", "boolean"):
        return True
    keys = ("enum", "pattern", "maxLength", "format", "const")
    if any(key in schema for key in keys):
        return True
    return any(_constrained(s) for s in schema.get("anyOf", []) + schema.get("allOf", []))


def example_request(op: Operation, base_url: str) -> dict[str, Any]:
    """One schema-valid request for ``op`` as ``requests.Request`` keywords, without any
    Authorization header (the probes set their own)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case = op.api.as_strategy().example()
    kwargs: dict[str, Any] = case.as_transport_kwargs(base_url=base_url)
    kwargs["headers"] = {
        k: v
        for k, v in kwargs.get("headers", {}).items()
        if k.lower() != "authorization" and not k.lower().startswith("x-schemathesis")
    }
    return kwargs
