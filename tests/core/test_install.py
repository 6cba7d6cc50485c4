"""``pip install .`` without extras gives the orchestrator alone: it validates suites,
FastAPI (and the rest of the testbed's dependencies) is not there, and ``--target local``
says in one line how to install the testbed. A fresh virtualenv (pip's cache is warm, but
pip still asks the index about ~100 packages: 1-4 min), so in the slow set (``-m slow``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def source_copy(tmp_path: Path) -> Path:
    """What a release holds, copied: building in the checkout would leave build/ in it."""
    source = tmp_path / "source"
    for name in ("harness", "testbed", "wholefile"):
        shutil.copytree(PROJECT_ROOT / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    return source


def test_the_orchestrator_installs_and_validates_without_the_testbed(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-compile", "-c", str(PROJECT_ROOT / "requirements" / "constraints.txt"),
         str(source_copy(tmp_path))],
        capture_output=True, text=True, timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    env = {**os.environ, "HARNESS_ROOT": str(PROJECT_ROOT)}
    env.pop("PYTHONPATH", None)
    harness = str(venv / "bin" / "harness")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)

    where = run(str(python), "-c", "import harness; print(harness.__file__)")
    assert where.stdout.startswith(str(venv)), where  # the installed copy, not the checkout
    for module in ("fastapi", "uvicorn", "gunicorn", "sklearn", "psycopg"):
        assert run(str(python), "-c", f"import {module}").returncode == 1, module
    validated = run(harness, "validate", "suites/prerelease.yaml")
    assert validated.returncode == 0, validated.stderr
    assert "suite 'prerelease' is valid" in validated.stdout
    refused = run(harness, "run", "suites/prerelease.yaml", "--report-dir", str(tmp_path / "r"))
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "pip install 'harness[testbed]'" in refused.stderr
