"""Targets that run elsewhere: URLs from the suite or the environment, tokens
from environment variables the suite names (never from the file itself)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from harness.config.suite import ExternalSpec, KubernetesSpec
from harness.target import KubernetesTarget, Service, Target, Tokens
from harness.targets.errors import TargetUnavailable
from harness.targets.launcher import Launched, launched
from harness.targets.readiness import await_healthy
from harness.targets.services import resolve_services

_ENV = {
    "registry": "HARNESS_REGISTRY_URL",
    "serving": "HARNESS_SERVING_URL",
    "orchestrator": "HARNESS_ORCHESTRATOR_URL",
}


def resolve_urls(spec: ExternalSpec, *, required: bool = True) -> dict[str, str]:
    """Testbed-named service -> URL (suite first, then env). Raises TargetUnavailable if
    none is set and ``required`` (a suite with a ``services`` map needs none of them)."""
    configured = {
        "registry": spec.registry_url,
        "serving": spec.serving_url,
        "orchestrator": spec.orchestrator_url,
    }
    urls = {
        service: (value or os.environ.get(_ENV[service], "")).strip()
        for service, value in configured.items()
    }
    urls = {service: url for service, url in urls.items() if url}
    if not urls and required:
        raise TargetUnavailable(
            "no service URL: set target.external.{registry,serving,orchestrator}_url in the "
            "suite or HARNESS_REGISTRY_URL / HARNESS_SERVING_URL / HARNESS_ORCHESTRATOR_URL"
        )
    for service, url in urls.items():
        if not url.startswith(("http://", "https://")):
            raise TargetUnavailable(f"{service} URL {url!r} is not an http(s) URL")
    return urls


def resolve_tokens(spec: ExternalSpec) -> Tokens:
    def read(name: str | None) -> str:
        if not name:
            return ""
        value = os.environ.get(name)
        if value is None:
            raise TargetUnavailable(f"environment variable {name} (named in the suite) is not set")
        return value

    return Tokens(
        read=read(spec.tokens.read_env),
        write=read(spec.tokens.write_env),
        admin=read(spec.tokens.admin_env),
    )


async def _reachable(
    spec: ExternalSpec,
    kubernetes: KubernetesTarget | None = None,
    launched: Launched | None = None,
) -> Target:
    services = resolve_services(spec.services, launched.urls if launched else None)
    legacy = {
        name: Service(name, url)
        for name, url in resolve_urls(spec, required=not services).items()
        if name not in services
    }
    tokens = resolve_tokens(spec)
    await await_healthy({**legacy, **services}, spec.ready_timeout)
    every = {**legacy, **services}

    def url_of(name: str) -> str:
        return every[name].url if name in every else ""

    return Target(
        kind="kubernetes" if kubernetes else "external",
        registry_url=url_of("registry"),
        serving_url=url_of("serving"),
        orchestrator_url=url_of("orchestrator"),
        tokens=tokens,
        kubernetes=kubernetes,
        prometheus_url=spec.prometheus_url or os.environ.get("HARNESS_PROMETHEUS_URL") or None,
        services=services,
    )


@asynccontextmanager
async def external_target(spec: ExternalSpec, base_dir: Path) -> AsyncIterator[Target]:
    if spec.launcher is None:
        yield await _reachable(spec)
        return
    async with launched(spec.launcher, base_dir) as platform:
        target = await _reachable(spec, launched=platform)
        yield dataclasses.replace(target, platform_dir=platform.directory)


def kubernetes_settings(spec: KubernetesSpec) -> KubernetesTarget:
    """The cluster the chaos stage may act on, after the suite's allowlists. A context, when
    given, must be one ``allowed_contexts`` names (an empty list allows none); without one
    the target serves load and contract steps, and the chaos stage refuses to act (it needs
    an explicit allowed context, never the kubeconfig's current one)."""
    context = spec.context or os.environ.get("KUBERNETES_CONTEXT") or None
    namespaces = spec.allowed_namespaces or [spec.namespace]
    if spec.namespace not in namespaces:
        raise TargetUnavailable(
            f"namespace {spec.namespace!r} is not in allowed_namespaces {spec.allowed_namespaces}"
        )
    if context is not None and context not in spec.allowed_contexts:
        raise TargetUnavailable(
            f"kubernetes context {context!r} is not in allowed_contexts {spec.allowed_contexts}"
        )
    return KubernetesTarget(
        namespace=spec.namespace,
        context=context,
        kubeconfig=spec.kubeconfig or os.environ.get("KUBECONFIG") or None,
        allowed_namespaces=tuple(spec.allowed_namespaces),
        allowed_contexts=tuple(spec.allowed_contexts),
        allowed_actions=tuple(spec.allowed_actions),
        allowed_external_targets=tuple(spec.allowed_external_targets),
    )


@asynccontextmanager
async def kubernetes_target(spec: ExternalSpec, kube: KubernetesSpec) -> AsyncIterator[Target]:
    yield await _reachable(spec, kubernetes_settings(kube))
