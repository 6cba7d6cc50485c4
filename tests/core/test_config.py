"""Suite loading: exact file:line:field for each kind of mistake; valid suites load."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_suite
from harness.config.yaml_source import parse_yaml
from tests.core.conftest import PROJECT_ROOT, write_suite

pytestmark = pytest.mark.usefixtures("fake_kind")

VALID = """\
name: demo
target:
  kind: external
  external: {serving_url: "http://127.0.0.1:1"}
stages:
  - name: first
    steps:
      - name: a
        kind: fake
        timeout: 2m
        criteria:
          - "p95 < 100ms"
          - {expr: "error_rate < 5%", phase: fault}
"""


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = write_suite(tmp_path, text)
    suite, problems = load_suite(path, base_dir=tmp_path)
    assert suite is None and problems
    return [str(p).replace(f"{path}:", "") for p in problems]


def test_valid_suite_loads(tmp_path: Path) -> None:
    suite, problems = load_suite(write_suite(tmp_path, VALID), base_dir=tmp_path)
    assert problems == [] and suite is not None
    assert suite.name == "demo" and suite.target.kind == "external"
    (step,) = suite.steps
    assert (step.name, step.kind, step.timeout_s, step.stage) == ("a", "fake", 120.0, "first")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("name: demo", "nme: demo",
     ["1: name: required key missing", "1: nme: unknown key 'nme' (did you mean 'name'?)"]),
    ("  kind: external", "  kind: externl",
     ["3: target.kind: Input should be 'local', 'external' or 'kubernetes', got 'externl'"]),
    ("        timeout: 2m", "        timeout: 2 minutes",
     ["10: stages[0].steps[0].timeout: expected a duration such as '90s', '10m', '1h' or "
      "'500ms', got '2 minutes'"]),
    ("        timeout: 2m", "        timout: 2m",
     ["10: stages[0].steps[0].timout: unknown key 'timout' (did you mean 'timeout'?)"]),
    ('          - "p95 < 100ms"', '          - "p95 < 100"',
     ["12: stages[0].steps[0].criteria[0]: p95: expected a latency such as '100ms', '1.5s' or "
      "'250us', got '100'"]),
    ("phase: fault}", "phase: falt}",
     ["13: stages[0].steps[0].criteria[1].phase: unknown phase 'falt' (did you mean 'fault'?); "
      "phases are baseline, fault, recovery"]),
    ("        kind: fake", "        kind: fak",
     ["9: stages[0].steps[0].kind: unknown step kind 'fak' (did you mean 'fake'?); kinds are "
      "api, chaos, contract, fake, load"]),
    ("      - name: a", "      - name: a b",
     ["8: stages[0].steps[0].name: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]*$', "
      "got 'a b'"]),
    ("  external: {serving_url", "  external: {servng_url",
     ["4: target.external.servng_url: unknown key 'servng_url' (did you mean 'serving_url'?)"]),
])
def test_mistakes_point_at_file_line_and_field(
    tmp_path: Path, old: str, new: str, expected: list[str]
) -> None:
    assert old in VALID
    assert problems_of(tmp_path, VALID.replace(old, new)) == expected


def test_duplicate_step_names_and_keys(tmp_path: Path) -> None:
    text = VALID + """\
  - name: second
    steps:
      - {name: a, kind: fake}
"""
    assert problems_of(tmp_path, text) == [
        "16: stages[1].steps[0].name: step name 'a' is already used in stage 'first'; "
        "step names are unique in a suite"]
    assert problems_of(tmp_path, VALID.replace("name: demo", "name: demo\nname: again")) == [
        "2: name: duplicate key"]


def test_testbed_fault_switches_are_checked(tmp_path: Path) -> None:
    text = VALID.replace("  kind: external\n", "  kind: local\n  testbed:\n    faults: [latncy]\n")
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith("5: target.testbed.faults[0]: fault 'latncy': unknown fault name")


def test_reserved_step_names(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, VALID.replace("      - name: a", "      - name: testbed"))
    assert problem.startswith("8: stages[0].steps[0].name: step name 'testbed' is reserved")


def test_stage_check_problems_get_the_step_line(tmp_path: Path) -> None:
    text = VALID.replace("        timeout: 2m", "        timeout: 2m\n        needs_file: nope.txt")
    assert problems_of(tmp_path, text) == [
        "11: stages[0].steps[0].needs_file: no such file: nope.txt"]


@pytest.mark.parametrize(("text", "expected"), [
    ("name: [unclosed\n", "YAML syntax error"),
    ("", "the file is empty"),
    ("- just\n- a list\n", "a suite file is a mapping"),
    ("name: x\n\tbad: tab\n", "YAML syntax error"),
    ("a: &x [*x]\n", "refers to itself"),
    ("a: " + "[" * 1500 + "]" * 1500 + "\n", "nested"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
     + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
               for p, c in zip("abcdefg", "bcdefgh", strict=True)), "too large"),
])
def test_yaml_problems(tmp_path: Path, text: str, expected: str) -> None:
    (problem,) = problems_of(tmp_path, text)
    assert expected in problem


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"name: x\n\xff\xfe\x00")
    _, problems = load_suite(path)
    assert [str(p) for p in problems] == [f"{path}:2: file: not UTF-8 text (byte 8)"]
    _, problems = load_suite(tmp_path / "absent.yaml")
    assert "cannot read" in str(problems[0])


def test_line_map_of_nested_keys() -> None:
    document, problems = parse_yaml(VALID, Path("x.yaml"))
    assert document is not None and not problems
    assert document.line_of(("stages", 0, "steps", 0, "criteria", 1, "phase")) == 13
    assert document.line_of(("stages", 0, "steps", 0, "missing")) == 8


@pytest.mark.parametrize("name", ["smoke", "nightly", "prerelease", "gameday"])
def test_project_suites_validate(name: str) -> None:
    suite, problems = load_suite(PROJECT_ROOT / "suites" / f"{name}.yaml", base_dir=PROJECT_ROOT)
    assert problems == [] and suite is not None


def test_nightly_holds_the_agreed_slos() -> None:
    suite, _ = load_suite(PROJECT_ROOT / "suites" / "nightly.yaml", base_dir=PROJECT_ROOT)
    assert suite is not None
    steps = {step.name: step.spec for step in suite.steps}
    inference, pipelines = steps["model_inference"], steps["pipeline_execution"]
    assert inference.users == 1000 and inference.duration == 600.0  # type: ignore[attr-defined]
    assert 1000 / inference.spawn_rate == pytest.approx(60, rel=0.01)  # type: ignore[attr-defined]
    texts = [c.text for c in inference.criteria]  # type: ignore[attr-defined]
    assert texts == ["p95 < 100ms", "error_rate < 0.1%"]
    assert pipelines.users == 50 and pipelines.duration == 1800.0  # type: ignore[attr-defined]
    assert [c.text for c in pipelines.criteria] == [  # type: ignore[attr-defined]
        "completion_rate > 95%", "cpu_utilisation < 80%"]
