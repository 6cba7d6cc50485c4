"""The suite-file models of a platform's services, local process groups and launcher.

    target:
      kind: external
      external:
        launcher:                       # optional: the project's script starts and stops it
          up: [python3, platforms/mlflow/mlflow_platform.py, up, --dir, "{dir}"]
          down: [python3, platforms/mlflow/mlflow_platform.py, down, --dir, "{dir}"]
        services:
          mlflow: {health: /health}     # url: from the launcher's manifest
          scoring:
            url: http://127.0.0.1:5001
            health: /ping               # null: no readiness probe
            headers:
              Authorization: {env: SCORING_TOKEN, prefix: "Bearer "}
      local_processes:
        scoring-workers: {parent_pid_file: "${HARNESS_PLATFORM_DIR}/scoring-server.pid"}

Header values come from environment variables the suite names, never from the file.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from harness.units import DurationS

ServiceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HeaderFromEnv(_Strict):
    """A header whose value is ``prefix`` + the value of environment variable ``env``."""

    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    prefix: str = ""


class ServiceSpec(_Strict):
    url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="default: the launcher's manifest, else $HARNESS_<NAME>_URL",
    )
    health: str | None = Field(default="/health", pattern=r"^/")
    headers: dict[str, HeaderFromEnv] = Field(default_factory=dict)


class LauncherSpec(_Strict):
    """Commands that bring the platform up (writing ``{dir}/manifest.json`` with
    ``services.NAME.url``) and down; ``{dir}`` is a directory the harness owns."""

    up: list[str] = Field(min_length=1)
    down: list[str] = Field(min_length=1)
    timeout: DurationS = 900.0


class LocalProcessSpec(_Strict):
    """One group of "pods": exactly one of pid_file, parent_pid_file, parent_pid, command
    (command needs user). Paths may use ``${VAR}`` (e.g. ``${HARNESS_PLATFORM_DIR}``)."""

    pid_file: str | None = None
    parent_pid_file: str | None = None
    parent_pid: int | None = Field(default=None, ge=2)
    command: str | None = Field(default=None, min_length=1)
    user: str | None = Field(default=None, min_length=1)
    exclude: str | None = Field(default=None, description="regex: children that are helpers")
    replicas: int = Field(default=0, ge=0, le=256, description="pods when healthy")

    @model_validator(mode="after")
    def _one_selector(self) -> LocalProcessSpec:
        chosen = [
            n
            for n in ("pid_file", "parent_pid_file", "parent_pid", "command")
            if getattr(self, n) is not None
        ]
        if len(chosen) != 1:
            raise ValueError(
                "give exactly one of pid_file, parent_pid_file, parent_pid, command "
                f"(got {', '.join(chosen) or 'none'})"
            )
        if self.command is not None and self.user is None:
            raise ValueError("command needs user: a pattern alone could match anyone's process")
        for pattern in (self.command, self.exclude):
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{pattern!r} is not a regular expression ({exc})") from None
        return self


TESTBED_SERVICE_NAMES = ("registry", "serving", "orchestrator")


def known_service_names(
    services: dict[str, ServiceSpec], legacy_urls: dict[str, str | None]
) -> list[str]:
    """Names a step may give as ``service``: the declared services (and the testbed names
    given a URL), or, with no ``services`` map, the testbed's three."""
    if not services:
        return list(TESTBED_SERVICE_NAMES)
    return sorted({*services, *(name for name, url in legacy_urls.items() if url)})
