"""What the runners are pointed at: resolved once per run by a target provider."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

TargetKind = Literal["local", "external", "kubernetes"]
TESTBED_SERVICES = ("registry", "serving", "orchestrator")


@dataclass(frozen=True)
class Service:
    """One service of the platform: where it is, how readiness is probed (``health``: a
    path, or None for none), and the headers every request to it carries (values read
    from environment variables: secrets, never written to a report)."""

    name: str
    url: str
    health: str | None = "/health"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProcessGroup:
    """ "Pods" of a local service the suite declares (``target.local_processes``), selected
    by one of: a pid file, a master's pid (file) whose children are the pods, or a
    command-line regex plus a user. See :mod:`harness.chaos.local_pods`."""

    name: str
    pid_file: str = ""
    parent_pid_file: str = ""
    parent_pid: int = 0
    command: str = ""
    user: str = ""
    exclude: str = ""
    replicas: int = 0  # pods expected when healthy; 0: at least one

    def describe(self) -> str:
        if self.pid_file:
            return f"pid file {self.pid_file}"
        if self.parent_pid_file:
            return f"children of the pid in {self.parent_pid_file}"
        if self.parent_pid:
            return f"children of pid {self.parent_pid}"
        return f"processes of user {self.user} matching {self.command!r}"


@dataclass(frozen=True)
class Tokens:
    read: str = ""
    write: str = ""
    admin: str = ""


@dataclass(frozen=True)
class KubernetesTarget:
    namespace: str = "default"
    context: str | None = None
    kubeconfig: str | None = None
    allowed_namespaces: tuple[str, ...] = ()
    allowed_contexts: tuple[str, ...] = ()
    allowed_actions: tuple[str, ...] = ()
    allowed_external_targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """Service URLs and credentials of the platform under test.

    ``manifest_path`` is set for the local testbed (the JSON written by
    ``python -m testbed up``); the chaos driver acts only on what it lists.
    """

    kind: TargetKind
    registry_url: str
    serving_url: str
    orchestrator_url: str
    tokens: Tokens = field(default_factory=Tokens)
    manifest_path: Path | None = None
    kubernetes: KubernetesTarget | None = None
    prometheus_url: str | None = None
    services: Mapping[str, Service] = field(default_factory=dict)
    local_processes: tuple[ProcessGroup, ...] = ()
    platform_dir: Path | None = None  # the launcher's directory, when a launcher started it

    def service(self, name: str) -> Service:
        """The service ``name`` (the one place a URL and headers are looked up).
        KeyError for a name the target does not have."""
        if name in self.services:
            return self.services[name]
        url = {
            "registry": self.registry_url,
            "serving": self.serving_url,
            "orchestrator": self.orchestrator_url,
        }.get(name, "")
        if not url:
            raise KeyError(name)
        return Service(name, url)

    def all_services(self) -> dict[str, Service]:
        """Every service the target has, by name."""
        found: dict[str, Service] = {}
        for name in TESTBED_SERVICES:
            with contextlib.suppress(KeyError):
                found[name] = self.service(name)
        return {**found, **self.services}

    def secrets(self) -> list[str]:
        """Every secret value (tokens, header values): masked wherever text is written."""
        values = [self.tokens.read, self.tokens.write, self.tokens.admin]
        values += [v for s in self.services.values() for v in s.headers.values()]
        return sorted({v for v in values if v}, key=len, reverse=True)

    def redacted(self) -> dict[str, object]:
        """For reports: URLs only, never secrets."""
        out: dict[str, object] = {
            "kind": self.kind,
            "registry_url": self.registry_url,
            "serving_url": self.serving_url,
            "orchestrator_url": self.orchestrator_url,
        }
        if self.services:
            out["services"] = {n: s.url for n, s in self.services.items()}
        return out
