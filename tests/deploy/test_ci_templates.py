"""The CI templates validate offline against their published schemas (check-jsonschema's
built-in vendor schemas) and do what the README says: the README's commands, the three
reports as artifacts, JUnit published."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHECK_JSONSCHEMA = str(Path(sys.executable).with_name("check-jsonschema"))
WORKFLOWS = ROOT / ".github" / "workflows"
GITLAB = ROOT / ".gitlab-ci.yml"
REPORTS = ("junit.xml", "verdict.json", "report.html")
SUITES = {"nightly": "suites/nightly.yaml", "prerelease": "suites/prerelease.yaml",
          "gameday": "suites/gameday.yaml"}


def validate(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", schema, *map(str, paths)],
        capture_output=True, text=True, timeout=120, check=False,
    )


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def test_github_workflows_match_the_published_schema() -> None:
    paths = sorted(WORKFLOWS.glob("*.yml"))
    assert [p.stem for p in paths] == ["gameday", "nightly", "prerelease"]
    checked = validate("vendor.github-workflows", *paths)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_gitlab_ci_matches_the_published_schema() -> None:
    checked = validate("vendor.gitlab-ci", GITLAB)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("schema", "name", "text"),
    [
        ("vendor.github-workflows", "bad.yml",
         "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n"),
        ("vendor.gitlab-ci", ".gitlab-ci.yml", "job:\n  script: 3\n  when: sometimes\n"),
    ],
)
def test_the_validator_rejects_a_broken_template(
    tmp_path: Path, schema: str, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert validate(schema, path).returncode == 1


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert isinstance(on, dict)
    return on


def test_github_triggers() -> None:
    nightly, pre, gameday = (load(WORKFLOWS / f"{n}.yml") for n in SUITES)
    assert "cron" in _triggers(nightly)["schedule"][0]
    assert _triggers(pre)["push"]["tags"] and "workflow_dispatch" in _triggers(pre)
    assert list(_triggers(gameday)) == ["workflow_dispatch"]


@pytest.mark.parametrize("job", list(SUITES))
def test_github_jobs_run_the_readme_command_and_keep_the_reports(job: str) -> None:
    steps = load(WORKFLOWS / f"{job}.yml")["jobs"][job]["steps"]
    runs = " ".join(step.get("run", "") for step in steps)
    assert re.search(r"bin/harness run \S+ --report-dir reports/" + job, runs)
    if job != "gameday":
        assert SUITES[job] in runs
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert len(uploads) == 1 and uploads[0]["if"] == "${{ !cancelled() }}"
    for report in REPORTS:
        assert f"reports/{job}/{report}" in uploads[0]["with"]["path"]
    junit = [s for s in steps if "junit" in str(s.get("uses", ""))]
    assert junit and junit[0]["with"]["report_paths"] == f"reports/{job}/junit.xml"


@pytest.mark.parametrize("job", list(SUITES))
def test_gitlab_jobs_run_the_readme_command_and_publish_junit(job: str) -> None:
    data = load(GITLAB)
    template = data[".harness"]
    assert data[job]["extends"] == ".harness"
    script = " ".join(data[job]["script"])
    assert re.search(r"bin/harness run \S+ --report-dir reports/ci", script)
    assert SUITES[job] in script or SUITES[job] == data[job]["variables"]["HARNESS_SUITE"]
    assert template["artifacts"]["when"] == "always"
    assert template["artifacts"]["reports"]["junit"] == "reports/ci/junit.xml"
    for report in REPORTS:
        assert f"reports/ci/{report}" in template["artifacts"]["paths"]


def test_the_readme_shows_the_commands_the_templates_use() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "bin/harness run [SUITE] [--report-dir DIR]" in readme
    for path in (".github/workflows/", ".gitlab-ci.yml"):
        assert path in readme
