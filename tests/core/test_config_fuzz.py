"""Property: whatever the suite file holds, load_suite returns Problems, never raises.

Random YAML trees, mutated valid suites, mutated text and garbage bytes."""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.config import load_suite
from harness.runner import Problem
from tests.core import fake_stage

VALID: dict[str, Any] = {
    "name": "fuzz",
    "fail_fast": True,
    "target": {"kind": "external", "external": {"serving_url": "http://127.0.0.1:1",
                                                "tokens": {"read_env": "X"}},
               "testbed": {"replicas": 2, "faults": [], "ready_timeout": "60s"}},
    "stages": [
        {"name": "one", "steps": [
            {"name": "a", "kind": "fake", "timeout": "2m", "metrics": {"rps": 1.0},
             "criteria": ["p95 < 100ms", {"expr": "error_rate < 5%", "phase": "fault"}]},
            {"name": "b", "kind": "load", "locustfile": "loadtests/inference.py",
             "users": 5, "duration": "10s", "criteria": ["rps > 1"]},
        ]},
        {"name": "two", "steps": [{"name": "c", "kind": "contract", "timeout": "1m"}]},
    ],
}
KEYS = ["name", "kind", "timeout", "criteria", "steps", "stages", "target", "users", "expr",
        "phase", "duration", "locustfile", "external", "testbed", "replicas", "nme", "stagez"]
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["10s", "1x", "p95 < 1ms", "5%", "-1", "∞", "fake",
                                           "load", "chaos", "local", "a b"]),
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), children,
                        max_size=5),
    ),
    max_leaves=25,
)


@pytest.fixture(scope="module", autouse=True)
def fake_kind_module() -> Iterator[None]:
    from harness.stages import unregister_stage

    fake_stage.register()
    yield
    unregister_stage("fake")


@pytest.fixture(scope="module")
def work_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="harness-fuzz-") as name:
        yield Path(name)


def check(work_dir: Path, raw: bytes) -> None:
    path = work_dir / "suite.yaml"
    path.write_bytes(raw)
    lines = raw.count(b"\n") + 2
    suite, problems = load_suite(path, base_dir=Path(__file__).resolve().parents[2])
    assert (suite is None) == bool(problems)
    for problem in problems:
        assert isinstance(problem, Problem) and problem.field and problem.message
        assert problem.line is None or 1 <= problem.line <= lines or problem.file != path
        str(problem)


@SETTINGS
@given(tree=trees)
def test_random_trees(work_dir: Path, tree: Any) -> None:
    check(work_dir, yaml.safe_dump(tree, allow_unicode=True).encode())


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


ALL_PATHS = _paths(VALID)[1:]


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    suite = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent: Any = suite
        try:
            for part in path[:-1]:
                parent = parent[part]
            key = path[-1]
            current = parent[key]
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["delete", "replace", "unknown", "wrap", "tree"]))
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(scalars)
        elif action == "unknown" and isinstance(current, dict):
            current[draw(st.sampled_from(KEYS))] = draw(scalars)
        elif action == "wrap":
            parent[key] = [current]
        else:
            parent[key] = draw(trees)
    return suite


@SETTINGS
@given(suite=mutated())
def test_mutated_valid_suites(work_dir: Path, suite: Any) -> None:
    check(work_dir, yaml.safe_dump(suite, allow_unicode=True).encode())


VALID_TEXT = yaml.safe_dump(VALID, default_flow_style=False)


@SETTINGS
@given(position=st.integers(0, len(VALID_TEXT)), cut=st.integers(0, 8),
       insert=st.text(alphabet=":-[]{}&*!|>'\"# \n\t%@`,?", max_size=4))
def test_mutated_text(work_dir: Path, position: int, cut: int, insert: str) -> None:
    text = VALID_TEXT[:position] + insert + VALID_TEXT[position + cut:]
    check(work_dir, text.encode())


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_garbage_bytes(work_dir: Path, raw: bytes) -> None:
    check(work_dir, raw)


def test_the_valid_base_is_valid(work_dir: Path) -> None:
    path = work_dir / "valid.yaml"
    path.write_text(VALID_TEXT)
    suite, problems = load_suite(path, base_dir=Path(__file__).resolve().parents[2])
    assert problems == [] and suite is not None
