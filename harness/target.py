"""What the runners are pointed at: resolved once per run by a target provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

TargetKind = Literal["local", "external", "kubernetes"]


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

    def redacted(self) -> dict[str, object]:
        """For reports: URLs only, never secrets."""
        return {
            "kind": self.kind,
            "registry_url": self.registry_url,
            "serving_url": self.serving_url,
            "orchestrator_url": self.orchestrator_url,
        }
