"""The harness never passes on a verifier it cannot trust: fake verifier interpreters
(``HARNESS_PACT_VERIFIER_PYTHON``) that hang, crash, print garbage or report too little
all end in ERROR with a reason. No registry is needed: the fake never calls it."""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from pathlib import Path

import psutil
import pytest

from harness.contract.plan import RESULTS_SCHEMA
from harness.status import Status
from tests.contract.conftest import ROOT, Registry, make_target, run_step

PACT = ROOT / "contracts" / "pacts" / "pipeline-orchestrator-model-registry.json"
COUNT = len(json.loads(PACT.read_text())["interactions"])

FAKE = """#!{python}
# Fake verifier interpreter, called as: FAKE -m harness.contract.verifier PLAN RESULTS
import json, os, sys, time
mode = {mode!r}
plan, results = sys.argv[3], sys.argv[4]
open({pid_file!r}, "w").write(str(os.getpid()))
descriptions = [
    d for p in json.load(open(plan))["passes"] for d in p["descriptions"]
]
def write(data):
    open(results, "w").write(data if isinstance(data, str) else json.dumps(data))
def item(d, result="ok"):
    return {{"consumer": "pipeline-orchestrator", "description": d, "provider_states": [],
             "result": result, "pending": False, "mismatches": []}}
if mode == "hang":
    time.sleep(600)
elif mode == "crash":
    print("Segmentation fault in the verifier", file=sys.stderr)
    sys.exit(139)
elif mode == "garbage":
    write("Verifying a pact between ... all good!")
elif mode == "no-results":
    print("everything passed")
elif mode == "zero":
    write({{"schema": {schema!r}, "passes": [{{"scope": None, "interactions": []}}]}})
elif mode == "short":
    write({{"schema": {schema!r}, "passes": [
        {{"scope": None, "interactions": [item(d) for d in descriptions[:-1]]}}]}})
elif mode == "extra":
    write({{"schema": {schema!r}, "passes": [
        {{"scope": None, "interactions": [item(d) for d in descriptions]
          + [item("an interaction nobody wrote")]}}]}})
elif mode == "register-then-hang":
    import urllib.request
    raw = json.load(open(plan))
    token = json.loads(os.environ["HARNESS_PACT_TOKENS"])["write"]
    for version in ("1.0.0", "1.1.0"):
        request = urllib.request.Request(
            raw["registry_url"] + "/models/register", method="POST",
            data=json.dumps({{"name": raw["run_prefix"] + "-churn-classifier",
                             "version": version, "framework": "x"}}).encode(),
            headers={{"Authorization": "Bearer " + token, "Content-Type": "application/json"}})
        urllib.request.urlopen(request).read()
    time.sleep(600)
elif mode == "all-ok":
    write({{"schema": {schema!r}, "passes": [
        {{"scope": None, "interactions": [item(d) for d in descriptions]}}]}})
"""


def install_fake(tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    pid_file = tmp_path / "fake.pid"
    fake = tmp_path / "fake-python"
    fake.write_text(
        FAKE.format(python=sys.executable, mode=mode, pid_file=str(pid_file), schema=RESULTS_SCHEMA)
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("HARNESS_PACT_VERIFIER_PYTHON", str(fake))
    return pid_file


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("hang", "did not finish within"),
        ("crash", "exited with code 139"),
        ("garbage", "unreadable verifier results"),
        ("no-results", "wrote no results file"),
        ("zero", "verified 0 of"),
        ("short", f"verified {COUNT - 1} of {COUNT}"),
        ("extra", "interactions the pacts do not hold"),
    ],
)
async def test_untrustworthy_verifier_is_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, reason: str
) -> None:
    pid_file = install_fake(tmp_path, mode, monkeypatch)
    async with asyncio.timeout(30):
        run = await run_step(tmp_path, make_target("http://127.0.0.1:9"), timeout="3s")
    assert run.outcome.status is Status.ERROR, run.outcome
    assert reason in run.outcome.summary, run.outcome.summary
    assert pid_file.exists()
    pid = int(pid_file.read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    if mode == "hang":
        assert run.elapsed_s < 10


async def test_fake_reporting_everything_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the same fake reporting every interaction verified is a PASS, so the
    ERRORs above come from the judging, not from the fake's plumbing."""
    install_fake(tmp_path, "all-ok", monkeypatch)
    async with asyncio.timeout(30):
        run = await run_step(tmp_path, make_target("http://127.0.0.1:9"), timeout="10s")
    assert run.outcome.status is Status.PASS, run.outcome.summary
    assert len(run.outcome.criteria) == COUNT


@pytest.mark.e2e
async def test_killed_verifier_leaves_no_test_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: Registry
) -> None:
    """A verifier killed at its deadline cannot clean up: the harness removes every
    version of the run's names itself."""
    before = registry.model_count()
    install_fake(tmp_path, "register-then-hang", monkeypatch)
    async with asyncio.timeout(30):
        run = await run_step(tmp_path, make_target(registry.url), timeout="4s")
    assert run.outcome.status is Status.ERROR
    assert "did not finish" in run.outcome.summary
    assert "test data may remain" not in run.outcome.summary
    assert registry.model_count() == before


@pytest.mark.e2e
async def test_cancelled_step_reaps_verifier_and_leaves_no_test_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: Registry
) -> None:
    before = registry.model_count()
    pid_file = install_fake(tmp_path, "register-then-hang", monkeypatch)
    async with asyncio.timeout(30):
        task = asyncio.create_task(run_step(tmp_path, make_target(registry.url), timeout="60s"))
        for _ in range(100):  # until the fake has registered its test data
            if pid_file.exists() and registry.model_count() > before:
                break
            await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    pid = int(pid_file.read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert registry.model_count() == before


def test_real_verifier_child_refuses_a_bad_plan(tmp_path: Path) -> None:
    import subprocess

    plan = tmp_path / "plan.json"
    plan.write_text('{"schema": "something-else"}')
    done = subprocess.run(
        [sys.executable, "-m", "harness.contract.verifier", str(plan), str(tmp_path / "r.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "not a harness.pact-plan/1 file" in done.stderr
    assert not (tmp_path / "r.json").exists()
    usage = subprocess.run(
        [sys.executable, "-m", "harness.contract.verifier"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert usage.returncode == 2 and "usage:" in usage.stderr
