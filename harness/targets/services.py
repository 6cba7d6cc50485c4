"""A platform's services and local process groups, resolved from the suite: URLs (suite,
then the launcher's manifest, then ``HARNESS_<NAME>_URL``), health paths, header values
from the environment variables the suite names, and ``${VAR}`` in process-group paths."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from harness.config.services import LocalProcessSpec, ServiceSpec
from harness.target import ProcessGroup, Service
from harness.targets.errors import TargetUnavailable

_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def url_env(name: str) -> str:
    return "HARNESS_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_URL"


def resolve_services(
    specs: Mapping[str, ServiceSpec], launched: Mapping[str, str] | None = None
) -> dict[str, Service]:
    """Every declared service with its URL and headers. TargetUnavailable names the
    service (and variable) that has no URL or whose header variable is not set."""
    services: dict[str, Service] = {}
    for name, spec in specs.items():
        url = (spec.url or (launched or {}).get(name) or os.environ.get(url_env(name), "")).strip()
        if not url:
            raise TargetUnavailable(
                f"service {name!r} has no URL: set target.external.services.{name}.url, "
                f"or {url_env(name)}"
                + (", or have the launcher's manifest name it" if launched is not None else "")
            )
        if not url.startswith(("http://", "https://")):
            raise TargetUnavailable(f"service {name!r}: URL {url!r} is not an http(s) URL")
        headers: dict[str, str] = {}
        for header, source in spec.headers.items():
            value = os.environ.get(source.env)
            if value is None:
                raise TargetUnavailable(
                    f"service {name!r}: header {header} needs environment variable "
                    f"{source.env} (named in the suite), which is not set"
                )
            headers[header] = source.prefix + value
        services[name] = Service(name, url, spec.health, headers)
    return services


def expand(text: str, extra: Mapping[str, str]) -> str:
    """``${VAR}`` from ``extra``, then the environment; an unknown variable is an error."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        found = extra.get(key, os.environ.get(key))
        if found is None:
            raise TargetUnavailable(f"${{{key}}} in target.local_processes is not set")
        return found

    return _VAR_RE.sub(value, text)


def resolve_process_groups(
    specs: Mapping[str, LocalProcessSpec], extra: Mapping[str, str] | None = None
) -> tuple[ProcessGroup, ...]:
    extra = extra or {}
    return tuple(
        ProcessGroup(
            name=name,
            pid_file=expand(spec.pid_file or "", extra),
            parent_pid_file=expand(spec.parent_pid_file or "", extra),
            parent_pid=spec.parent_pid or 0,
            command=spec.command or "",
            user=spec.user or "",
            exclude=spec.exclude or "",
            replicas=spec.replicas,
        )
        for name, spec in specs.items()
    )
