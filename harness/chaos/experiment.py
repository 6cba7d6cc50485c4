"""Chaos Toolkit experiment files as the orchestrator sees them: loaded as data, checked
without importing chaoslib or any extension (modules are located on disk, their functions
found by reading the source), and checked against the blast-radius allowlist."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.chaos.allowlist import (
    BlastRadiusError,
    check_local_selector,
)
from harness.chaos.kube.rules import KubePolicy, check_call, check_secrets, is_kubernetes_call
from harness.chaos.kube.walk import ProviderCall, provider_calls
from harness.runner import Problem

LOCAL_DRIVER = "harness.chaos.driver"
REPORTING_KUBE = "harness.chaos.kube."
SELECTOR_ARGS = ("label_selector", "label_selectors")
_SUBST_RE = re.compile(r"^\$\{(?P<key>[A-Za-z0-9_]+)\}$")
_EMBEDDED_RE = re.compile(r"\$\{(?P<key>[A-Za-z0-9_]+)\}")


class ExperimentError(ValueError):
    """An experiment file that cannot be read; the message names the file (and line),
    ``problems`` the same as file:line values."""

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class ExperimentProblem:
    field: str
    message: str
    line: int | None = None


@dataclass(frozen=True)
class Experiment:
    path: Path
    data: dict[str, Any]
    lines: dict[str, int]

    def activities(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(field path, activity) for every probe/action of the hypothesis, method, rollbacks."""
        ssh = self.data.get("steady-state-hypothesis")
        if isinstance(ssh, dict):
            for i, probe in enumerate(ssh.get("probes") or []):
                if isinstance(probe, dict):
                    yield f"steady-state-hypothesis.probes[{i}]", probe
        for key in ("method", "rollbacks"):
            for i, activity in enumerate(self.data.get(key) or []):
                if isinstance(activity, dict):
                    yield f"{key}[{i}]", activity

    def line_of(self, field: str) -> int | None:
        while field:
            if field in self.lines:
                return self.lines[field]
            parent = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", field)
            if parent == field:
                return None
            field = parent
        return None

    @property
    def uses_local_driver(self) -> bool:
        return any(c.module.startswith(LOCAL_DRIVER) for c in provider_calls(self.data))

    @property
    def uses_kubernetes(self) -> bool:
        return any(is_kubernetes_call(c) for c in provider_calls(self.data))

    @property
    def reports_injection(self) -> bool:
        """Its fault actions report ``fault-injected`` (local driver, harness.chaos.kube)."""
        return any(
            c.role == "action" and c.module.startswith((LOCAL_DRIVER, REPORTING_KUBE))
            for c in provider_calls(self.data)
        )


def load_experiment(path: Path) -> Experiment:
    """Read a YAML or JSON experiment with the suite loader's limits (size, encoding,
    nodes, depth, aliases, duplicate keys); ExperimentError names the file and line."""
    # Imported here: harness.config imports the stages, and so this module.
    from harness.config.json_source import read_json
    from harness.config.yaml_source import read_yaml

    if not path.exists():
        raise ExperimentError(f"{path}: experiment file not found")
    lines: dict[str, int] = {}
    if path.suffix == ".json":
        data, problems = read_json(path)
    else:
        document, problems = read_yaml(path)
        data = document.data if document is not None else None
        if document is not None:
            lines = {_field_of(key_path): line for key_path, line in document.lines.items()}
    if problems:
        raise ExperimentError("; ".join(str(p) for p in problems), tuple(problems))
    if not isinstance(data, dict):
        raise ExperimentError(f"{path}: an experiment must be a mapping with title and method")
    return Experiment(path=path, data=data, lines=lines)


def _field_of(key_path: tuple[str | int, ...]) -> str:
    from harness.config.yaml_source import dotted

    return dotted(key_path) if key_path else ""


def module_file(name: str) -> Path | None:
    """The source file of module ``name``, located without importing it or its parents
    (``importlib.util.find_spec`` of the top package only, then the filesystem)."""
    parts = name.split(".")
    if not all(part.isidentifier() for part in parts):
        return None
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if len(parts) == 1:
        return Path(spec.origin) if spec.origin and spec.origin != "built-in" else None
    locations = list(spec.submodule_search_locations or [])
    current: Path | None = None
    for i, part in enumerate(parts[1:], start=1):
        found: Path | None = None
        for location in locations:
            package = Path(location) / part
            if (package / "__init__.py").is_file():
                found = package / "__init__.py"
                locations = [str(package)]
                break
            if (Path(location) / f"{part}.py").is_file() and i == len(parts) - 1:
                found = Path(location) / f"{part}.py"
                break
        if found is None:
            return None
        current = found
    return current


def defines(source: Path, name: str) -> bool:
    """Whether a module's source defines or imports ``name`` at top level."""
    try:
        tree = ast.parse(source.read_text())
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
        elif isinstance(node, ast.ImportFrom | ast.Import):
            if any((alias.asname or alias.name.split(".")[0]) == name for alias in node.names):
                return True
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return True
    return False


def configuration_value(
    experiment: Experiment, value: Any, env: Mapping[str, str] | None = None
) -> Any:
    """Resolve ``${key}`` against the experiment's configuration (env entries read ``env``,
    default the process environment, with their default), as chaoslib would substitute it:
    a whole-string ``${key}`` keeps the value's type, embedded ones are replaced as text."""
    if not isinstance(value, str):
        return value
    match = _SUBST_RE.match(value)
    if match:
        return _config_entry(experiment, match["key"], value, env)

    def embedded(found: re.Match[str]) -> str:
        return str(_config_entry(experiment, found["key"], found[0], env))

    return _EMBEDDED_RE.sub(embedded, value)


