"""Request and response bodies of the registry API, as pydantic models (they also make the
OpenAPI document). Tags are a mapping of string to string: ``{"team": "search"}``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

Status = Literal["active", "retired"]
Stage = Literal["none", "staging", "production", "archived"]
STAGES: tuple[Stage, ...] = ("none", "staging", "production", "archived")

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:-]*$"
NAME_MAX_CHARS = 128
MAX_ID = 2**63 - 1


def _encodable(text: str) -> str:
    # JSON may carry lone surrogates ("\ud800"), which no database column can store.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return text


ModelName = Annotated[
    str, StringConstraints(min_length=1, max_length=NAME_MAX_CHARS, pattern=NAME_PATTERN)
]
ModelVersion = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NAME_PATTERN)]
Framework = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NAME_PATTERN)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=KEY_PATTERN)]
MetricValue = Annotated[float, Field(allow_inf_nan=False, strict=True)]
TagValue = Annotated[
    str,
    StringConstraints(max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$"),
    AfterValidator(_encodable),
]


def _mapping_schema(value_schema: dict[str, Any], max_items: int) -> WithJsonSchema:
    # pydantic writes key patterns as patternProperties, which leave other keys unconstrained;
    # propertyNames + additionalProperties say exactly what is accepted.
    return WithJsonSchema(
        {
            "type": "object",
            "maxProperties": max_items,
            "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": KEY_PATTERN},
            "additionalProperties": value_schema,
        }
    )


Metrics = Annotated[
    dict[Key, MetricValue],
    Field(max_length=64),
    _mapping_schema({"type": "number"}, 64),
]
Tags = Annotated[
    dict[Key, TagValue],
    Field(max_length=32),
    _mapping_schema({"type": "string", "maxLength": 256, "pattern": r"^[^\x00-\x1f\x7f]*$"}, 32),
]


class RegisterRequest(BaseModel):
    """A model version to register. ``metrics`` are finite numbers; ``tags`` map str to str."""

    model_config = ConfigDict(extra="forbid")

    name: ModelName
    version: ModelVersion
    framework: Framework
    metrics: Metrics = Field(default_factory=dict)
    tags: Tags = Field(default_factory=dict)


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: Stage


class ModelOut(BaseModel):
    model_id: int = Field(ge=1)
    name: str
    version: str
    status: Status
    stage: Stage
    framework: str
    metrics: dict[str, float]
    tags: dict[str, str]
    created_at: datetime = Field(description='RFC 3339 in UTC, e.g. "2026-11-21T11:02:36.123456Z"')


class VersionsOut(BaseModel):
    versions: list[ModelOut]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


FaultName = Literal[
    "registry-rename-field",
    "registry-retype-field",
    "registry-wrong-status",
    "registry-bad-enum",
    "db-down",
    "registry-auth-bypass",
    "registry-bad-id-500",
]


class FaultsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    faults: list[FaultName] = Field(max_length=16)


class FaultsOut(BaseModel):
    faults: list[str]
    known: list[str]


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready"]
