"""Benchmark: SIGKILL the harness in the middle of a chaos step under load, then recover.

50 trials (``--trials``) against one testbed: a child process runs the chaos runner (the
step a ``harness run`` would run) with a small HTTP load beside it; the bench SIGKILLs it at
a random moment, in one of two modes:

- ``harness``: only the harness process dies; ``chaos run`` gets SIGTERM through
  PR_SET_PDEATHSIG and plays its rollbacks (``--rollback-strategy always``);
- ``harness+chaos``: the ``chaos`` process is SIGKILLed too (a power cut): only the fault
  ledger is left.

Then ``recover_all()`` runs (what ``harness recover`` and the next run do) and the bench
counts faults left behind: replicas missing, pods still frozen, burners alive, serving
fault switches on, registry ``db-down`` on, ballast files, ledger entries. Target: 0 of 50.

Run: ``.venv/bin/python bench/chaos_sigkill.py [--trials 50] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = (
    "chaos/pod-kill.yaml",
    "chaos/service-unavailable.yaml",
    "chaos/network-latency.yaml",
    "chaos/cpu-stress.yaml",
    "chaos/db-connection-loss.yaml",
    "chaos/disk-pressure.yaml",
)
BURNER = "harness.chaos.driver.burner"


# ---------------------------------------------------------------- child: the harness side
async def _load(url: str, token: str, stop: asyncio.Event) -> int:
    sent = 0
    headers = {"Authorization": f"Bearer {token}"}
    body = {"features": [0.1] * 8}
    async with httpx.AsyncClient(timeout=2.0, headers=headers) as client:
        while not stop.is_set() and sent < 3000:
            with contextlib.suppress(httpx.HTTPError):
                await client.post(url + "/predict", json=body)
            sent += 1
            await asyncio.sleep(0.02)
    return sent


async def child_main(experiment: str, manifest_path: str, out_dir: str) -> int:
    from harness.chaos.spec import ChaosStep
    from harness.chaos.stage import STAGE
    from harness.runner import StepContext
    from harness.stage_stream import StageStream
    from harness.target import Target
    from testbed.manifest import load_manifest

    manifest = load_manifest(Path(manifest_path))
    target = Target(
        kind="local",
        registry_url=manifest.services.registry.url,
        serving_url=manifest.services.serving.url,
        orchestrator_url=manifest.services.orchestrator.url,
        manifest_path=Path(manifest_path),
    )
    spec = ChaosStep(name="chaos", experiment=experiment, delay="0.5s", rollback_grace="10s")
    ctx = StepContext(
        run_id=f"bench-{os.getpid()}",
        spec=spec,
        target=target,
        artifact_dir=Path(out_dir) / "report",
        work_dir=Path(out_dir) / "work",
        base_dir=PROJECT_ROOT,
        emit=lambda event: None,
        stage=StageStream(lambda event: None, ["bench"]),
        deadline_s=120.0,
    )
    stop = asyncio.Event()
    load = asyncio.create_task(_load(target.serving_url, manifest.tokens.read, stop))
    outcome = await STAGE.run(ctx)
    stop.set()
    await load
    print(outcome.status.value, outcome.summary)
    return 0


# ---------------------------------------------------------------- bench: the observer side
def testbed(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "testbed", *args], cwd=PROJECT_ROOT, check=True, capture_output=True
    )


def leftovers(manifest_path: Path, settle_s: float = 15.0) -> dict[str, Any]:
    """Faults still in place. Replicas get ``settle_s`` to come back (a process manager's job)."""
    from harness.chaos.ledger import read_records
    from testbed.manifest import live_pods, load_manifest

    manifest = load_manifest(manifest_path)
    expected = manifest.services.serving.replicas
    deadline = time.monotonic() + settle_s
    pods = live_pods(manifest)
    while len(pods) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        pods = live_pods(manifest)
    frozen = []
    for pod in pods:
        with contextlib.suppress(psutil.NoSuchProcess):
            if psutil.Process(pod.pid).status() == psutil.STATUS_STOPPED:
                frozen.append(pod.pid)
    burners = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.NoSuchProcess):
            if BURNER in " ".join(proc.info["cmdline"] or []) and proc.status() != "zombie":
                burners.append(proc.pid)
    headers = {"Authorization": f"Bearer {manifest.tokens.admin}"}
    serving_faults: list[str] | str
    registry_faults: list[str] | str
    try:
        serving_faults = httpx.get(
            manifest.services.serving.url + "/admin/faults", headers=headers, timeout=5
        ).json()["faults"]
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        serving_faults = f"unreachable: {exc}"
    try:
        registry_faults = httpx.get(
            manifest.services.registry.url + "/admin/faults", headers=headers, timeout=5
        ).json()["faults"]
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        registry_faults = f"unreachable: {exc}"
    ballast = [str(p) for p in Path(manifest.state_dir).rglob(".chaos-ballast-*")]
    ledger = [str(path.name) for path, _ in read_records()]
    return {
        "replicas": f"{len(pods)}/{expected}",
        "replicas_missing": max(0, expected - len(pods)),
        "frozen": frozen,
        "burners": burners,
        "serving_faults": serving_faults,
        "db_down": isinstance(registry_faults, list) and "db-down" in registry_faults,
        "registry_faults": registry_faults,
        "ballast": ballast,
        "ledger": ledger,
    }


