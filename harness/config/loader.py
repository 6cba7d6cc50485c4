"""Suite file -> validated :class:`harness.plan.Suite`, or a list of Problems.

Every user mistake becomes a ``Problem(file, line, field, message)``; nothing
here raises for bad input. Order: YAML syntax -> suite model -> each step
against its kind's model -> criteria -> each stage's own ``check``.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from harness import stages as stage_registry
from harness.config.services import known_service_names
from harness.config.suite import SuiteSpec
from harness.config.yaml_source import KeyPath, YamlDocument, dotted, read_yaml
from harness.criteria import did_you_mean
from harness.plan import PlannedStage, PlannedStep, Suite
from harness.runner import Problem
from harness.targets.local import fault_spec_problems

_UNION_TAG = re.compile(r"^[a-z_-]+(\[.*\])?$")
RESERVED_STEP_NAMES = frozenset(
    {"testbed", "verdict.json", "junit.xml", "summary.md", "events.jsonl", "reports"}
)
"""Names a step's artifact directory (REPORT_DIR/<step name>/) must not take."""
_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none"}


def load_suite(
    path: Path, base_dir: Path | None = None, *, check_references: bool = True
) -> tuple[Suite | None, list[Problem]]:
    """Load and validate a suite file; ``(suite, [])`` or ``(None, problems)``."""
    base_dir = base_dir if base_dir is not None else path.resolve().parent.parent
    document, problems = read_yaml(path)
    if document is None:
        return None, problems
    valid_steps: dict[tuple[int, int], PlannedStep] = {}
    suite = _validate(document, path, base_dir, problems, valid_steps)
    if check_references:
        problems.extend(_check_references(valid_steps, path, base_dir, document))
        if suite is not None:
            problems.extend(
                Problem(
                    path,
                    document.line_of(("target", "testbed", "faults", k)),
                    f"target.testbed.faults[{k}]",
                    message,
                )
                for k, message in fault_spec_problems(suite.target.testbed.faults)
            )
    problems.sort(key=lambda p: (str(p.file), p.line or 0))
    return (suite if not problems else None), problems


def _validate(
    document: YamlDocument,
    path: Path,
    base_dir: Path,
    problems: list[Problem],
    steps_by_position: dict[tuple[int, int], PlannedStep],
) -> Suite | None:
    data = document.data
    if not isinstance(data, dict):
        problems.append(
            Problem(
                path,
                document.line_of(()),
                "(top level)",
                "a suite file is a mapping with 'name' and 'stages'",
            )
        )
        return None
    step_problems: list[Problem] = []
    steps_by_position.update(_validate_steps(data.get("stages"), document, path, step_problems))
    try:
        spec = SuiteSpec.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems_from(exc.errors(), (), SuiteSpec, document, path))
        spec = None
    problems.extend(step_problems)
    if spec is None:
        return None
    problems.extend(_duplicate_names(spec, document, path))
    problems.extend(_unknown_services(spec, steps_by_position, document, path))
    if problems:
        return None
    stages = tuple(
        PlannedStage(
            name=stage.name,
            steps=tuple(steps_by_position[(i, j)] for j in range(len(stage.steps))),
        )
        for i, stage in enumerate(spec.stages)
    )
    return Suite(
        name=spec.name,
        description=spec.description,
        fail_fast=spec.fail_fast,
        target=spec.target,
        stages=stages,
        path=path,
        base_dir=base_dir,
    )


def _validate_steps(
    raw_stages: object, document: YamlDocument, path: Path, problems: list[Problem]
) -> dict[tuple[int, int], PlannedStep]:
    """Each step against its kind's model, by (stage index, step index)."""
    steps: dict[tuple[int, int], PlannedStep] = {}
    if not isinstance(raw_stages, list):
        return steps
    for i, raw_stage in enumerate(raw_stages):
        raw_steps = raw_stage.get("steps") if isinstance(raw_stage, dict) else None
        if not isinstance(raw_steps, list):
            continue
        stage_name = str(raw_stage.get("name"))
        for j, raw_step in enumerate(raw_steps):
            at: KeyPath = ("stages", i, "steps", j)
            step = _validate_step(raw_step, at, stage_name, document, path, problems)
            if step is not None:
                steps[(i, j)] = step
    return steps


