"""Target providers: URLs and tokens from the suite or the environment, readiness by
health probes with a deadline, kubernetes allowlists."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.config.suite import ExternalSpec, KubernetesSpec, TargetSpec
from harness.targets import TargetOptions, TargetUnavailable, open_target
from harness.targets.external import kubernetes_settings, resolve_tokens, resolve_urls
from harness.targets.readiness import await_healthy


def test_urls_from_the_suite_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_REGISTRY_URL", "http://127.0.0.1:2")
    monkeypatch.delenv("HARNESS_SERVING_URL", raising=False)
    monkeypatch.delenv("HARNESS_ORCHESTRATOR_URL", raising=False)
    urls = resolve_urls(ExternalSpec(serving_url="http://127.0.0.1:1"))
    assert urls == {"registry": "http://127.0.0.1:2", "serving": "http://127.0.0.1:1"}
    monkeypatch.delenv("HARNESS_REGISTRY_URL")
    with pytest.raises(TargetUnavailable, match="no service URL"):
        resolve_urls(ExternalSpec())
    with pytest.raises(TargetUnavailable, match="not an http"):
        resolve_urls(ExternalSpec(serving_url="127.0.0.1:1"))


def test_tokens_come_from_named_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_READ", "r-secret")
    monkeypatch.delenv("MY_ADMIN", raising=False)
    spec = ExternalSpec.model_validate({"tokens": {"read_env": "MY_READ"}})
    assert resolve_tokens(spec).read == "r-secret"
    missing = ExternalSpec.model_validate({"tokens": {"admin_env": "MY_ADMIN"}})
    with pytest.raises(TargetUnavailable, match="MY_ADMIN"):
        resolve_tokens(missing)


def test_kubernetes_allowlists() -> None:
    ok = kubernetes_settings(KubernetesSpec(namespace="ml-serving", context="staging",
                                            allowed_namespaces=["ml-serving"],
                                            allowed_contexts=["staging"]))
    assert (ok.namespace, ok.context) == ("ml-serving", "staging")
    with pytest.raises(TargetUnavailable, match="allowed_namespaces"):
        kubernetes_settings(KubernetesSpec(namespace="kube-system",
                                           allowed_namespaces=["ml-serving"]))
    with pytest.raises(TargetUnavailable, match="allowed_contexts"):
        kubernetes_settings(KubernetesSpec(context="prod", allowed_contexts=["staging"]))


def test_kubernetes_target_needs_an_explicit_allowed_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBERNETES_CONTEXT", raising=False)
    # no context: fine for load/contract steps; the chaos stage refuses (tests/chaos)
    assert kubernetes_settings(KubernetesSpec(allowed_contexts=["staging"])).context is None
    with pytest.raises(TargetUnavailable, match="not in allowed_contexts"):
        kubernetes_settings(KubernetesSpec(context="staging"))  # empty list allows nothing
    only_default = kubernetes_settings(KubernetesSpec(namespace="ml", context="staging",
                                                      allowed_contexts=["staging"]))
    assert only_default.namespace == "ml"  # empty allowed_namespaces: the target's own


async def test_readiness_by_probes(health_url: str) -> None:
    async with asyncio.timeout(10):
        await await_healthy({"serving": health_url}, timeout_s=2)
        started = time.monotonic()
        with pytest.raises(TargetUnavailable, match="not healthy after 1 s: serving"):
            await await_healthy({"serving": "http://127.0.0.1:9"}, timeout_s=1)
        assert time.monotonic() - started < 3


async def test_external_and_kubernetes_targets(health_url: str, tmp_path: object) -> None:
    spec = TargetSpec.model_validate({
        "external": {"serving_url": health_url, "registry_url": health_url},
        "kubernetes": {"namespace": "ml-serving", "context": "staging",
                       "allowed_contexts": ["staging"]},
    })
    options = TargetOptions(report_dir=tmp_path, base_dir=tmp_path)  # type: ignore[arg-type]
    async with asyncio.timeout(10):
        async with open_target(spec, "external", options) as target:
            assert (target.kind, target.serving_url) == ("external", health_url)
            assert target.manifest_path is None
        async with open_target(spec, "kubernetes", options) as target:
            assert target.kubernetes is not None and target.kubernetes.namespace == "ml-serving"