def count_left(found: dict[str, Any]) -> int:
    return (
        found["replicas_missing"]
        + len(found["frozen"])
        + len(found["burners"])
        + (len(found["serving_faults"]) if isinstance(found["serving_faults"], list) else 1)
        + int(found["db_down"])
        + len(found["ballast"])
        + len(found["ledger"])
    )


def last_event(events_path: Path) -> str:
    try:
        lines = events_path.read_text().strip().splitlines()
    except OSError:
        return "-"
    for line in reversed(lines):
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            return f"{event['event']} {event.get('name') or event.get('fault') or ''}".strip()
    return "(none yet)"


def trial(
    index: int, experiment: str, mode: str, kill_at_s: float, manifest: Path
) -> dict[str, Any]:
    from harness.chaos.recovery import recover_all

    work_root = Path(os.environ["HARNESS_STATE_DIR"]).parent
    out = Path(tempfile.mkdtemp(prefix=f"trial-{index}-", dir=work_root))
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", experiment, str(manifest), str(out)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(kill_at_s)
    chaos_pids = []
    with contextlib.suppress(psutil.NoSuchProcess):
        chaos_pids = [
            p.pid
            for p in psutil.Process(child.pid).children(recursive=True)
            if "chaos" in " ".join(p.cmdline())
        ]
    finished_before_kill = child.poll() is not None
    child.send_signal(signal.SIGKILL)
    if mode == "harness+chaos":
        for pid in chaos_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    child.wait(10)
    at_kill = last_event(out / "report" / "events.jsonl")
    started = time.monotonic()
    lines = recover_all()
    recover_s = time.monotonic() - started
    found = leftovers(manifest)
    log = out / "report" / "chaostoolkit.log"
    log_tail = log.read_text().strip().splitlines()[-6:] if log.exists() else []
    left = count_left(found)
    return {
        "trial": index,
        "experiment": Path(experiment).stem,
        "mode": mode,
        "kill_at_s": round(kill_at_s, 2),
        "finished_before_kill": finished_before_kill,
        "last_event_before_kill": at_kill,
        "recovered": lines,
        "recover_s": round(recover_s, 2),
        "left": left,
        "found": found,
        "chaos_log_tail": log_tail,
        "out": str(out),
    }


def clean_up(manifest: Path) -> None:
    """After a trial that left something, put the testbed back so the next trial is fair."""
    from harness.chaos.recovery import recover_all

    recover_all(owner_grace_s=0.0)