def _validate_step(
    raw: object,
    at: KeyPath,
    stage_name: str,
    document: YamlDocument,
    path: Path,
    problems: list[Problem],
) -> PlannedStep | None:
    here = dotted(at)
    if not isinstance(raw, dict):
        problems.append(
            Problem(path, document.line_of(at), here, "a step is a mapping with 'name' and 'kind'")
        )
        return None
    known = stage_registry.kinds()
    kind = raw.get("kind")
    if kind is None:
        problems.append(
            Problem(
                path,
                document.line_of(at),
                f"{here}.kind",
                f"missing 'kind' (one of: {', '.join(known)})",
            )
        )
        return None
    if not isinstance(kind, str) or kind not in known:
        problems.append(
            Problem(
                path,
                document.line_of((*at, "kind")),
                f"{here}.kind",
                f"unknown step kind {kind!r}{did_you_mean(str(kind), known)}; "
                f"kinds are {', '.join(known)}",
            )
        )
        return None
    stage = stage_registry.find_stage(kind)
    if stage is None:  # pragma: no cover - kinds() lists only known kinds
        return None
    model = stage.step_model
    try:
        spec = model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_problems_from(exc.errors(), at, model, document, path))
        return None
    timeout_s = float(getattr(spec, "timeout", 600.0))
    return PlannedStep(
        stage=stage_name,
        name=str(getattr(spec, "name", "")),
        kind=kind,
        timeout_s=timeout_s,
        spec=spec,
    )


