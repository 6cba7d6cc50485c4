"""What an experiment would hit, for ``--dry-run``: each method action with its arguments,
and for local pod faults the live pods its selector matches right now. Injects nothing."""

from __future__ import annotations

import json
import os
from typing import Any

from harness.chaos.allowlist import BlastRadiusError, parse_label_selector, selector_matches
from harness.chaos.experiment import LOCAL_DRIVER, Experiment, configuration_value
from harness.chaos.kube.scope import NAMESPACE_ENV
from harness.target import Target


def _local_pods(target: Target, selector: Any) -> str:
    from testbed.manifest import ManifestError, live_pods, load_manifest  # local targets only

    if target.manifest_path is None:
        return "no testbed manifest: pods unknown"
    try:
        manifest = load_manifest(target.manifest_path)
        terms = parse_label_selector(selector if isinstance(selector, str) else None)
    except (ManifestError, BlastRadiusError) as exc:
        return f"cannot resolve pods ({exc})"
    pods = [p for p in live_pods(manifest) if selector_matches(terms, p.labels)]
    if not pods:
        return "matches no live pod"
    return "candidates: " + ", ".join(f"{p.name} (pid {p.pid})" for p in pods)


def describe_plan(experiment: Experiment, target: Target) -> list[str]:
    """One line per method action (and rollback), saying what it would touch."""
    lines: list[str] = []
    kube = target.kubernetes
    env = {**os.environ, NAMESPACE_ENV: kube.namespace} if kube is not None else None
    for field, activity in experiment.activities():
        if activity.get("type") != "action":
            continue
        provider = activity.get("provider") if isinstance(activity.get("provider"), dict) else {}
        assert isinstance(provider, dict)
        module, func = provider.get("module", "?"), provider.get("func", "?")
        raw = provider.get("arguments") if isinstance(provider.get("arguments"), dict) else {}
        assert isinstance(raw, dict)
        arguments = {k: configuration_value(experiment, v, env) for k, v in raw.items()}
        line = f"{field} {activity.get('name')}: {module}.{func}({json.dumps(arguments)})"
        selector = arguments.get("label_selector", arguments.get("label_selectors"))
        if str(module).startswith(LOCAL_DRIVER + ".pods") and selector is not None:
            line += f" -> {_local_pods(target, selector)}"
        elif kube is not None and str(module).startswith(("chaosk8s", "harness.chaos.kube")):
            line += f" -> kubernetes context {kube.context}, namespace {kube.namespace}"
        lines.append(line)
    return lines