def _config_entry(
    experiment: Experiment, key: str, unresolved: str, env: Mapping[str, str] | None
) -> Any:
    config = experiment.data.get("configuration")
    entry = config.get(key) if isinstance(config, dict) else None
    if isinstance(entry, dict) and entry.get("type") == "env":
        source = os.environ if env is None else env
        return source.get(str(entry.get("key")), entry.get("default"))
    return entry if entry is not None else unresolved


def check_structure(experiment: Experiment) -> list[ExperimentProblem]:
    """The Chaos Toolkit keys, and a steady state we can judge (probes before and after)."""
    data, problems = experiment.data, []
    if not isinstance(data.get("title"), str) or not data.get("title"):
        problems.append(ExperimentProblem("title", "missing: every experiment needs a title"))
    method = data.get("method")
    if not isinstance(method, list) or not method:
        problems.append(ExperimentProblem("method", "missing or empty: nothing would be injected"))
    elif not any(isinstance(a, dict) and a.get("type") == "action" for a in method):
        problems.append(ExperimentProblem("method", "has no action: no fault would be injected"))
    ssh = data.get("steady-state-hypothesis")
    if not isinstance(ssh, dict) or not ssh.get("probes"):
        problems.append(
            ExperimentProblem(
                "steady-state-hypothesis",
                "missing or without probes: a run would never probe the steady state",
            )
        )
    rollbacks = data.get("rollbacks")
    if rollbacks is not None and not isinstance(rollbacks, list):
        problems.append(ExperimentProblem("rollbacks", "must be a list of activities"))
    for field, activity in experiment.activities():
        problems.extend(_check_activity(experiment, field, activity))
    return [
        ExperimentProblem(p.field, p.message, p.line or experiment.line_of(p.field))
        for p in problems
    ]


def _check_activity(
    experiment: Experiment, field: str, activity: dict[str, Any]
) -> list[ExperimentProblem]:
    problems: list[ExperimentProblem] = []
    if "ref" in activity:
        return problems
    if activity.get("type") not in ("probe", "action"):
        problems.append(ExperimentProblem(f"{field}.type", "must be 'probe' or 'action'"))
    if not activity.get("name"):
        problems.append(ExperimentProblem(f"{field}.name", "missing"))
    provider = activity.get("provider")
    if not isinstance(provider, dict):
        problems.append(ExperimentProblem(f"{field}.provider", "missing"))
        return problems
    if provider.get("type") != "python":
        return problems  # http / process providers: nothing to locate
    module, func = str(provider.get("module", "")), str(provider.get("func", ""))
    source = module_file(module)
    if source is None:
        problems.append(
            ExperimentProblem(f"{field}.provider.module", f"module {module!r} is not importable")
        )
    elif not func:
        problems.append(ExperimentProblem(f"{field}.provider.func", "missing"))
    elif not defines(source, func):
        problems.append(
            ExperimentProblem(f"{field}.provider.func", f"{module} has no function {func!r}")
        )
    return problems


def check_blast_radius(
    experiment: Experiment,
    *,
    allowed_namespaces: tuple[str, ...] | None = None,
    allowed_contexts: tuple[str, ...] = (),
    context: str | None = None,
    allowed_actions: tuple[str, ...] = (),
    external_targets: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
) -> list[ExperimentProblem]:
    """Every provider the experiment can call (probes, tolerance probes, actions, rollbacks,
    controls) within the allowlist; see :mod:`harness.chaos.kube.rules` for Kubernetes.

    ``allowed_namespaces=None``: the target is not known yet (``harness validate``), so
    Kubernetes namespaces and contexts are left to the run, which knows the target.
    ``env``: the environment the experiment will see (``${ns}`` resolves against it)."""
    problems: list[ExperimentProblem] = []
    kube = experiment.uses_kubernetes
    policy = KubePolicy(allowed_namespaces, allowed_actions, external_targets)

    def resolve(value: Any) -> Any:
        return configuration_value(experiment, value, env)

    if kube:
        for field, message in check_secrets(experiment.data):
            problems.append(ExperimentProblem(field, message, experiment.line_of(field)))
        if context is not None and allowed_contexts and context not in allowed_contexts:
            problems.append(
                ExperimentProblem("target", f"kubernetes context {context!r} is not allowed")
            )
    for call in provider_calls(experiment.data):
        try:
            if call.module.startswith(LOCAL_DRIVER):
                _check_local_call(call, resolve)
            elif kube:
                check_call(call, resolve, policy)
        except BlastRadiusError as exc:
            field = f"{call.field}.arguments" if call.arguments else call.field
            problems.append(ExperimentProblem(field, str(exc), experiment.line_of(field)))
    return problems


def _check_local_call(call: ProviderCall, resolve: Callable[[Any], Any]) -> None:
    for key in SELECTOR_ARGS:
        if key in call.arguments:
            check_local_selector(resolve(call.arguments[key]))
    ns = resolve(call.arguments.get("ns", "default"))
    if ns != "default":
        raise BlastRadiusError(f"namespace {ns!r}: the local testbed has only 'default'")