def _problems_from(
    errors: Sequence[ErrorDetails],
    prefix: KeyPath,
    model: type[BaseModel],
    document: YamlDocument,
    path: Path,
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for error in errors:
        loc = _clean_loc(error["loc"])
        if prefix == () and len(loc) >= 4 and loc[0] == "stages" and loc[2] == "steps":
            continue  # steps are validated against their kind's model
        full: KeyPath = (*prefix, *_option_of(error, loc, document, prefix))
        message = _message(error, model, loc)
        key = (dotted(full), message)
        if key in seen:
            continue
        seen.add(key)
        problems.append(Problem(path, document.line_of(full), dotted(full), message))
    return problems


def _option_of(
    error: ErrorDetails, loc: KeyPath, document: YamlDocument, prefix: KeyPath
) -> KeyPath:
    """A criterion's error names its option (``phase``, ``for``, ...): point at that key
    when the item is a mapping that has it."""
    option = (error.get("ctx") or {}).get("field")
    if error["type"] != "criterion" or not isinstance(option, str):
        return loc
    item: Any = document.data
    for part in (*prefix, *loc):
        try:
            item = item[part]
        except (KeyError, IndexError, TypeError):
            return loc
    return (*loc, option) if isinstance(item, dict) and option in item else loc


def _clean_loc(loc: tuple[int | str, ...]) -> KeyPath:
    """Drop pydantic's union / validator tags ("str", "function-before[...]")."""
    cleaned: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and (
            part in _TYPE_TAGS or ("[" in part and _UNION_TAG.match(part))
        ):
            continue
        cleaned.append(part)
    return tuple(cleaned)


def _message(error: ErrorDetails, model: type[BaseModel], loc: KeyPath) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        fields = _fields_at(model, loc[:-1])
        hint = did_you_mean(key, fields) if fields else ""
        known = f"; known keys: {', '.join(fields)}" if fields and not hint else ""
        return f"unknown key {key!r}{hint}{known}"
    if kind == "missing":
        return "required key missing"
    message = error["msg"]
    if kind == "criterion":  # harness.criteria's own words, which quote the input
        return message
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    value = error.get("input")
    if isinstance(value, str | int | float | bool) or value is None:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return f"{message}, got {shown}"
    return f"{message}, got a {type(value).__name__}"


def _fields_at(model: type[BaseModel], loc: KeyPath) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = _element_model(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _element_model(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _element_model(typing.get_args(annotation)[0])
    if origin in (list, tuple, set, dict):
        args = typing.get_args(annotation)
        return _element_model(args[-1]) if args else None
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _element_model(arg)
            if isinstance(found, type) and issubclass(found, BaseModel):
                return found
        return None
    return annotation


def _unknown_services(
    spec: SuiteSpec,
    steps: dict[tuple[int, int], PlannedStep],
    document: YamlDocument,
    path: Path,
) -> list[Problem]:
    """A step's ``service`` must name a service of the target."""
    external = spec.target.external
    known = known_service_names(
        external.services,
        {
            "registry": external.registry_url,
            "serving": external.serving_url,
            "orchestrator": external.orchestrator_url,
        },
    )
    problems = []
    for (i, j), step in sorted(steps.items()):
        name = getattr(step.spec, "service", None)
        if isinstance(name, str) and name not in known:
            at: KeyPath = ("stages", i, "steps", j, "service")
            problems.append(
                Problem(
                    path,
                    document.line_of(at),
                    dotted(at),
                    f"unknown service {name!r}{did_you_mean(name, known)}; the target's "
                    f"services are {', '.join(known)}",
                )
            )
    return problems


def _duplicate_names(spec: SuiteSpec, document: YamlDocument, path: Path) -> list[Problem]:
    problems: list[Problem] = []
    stage_seen: set[str] = set()
    step_seen: dict[str, str] = {}
    for i, stage in enumerate(spec.stages):
        if stage.name in stage_seen:
            at: KeyPath = ("stages", i, "name")
            problems.append(
                Problem(
                    path,
                    document.line_of(at),
                    dotted(at),
                    f"stage name {stage.name!r} is used twice",
                )
            )
        stage_seen.add(stage.name)
        for j, raw in enumerate(stage.steps):
            name = raw.get("name")
            if not isinstance(name, str):
                continue
            if name in RESERVED_STEP_NAMES:
                at = ("stages", i, "steps", j, "name")
                problems.append(
                    Problem(
                        path,
                        document.line_of(at),
                        dotted(at),
                        f"step name {name!r} is reserved in the report directory; "
                        f"reserved: {', '.join(sorted(RESERVED_STEP_NAMES))}",
                    )
                )
            elif name in step_seen:
                at = ("stages", i, "steps", j, "name")
                problems.append(
                    Problem(
                        path,
                        document.line_of(at),
                        dotted(at),
                        f"step name {name!r} is already used in stage "
                        f"{step_seen[name]!r}; step names are unique in a suite",
                    )
                )
            else:
                step_seen[name] = stage.name
    return problems


def _check_references(
    steps: dict[tuple[int, int], PlannedStep], path: Path, base_dir: Path, document: YamlDocument
) -> list[Problem]:
    """Each valid step's references, checked by its stage (which starts nothing)."""
    _prepare_checks(steps, base_dir)
    problems: list[Problem] = []
    for (i, j), step in sorted(steps.items()):
        at: KeyPath = ("stages", i, "steps", j)
        try:
            stage_impl = stage_registry.stage_for(step.kind)
        except stage_registry.StageUnavailable as exc:
            problems.append(
                Problem(path, document.line_of((*at, "kind")), f"{dotted(at)}.kind", str(exc))
            )
            continue
        try:
            found = stage_impl.check(step.spec, base_dir, path)
        except Exception as exc:
            problems.append(
                Problem(
                    path,
                    document.line_of(at),
                    dotted(at),
                    f"internal error while checking the step: {type(exc).__name__}: {exc}",
                )
            )
            continue
        problems.extend(_placed(p, at, step.name, path, document) for p in found)
    return problems


def _prepare_checks(steps: dict[tuple[int, int], PlannedStep], base_dir: Path) -> None:
    """A stage with ``prepare_check(specs, base_dir)`` gets all its steps at once before
    the step-by-step checks (the load stage imports every locustfile in one child). What
    goes wrong there is left to the step checks to report."""
    by_kind: dict[str, list[object]] = {}
    for step in steps.values():
        by_kind.setdefault(step.kind, []).append(step.spec)
    for kind, specs in by_kind.items():
        try:
            prepare = getattr(stage_registry.stage_for(kind), "prepare_check", None)
            if prepare is not None:
                prepare(specs, base_dir)
        except Exception:  # each step's check says what is wrong
            continue


def _placed(
    problem: Problem, at: KeyPath, step_name: str, suite_path: Path, document: YamlDocument
) -> Problem:
    """A stage reports fields relative to its step; give them the suite's path and line.

    A problem about a file that does not exist is about the reference to it, so it is
    placed on the step in the suite; one inside an existing file keeps its own place."""
    if problem.field.startswith("stages["):
        return problem
    if problem.file != suite_path and problem.file.exists():
        return problem
    field = problem.field
    if field.startswith(f"{step_name}."):
        field = field[len(step_name) + 1 :]
    field_path: KeyPath = (*at, *_split_field(field))
    line = (problem.line if problem.file == suite_path else None) or document.line_of(field_path)
    return Problem(suite_path, line, dotted(field_path), problem.message)


def _split_field(field: str) -> KeyPath:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", field):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return tuple(parts)
