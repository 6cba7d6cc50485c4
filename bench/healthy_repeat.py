"""No flakes on a healthy platform: run suites against the healthy local testbed N
times and count the passes.

    .venv/bin/python bench/healthy_repeat.py [--runs 10] [SUITE ...]
        (default suites: suites/smoke.yaml suites/gameday.yaml; --keep DIR keeps
        every run's report directory)

Each run is a real ``python -m harness run SUITE --report-dir DIR`` (it starts the
testbed, runs every stage, tears it down). Prints, per suite, the pass count, every
non-pass with its step and criterion (status, observed, threshold, reason), each
run's wall time and the load average. The bar: every run passes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from load_common import ROOT, save

DEFAULT_SUITES = ("suites/smoke.yaml", "suites/gameday.yaml")


def run_once(suite: str, report_dir: Path) -> dict[str, Any]:
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", suite, "--report-dir", str(report_dir)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=3600,
        check=False,
    )
    wall_s = time.monotonic() - started
    verdict_path = report_dir / "verdict.json"
    verdict = json.loads(verdict_path.read_text()) if verdict_path.exists() else None
    return {
        "suite": suite, "exit_code": proc.returncode, "wall_s": wall_s,
        "load_avg": (load_before + os.getloadavg()[0]) / 2,
        "status": verdict["status"] if verdict else "no verdict",
        "non_pass": non_passes(verdict) if verdict else [proc.stderr[-500:]],
        "closest": closest_calls(verdict) if verdict else [],
    }


def closest_calls(verdict: dict[str, Any], count: int = 3) -> list[str]:
    """The upper-bound criteria nearest their threshold (observed / threshold), passed
    or not: how much room a healthy run leaves."""
    rows = []
    for step in verdict["steps"]:
        for c in step.get("criteria", []):
            observed, threshold = c.get("observed"), c.get("threshold")
            if not isinstance(observed, int | float) or not isinstance(threshold, int | float):
                continue
            if threshold <= 0 or "<" not in c["name"]:
                continue
            rows.append((observed / threshold, f"{step['name']}: {c['name']} observed "
                         f"{observed:.4g} ({observed / threshold:.0%} of the threshold)"))
    return [text for _, text in sorted(rows, reverse=True)[:count]]


def non_passes(verdict: dict[str, Any]) -> list[str]:
    """One line per step or criterion that did not pass."""
    lines = []
    for step in verdict["steps"]:
        if step["status"] == "pass":
            continue
        bad = [c for c in step.get("criteria", []) if c["status"] != "pass"]
        if not bad:
            lines.append(f"{step['name']}: {step['status']}: {step.get('summary', '')}")
        for c in bad:
            phase = f" [phase={c['phase']}]" if c.get("phase") and "[phase" not in c["name"] else ""
            lines.append(
                f"{step['name']}: {c['status']} {c['name']}{phase} observed {c.get('observed')} "
                f"threshold {c.get('threshold')} {c.get('unit', '')}: {c.get('reason', '')}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("suites", nargs="*", default=list(DEFAULT_SUITES))
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep every run's report directory under this one")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for index in range(args.runs):
            for suite in args.suites:
                row = run_once(suite, root / f"{Path(suite).stem}-{index + 1}")
                results.append(row)
                print(f"{suite} run {index + 1}: {row['status']} in {row['wall_s']:.0f} s "
                      f"(load avg {row['load_avg']:.2f})", flush=True)
                for line in row["non_pass"]:
                    print(f"    {line}", flush=True)
                for line in row["closest"]:
                    print(f"    closest: {line}", flush=True)
    print()
    for suite in args.suites:
        rows = [r for r in results if r["suite"] == suite]
        passed = sum(1 for r in rows if r["status"] == "pass")
        walls = sorted(r["wall_s"] for r in rows)
        print(f"{suite}: {passed}/{len(rows)} passed; wall {walls[0]:.0f}..{walls[-1]:.0f} s; "
              f"load avg {min(r['load_avg'] for r in rows):.2f}.."
              f"{max(r['load_avg'] for r in rows):.2f}")
    print("saved", save("healthy_repeat", {"runs": results}))


if __name__ == "__main__":
    main()
