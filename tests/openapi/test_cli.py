"""``harness run suites/prerelease.yaml`` with the four api fault switches on at once:
the verdict is FAIL, each fault's check fails (and only those), and verdict.json,
junit.xml and summary.md name the operation and the request (a curl command), with
every token masked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.openapi.conftest import PRERELEASE, ROOT

pytestmark = pytest.mark.e2e

FAULTS = ["registry-auth-bypass", "registry-bad-id-500", "no-rate-limit", "metric-renamed"]


def test_prerelease_fails_each_api_check_its_fault_breaks(tmp_path: Path) -> None:
    report = tmp_path / "report"
    argv = [sys.executable, "-m", "harness", "run", str(PRERELEASE), "--report-dir", str(report)]
    for fault in FAULTS:
        argv += ["--fault", fault]
    env = {**os.environ, "COLUMNS": "160"}
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    verdict = json.loads((report / "verdict.json").read_text())
    steps = {s["name"]: s for s in verdict["steps"]}
    judged = {
        (name, c["name"].split(":")[0]): c
        for name in ("registry-api", "serving-api")
        for c in steps[name]["criteria"]
    }
    failed = {key for key, c in judged.items() if c["status"] != "pass"}
    assert failed == {
        ("registry-api", "auth"),
        ("registry-api", "hostile"),
        ("serving-api", "rate_limit"),
        ("serving-api", "metrics"),
    }
    auth = judged[("registry-api", "auth")]
    assert any(m["path"] == "POST /models/register" for m in auth["mismatches"])
    assert all(m["kind"].startswith("request: curl -X ") for m in auth["mismatches"])

    junit = ET.parse(report / "junit.xml").getroot()
    failures = {
        case.get("name"): case.find("failure")
        for case in junit.iter("testcase")
        if case.find("failure") is not None
    }
    auth_case = failures["auth: auth matrix"]
    assert auth_case is not None and "POST /models/register" in (auth_case.text or "")
    assert "curl -X POST" in (auth_case.text or "")
    summary = (report / "summary.md").read_text()
    for text in ("auth: auth matrix", "hostile:", "rate_limit:", "metrics:", "curl -X"):
        assert text in summary

    # The testbed's tokens are gone with it: every bearer token in the reports must be
    # masked, or the made-up unknown one the auth matrix sends.
    unmasked = re.compile(r"Bearer (?!\*\*\*|harness-unknown-)[A-Za-z0-9_-]+")
    api_files = [*report.glob("registry-api/*"), *report.glob("serving-api/*")]
    assert api_files
    for path in [report / "verdict.json", report / "junit.xml", report / "summary.md", *api_files]:
        assert not unmasked.search(path.read_text(errors="replace")), f"a token in {path}"