def bench_main(trials: int, seed: int, only: str | None = None) -> int:
    rng = random.Random(seed)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chaos-bench-") as root:
        os.environ["HARNESS_STATE_DIR"] = str(Path(root) / "harness-state")
        state = Path(root) / "testbed"
        manifest = state / "manifest.json"
        testbed("up", "--manifest", str(manifest), "--state-dir", str(state))
        try:
            for i in range(trials):
                pool = [e for e in EXPERIMENTS if only is None or only in e]
                experiment = pool[i % len(pool)]
                mode = "harness" if (i // len(EXPERIMENTS)) % 2 == 0 else "harness+chaos"
                kill_at_s = rng.uniform(0.5, 13.0)
                result = trial(i + 1, experiment, mode, kill_at_s, manifest)
                results.append(result)
                print(
                    f"{i + 1:>3} {result['experiment']:<20} {mode:<14} kill@{kill_at_s:5.1f}s "
                    f"[{result['last_event_before_kill'][:38]:<38}] recovered "
                    f"{len(result['recovered'])} in {result['recover_s']:4.1f}s "
                    f"left {result['left']}",
                    flush=True,
                )
                if os.environ.get("BENCH_DEBUG"):
                    events = Path(result["out"]) / "report" / "events.jsonl"
                    print(events.read_text() if events.exists() else "(no events)")
                if result["left"]:
                    print(f"    LEFT: {json.dumps(result['found'])}", flush=True)
                    clean_up(manifest)
        finally:
            testbed("down", "--manifest", str(manifest))
    left_total = sum(1 for r in results if r["left"])
    recover_times = [r["recover_s"] for r in results]
    summary = {
        "trials": len(results),
        "trials_with_faults_left": left_total,
        "faults_left_total": sum(r["left"] for r in results),
        "recover_s_median": statistics.median(recover_times) if recover_times else None,
        "recover_s_max": max(recover_times) if recover_times else None,
        "ledger_entries_at_kill": sum(len(r["recovered"]) for r in results),
        "reverted_by_recover_all": sum(
            1 for r in results for line in r["recovered"] if line.startswith("reverted")
        ),
        "rolled_back_by_chaos_after_kill": sum(
            1 for r in results for line in r["recovered"] if "rolled back by its own run" in line
        ),
        "trials_with_fault_in_place_at_kill": sum(1 for r in results if r["recovered"]),
        "by_experiment": {
            Path(e).stem: {
                "trials": sum(1 for r in results if r["experiment"] == Path(e).stem),
                "left": sum(1 for r in results if r["experiment"] == Path(e).stem and r["left"]),
            }
            for e in EXPERIMENTS
        },
        "seed": seed,
    }
    print("\nexperiment            trials  left")
    for name, row in summary["by_experiment"].items():
        print(f"{name:<20} {row['trials']:>7} {row['left']:>5}")
    print(
        f"\n{left_total} of {len(results)} trials left a fault behind; recover_all median "
        f"{summary['recover_s_median']}s, max {summary['recover_s_max']}s; "
        f"{summary['trials_with_fault_in_place_at_kill']} trials had a fault in place at the "
        f"kill: {summary['reverted_by_recover_all']} reverted by recover_all, "
        f"{summary['rolled_back_by_chaos_after_kill']} by chaos's own rollbacks"
    )
    out = PROJECT_ROOT / "bench" / "results" / "chaos_sigkill.json"
    out.write_text(json.dumps({"summary": summary, "trials": results}, indent=2) + "\n")
    print(f"saved {out}")
    return 0 if left_total == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", help="run only experiments whose path contains this")
    parser.add_argument("--child", nargs=3, metavar=("EXPERIMENT", "MANIFEST", "OUT"))
    args = parser.parse_args()
    if args.child:
        return asyncio.run(child_main(*args.child))
    return bench_main(args.trials, args.seed, args.only)


if __name__ == "__main__":
    sys.exit(main())
