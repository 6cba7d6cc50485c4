"""The suite-file model of an api step. Owned by the api stage.

```yaml
- name: registry-api
  kind: api
  service: registry            # registry | serving | orchestrator
  openapi: /openapi.json       # a path on the service, a URL, or a file (relative to the suite)
  max_examples: 5              # generated requests per operation
  fuzz: {checks: [server_errors, schema]}
  auth: {scopes: {"* /admin/*": admin, "GET *": read, "*": write}}
  hostile: {}
  rate_limit: {method: POST, path: /predict, json: {...}, burst: 60}
  metrics: {names: [ml_predictions_total, ml_prediction_latency]}
```

A section set to ``false`` (or left out, for ``rate_limit`` and ``metrics``) is not run.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from harness.step_model import StepBase
from harness.units import DurationS

# A duration as suites write it; dumped as "5.000000s" so the driver's plan reads back.
Seconds = Annotated[DurationS, PlainSerializer(lambda v: f"{v:.6f}s", when_used="json")]
_OFF = BeforeValidator(lambda value: None if value is False else value)
"""``fuzz: false`` (as the suite says it) is the section switched off (None)."""
ServiceName = Literal["registry", "serving", "orchestrator"]
ScopeName = Literal["read", "write", "admin", "none"]
FuzzCheck = Literal["server_errors", "schema"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

_ALL_FUZZ_CHECKS: tuple[FuzzCheck, ...] = ("server_errors", "schema")
DEFAULT_SCOPES: dict[str, ScopeName] = {"* /admin/*": "admin", "GET *": "read", "*": "write"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FuzzOptions(_Section):
    """Generated requests (schemathesis, positive data) with the ``token`` scope."""

    checks: list[FuzzCheck] = Field(default_factory=lambda: list(_ALL_FUZZ_CHECKS))
    token: ScopeName = Field(
        default="write", description="scope of the token sent (admin would let it change faults)"
    )
    budget: Seconds = Field(default=60.0, description="time for generated requests in all")
    exclude: list[str] = Field(
        default_factory=list, description="operations not fuzzed: 'METHOD /path' patterns"
    )


class AuthOptions(_Section):
    """The auth matrix over every operation that needs a scope."""

    scopes: dict[str, ScopeName] = Field(
        default_factory=lambda: dict(DEFAULT_SCOPES),
        description="'METHOD /path' pattern -> scope it needs; first match wins",
    )
    secured: list[str] = Field(
        default_factory=list,
        description="operations that need a token although the document declares no security",
    )
    unknown_token_status: int = Field(
        default=401, ge=400, le=499, description="the answer to an unknown token (RFC 6750: 401)"
    )


class HostileOptions(_Section):
    """Injection and malformed input, sent with a token of the right scope."""

    exclude: list[str] = Field(default_factory=list)
    oversized_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    nesting_depth: int = Field(default=10_000, ge=10, le=1_000_000)


class RateLimitOptions(_Section):
    """A burst above the service's rate limit must get 429, and traffic must recover."""

    method: HttpMethod = "GET"
    path: str = Field(pattern=r"^/")
    json_body: Any = Field(default=None, alias="json")
    token: ScopeName = "read"
    burst: int = Field(default=60, ge=2, le=2000, description="requests sent at once")
    concurrency: int = Field(default=4, ge=1, le=32)
    recover_within: Seconds = Field(default=5.0, description="after the burst")
    limit_rps: float | None = Field(
        default=None,
        gt=0,
        description="the configured limit: a burst too slow to exceed it is an ERROR, not a FAIL",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MetricsOptions(_Section):
    path: str = Field(default="/metrics", pattern=r"^/")
    names: list[str] = Field(min_length=1)

    @field_validator("names")
    @classmethod
    def _metric_names(cls, names: list[str]) -> list[str]:
        import re

        for name in names:
            if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name):
                raise ValueError(f"{name!r} is not a Prometheus metric name")
        return names


class ApiStep(StepBase):
    kind: Literal["api"] = "api"
    service: ServiceName = "registry"
    openapi: str = Field(
        default="/openapi.json", description="a path on the service, a URL, or a file"
    )
    max_examples: int = Field(default=5, ge=1, le=1000)
    request_timeout: Seconds = Field(default=5.0, description="per request; longer is a hang")
    fuzz: Annotated[FuzzOptions | None, _OFF] = Field(default_factory=FuzzOptions)
    auth: Annotated[AuthOptions | None, _OFF] = Field(default_factory=AuthOptions)
    hostile: Annotated[HostileOptions | None, _OFF] = Field(default_factory=HostileOptions)
    rate_limit: RateLimitOptions | None = None
    metrics: MetricsOptions | None = None
    timeout: Seconds = Field(default=300.0, description="hard deadline of the step")

    @model_validator(mode="before")
    @classmethod
    def _no_criteria(cls, data: Any) -> Any:
        if isinstance(data, dict) and "criteria" in data:
            raise ValueError("an api step is judged check by check; it takes no criteria")
        return data
