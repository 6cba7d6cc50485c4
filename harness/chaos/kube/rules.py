"""The Kubernetes blast radius: which functions an experiment may call, and on what.

An allowlist, not a denylist: every python provider of a Kubernetes experiment (probe,
action, tolerance probe, rollback, control) must be named in :data:`RULES` or the run is
refused before anything is injected. Node-level actions (``chaosk8s.node.actions``) and
namespace-level ones (delete a namespace, a Deployment, a Service, deny all ingress, ...)
are refused unless the suite names them in ``target.kubernetes.allowed_actions``.

Selector rules follow what reaches the cluster. A ``label_selector`` goes to the API server
verbatim (``=``, ``==``, ``!=`` all work there) and must hold an equality term. Chaos Mesh
``label_selectors`` are turned into a map by chaosk8s with ``split("=", 1)``: ``app==x``
becomes ``{"app": "=x"}`` (matches nothing) and ``app!=x`` becomes ``{"app!": "x"}``
(an invalid label key), so only ``key=value`` terms are accepted there.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness.chaos.allowlist import BlastRadiusError, parse_label_selector
from harness.chaos.kube.walk import ProviderCall

Scope = Literal["pods", "chaos-mesh", "chaos-object", "read"]
OWN = "harness.chaos.kube"
CONTROL_MODULES = frozenset({"harness.chaos.control"})
CONNECTION_KEYS = re.compile(r"^(KUBERNETES_|KUBECONFIG$|CHAOSTOOLKIT_IN_POD$)")
_MESH_TERM = re.compile(r"^[A-Za-z0-9_./-]+=[A-Za-z0-9_.-]*$")
_SERVICE_DNS = re.compile(
    r"^(?P<svc>[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.(?P<ns>[a-z0-9]([-a-z0-9]*[a-z0-9])?)"
    r"\.svc(\.cluster\.local)?$"
)


@dataclass(frozen=True)
class Rule:
    scope: Scope
    selector: str = ""  # the argument that must select pods ("" = none needed)


def _rules(module: str, scope: Scope, selector: str, *funcs: str) -> dict[str, Rule]:
    return {f"{module}.{func}": Rule(scope, selector) for func in funcs}


RULES: dict[str, Rule] = {
    **_rules("chaosk8s.pod.actions", "pods", "label_selector", "terminate_pods", "exec_in_pods"),
    **_rules(
        "chaosk8s.pod.probes",
        "read",
        "",
        "pods_in_phase",
        "pods_not_in_phase",
        "pods_in_conditions",
        "count_pods",
        "count_min_pods",
        "pod_is_not_available",
        "all_pods_healthy",
        "read_pod_logs",
    ),
    **_rules(
        "chaosk8s.deployment.probes",
        "read",
        "",
        "deployment_available_and_healthy",
        "deployment_partially_available",
        "deployment_fully_available",
        "deployment_not_fully_available",
    ),
    **_rules(
        "chaosk8s.chaosmesh.network.actions",
        "chaos-mesh",
        "label_selectors",
        "add_latency",
        "set_loss",
        "duplicate_packets",
        "reorder_packets",
        "corrupt_packets",
        "set_bandwidth",
    ),
    **_rules("chaosk8s.chaosmesh.network.actions", "chaos-object", "", "delete_network_fault"),
    **_rules("chaosk8s.chaosmesh.network.probes", "read", "", "get_network_fault"),
    **_rules(
        "chaosk8s.chaosmesh.stress.actions",
        "chaos-mesh",
        "label_selectors",
        "stress_cpu",
        "stress_memory",
    ),
    **_rules("chaosk8s.chaosmesh.stress.actions", "chaos-object", "", "delete_stressor"),
    **_rules("chaosk8s.chaosmesh.stress.probes", "read", "", "get_stressor"),
    **_rules(f"{OWN}.mesh", "chaos-mesh", "label_selectors", "network_delay", "network_loss"),
    **_rules(f"{OWN}.mesh", "chaos-mesh", "label_selectors", "stress_cpu", "pod_failure"),
    **_rules(f"{OWN}.mesh", "chaos-object", "", "await_recovered", "delete_chaos"),
    **_rules(f"{OWN}.pods", "pods", "label_selector", "kill_pods", "fill_volume", "free_volume"),
    **_rules(f"{OWN}.probes", "read", "label_selector", "serving_ready"),
}
NODE_LEVEL = ("chaosk8s.node.actions.",)
NAMESPACE_LEVEL = (
    "chaosk8s.namespace.actions.",
    "chaosk8s.networking.actions.",
    "chaosk8s.deployment.actions.",
    "chaosk8s.statefulset.actions.",
    "chaosk8s.daemonset.actions.",
    "chaosk8s.replicaset.actions.",
    "chaosk8s.service.actions.",
    "chaosk8s.secret.actions.",
    "chaosk8s.crd.actions.",
    "chaosk8s.actions.",
)


@dataclass(frozen=True)
class KubePolicy:
    """What the suite's kubernetes target allows. ``namespaces=None``: not known yet
    (``harness validate`` without a target): namespace rules are left to the run."""

    namespaces: tuple[str, ...] | None
    allowed_actions: tuple[str, ...] = ()
    external_targets: tuple[str, ...] = ()


Resolve = Callable[[Any], Any]


def is_kubernetes_call(call: ProviderCall) -> bool:
    return call.module.startswith(("chaosk8s", OWN))


def check_call(call: ProviderCall, resolve: Resolve, policy: KubePolicy) -> None:
    """Raise BlastRadiusError when ``call`` (in a Kubernetes experiment) is not allowed."""
    if call.type == "process":
        raise BlastRadiusError("a process provider can run anything: refused on Kubernetes")
    if call.type != "python":
        return  # http probes reach a URL; they act on nothing in the cluster
    if call.role == "control":
        if call.module not in CONTROL_MODULES:
            raise BlastRadiusError(f"control module {call.module!r} is not on the allowlist")
        return
    if "secrets" in call.activity or "secrets" in call.arguments:
        raise BlastRadiusError(
            "an activity's secrets could point chaosk8s at another cluster or context: "
            "the connection comes from the suite's kubernetes target only"
        )
    rule = RULES.get(call.name)
    if call.role in ("probe", "tolerance") and (rule is None or rule.scope != "read"):
        raise BlastRadiusError(
            f"{call.name} changes the cluster: a {call.role} may only read (probes run "
            "before, during and after the method, tolerance probes too)"
        )
    if rule is None:
        _check_unlisted(call, policy)
    else:
        _check_rule(call, rule, resolve, policy)
    _check_namespace(resolve(call.arguments.get("ns", "default")), policy, "ns")


def _check_unlisted(call: ProviderCall, policy: KubePolicy) -> None:
    if call.name in policy.allowed_actions:
        return
    level = (
        "node-level"
        if call.name.startswith(NODE_LEVEL)
        else "namespace-level"
        if call.name.startswith(NAMESPACE_LEVEL)
        else ""
    )
    if level:
        raise BlastRadiusError(
            f"{call.name} is a {level} action: refused unless the suite names it in "
            "target.kubernetes.allowed_actions"
        )
    raise BlastRadiusError(f"{call.name} is not on the Kubernetes allowlist")


def _check_rule(call: ProviderCall, rule: Rule, resolve: Resolve, policy: KubePolicy) -> None:
    args = {key: resolve(value) for key, value in call.arguments.items()}
    if rule.selector:
        selector = args.get(rule.selector)
        if rule.scope == "chaos-mesh":
            check_mesh_selector(selector, rule.selector)
        elif rule.scope == "pods" or selector is not None:
            parse_label_selector(selector if isinstance(selector, str) else None)
    if rule.scope == "pods" and call.func == "exec_in_pods" and not args.get("container_name"):
        raise BlastRadiusError(
            "exec_in_pods without container_name skips every pod (chaosk8s matches the "
            "container by name): nothing would be injected"
        )
    if rule.scope == "chaos-mesh":
        _check_mesh_scope(args, policy)
        if call.module == "chaosk8s.chaosmesh.network.actions":
            _check_chaosk8s_target(args)


def _check_chaosk8s_target(args: Mapping[str, Any]) -> None:
    """chaosk8s adds ``target: {mode: <target_mode>, selector: {}}`` whenever
    ``target_mode`` is set, and it defaults to "one": with no target selector Chaos Mesh
    then picks ONE random pod of the namespace and only traffic to it is hit."""
    mode = args.get("target_mode", "one")
    has_selector = args.get("target_label_selectors") or args.get("target_namespaces_selectors")
    if mode and not has_selector:
        raise BlastRadiusError(
            f"target_mode {mode!r} without target_label_selectors: chaosk8s makes Chaos Mesh "
            "pick a random pod of the namespace as the only target; set target_mode: null "
            "(all traffic) or name the target pods"
        )


def check_mesh_selector(selector: Any, field: str) -> None:
    """A Chaos Mesh selector as chaosk8s builds it: a map, or ``k=v`` terms only."""
    if isinstance(selector, dict) and selector:
        return
    if not isinstance(selector, str) or not selector.strip():
        raise BlastRadiusError(
            f"{field} is empty: Chaos Mesh would select every pod of the namespace"
        )
    for term in selector.split(","):
        if not _MESH_TERM.match(term.strip()):
            raise BlastRadiusError(
                f"{field} {selector!r}: {term.strip()!r} is not key=value (chaosk8s splits "
                "on the first '=': 'app==x' matches nothing, 'app!=x' is not a label key)"
            )


def _check_mesh_scope(args: Mapping[str, Any], policy: KubePolicy) -> None:
    for key in ("namespaces_selectors", "target_namespaces_selectors"):
        value = args.get(key)
        names = value.split(",") if isinstance(value, str) else value or []
        for name in names:
            _check_namespace(str(name).strip(), policy, key)
    target = args.get("target_label_selectors")
    if target is not None:
        check_mesh_selector(target, "target_label_selectors")
    value = args.get("external_targets")
    targets = value.split(",") if isinstance(value, str) else value or []
    for target_name in targets:
        check_external_target(str(target_name).strip(), policy)


def check_external_target(name: str, policy: KubePolicy) -> None:
    """A Service of an allowed namespace (``svc.ns.svc[.cluster.local]``) or a name the
    suite lists; never a bare IP or CIDR it does not list (``0.0.0.0/0`` cuts everything)."""
    if name in policy.external_targets:
        return
    match = _SERVICE_DNS.match(name)
    if match:
        _check_namespace(match["ns"], policy, "external_targets")
        return
    try:
        ipaddress.ip_network(name, strict=False)
        kind = "an IP range"
    except ValueError:
        kind = "a host outside the cluster"
    raise BlastRadiusError(
        f"external target {name!r} is {kind}: refused unless the suite lists it in "
        "target.kubernetes.allowed_external_targets"
    )


def _check_namespace(ns: Any, policy: KubePolicy, field: str) -> None:
    if policy.namespaces is None:
        return
    if not isinstance(ns, str) or ns not in policy.namespaces:
        raise BlastRadiusError(
            f"{field} {ns!r} is not an allowed namespace (allowed: {', '.join(policy.namespaces)})"
        )


def check_secrets(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Experiment-level secrets must not carry connection settings chaosk8s would use:
    (field, message) for each that does."""
    secrets = data.get("secrets")
    found: list[tuple[str, str]] = []
    for scope, values in secrets.items() if isinstance(secrets, dict) else []:
        for key in values if isinstance(values, dict) else {}:
            if CONNECTION_KEYS.match(str(key)):
                found.append(
                    (
                        f"secrets.{scope}.{key}",
                        f"{key} would change where chaosk8s connects: the cluster, context "
                        "and namespace come from the suite's kubernetes target",
                    )
                )
    return found
