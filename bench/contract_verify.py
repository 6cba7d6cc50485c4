"""Benchmark: verifying 100 interactions through the harness vs the bare pact verifier.

    .venv/bin/python bench/contract_verify.py [--rounds 7] [--interactions 100]

Starts a real registry (``python -m testbed.registry``) on 127.0.0.1, registers one model,
generates a pact of N interactions (GET the model, its versions, an unknown id; all with
a read token, matchers on every field), then alternates, round by round:

- bare: ``pact.Verifier`` constructed and ``verify()``-ed in this process (token as a
  custom header) — what a hand-written verification script would do;
- harness: ``STAGE.run`` of a contract step on the same pact and registry (pact
  selection and counting, plan, verifier child process with a hard deadline, results
  judged into criteria).

Prints a table of medians and the ratio (also the median of per-round ratios, which is
steadier on a loaded machine, and the harness's fixed overhead: wall time minus the
verifier's own verify time in the child), and saves JSON under bench/results/. The goal:
harness median <= 1.10 x bare median.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from harness.contract.spec import ContractStep  # noqa: E402
from harness.contract.stage import STAGE  # noqa: E402
from harness.runner import StepContext  # noqa: E402
from harness.stage_stream import StageStream  # noqa: E402
from harness.status import Status  # noqa: E402
from harness.target import Target, Tokens  # noqa: E402
from testbed.processes import free_port, start_service, stop_service  # noqa: E402

TOKENS = Tokens(read="bench-read-token-1", write="bench-write-token-2", admin="bench-admin-3")
TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX"
OVERHEAD_S: list[float] = []  # harness wall time minus the verifier's own verify time


def start_registry(state: Path) -> tuple[str, Any]:
    tokens_file = state / "tokens.json"
    tokens_file.write_text(
        json.dumps({"read": TOKENS.read, "write": TOKENS.write, "admin": TOKENS.admin})
    )
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "testbed.registry",
        "--port",
        str(port),
        "--tokens-file",
        str(tokens_file),
        "--state-dir",
        str(state),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = start_service(argv, log_path=state / "registry.log", env=env, cwd=state)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return url, process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_service(process.pid, process.create_time, grace_s=2)
    raise SystemExit("registry did not start")


def model_matchers() -> dict[str, Any]:
    def rule(match: str, **extra: Any) -> dict[str, Any]:
        return {"combine": "AND", "matchers": [{"match": match, **extra}]}

    return {
        "$.model_id": rule("integer"),
        "$.name": rule("type"),
        "$.version": rule("type"),
        "$.status": rule("regex", regex="^(active|retired)$"),
        "$.stage": rule("regex", regex="^(none|staging|production|archived)$"),
        "$.framework": rule("type"),
        "$.metrics": rule("type"),
        "$.tags": rule("type"),
        "$.created_at": rule("timestamp", format=TIMESTAMP_FORMAT),
    }


def write_pact(directory: Path, model: dict[str, Any], count: int) -> Path:
    """A V4 pact of ``count`` interactions against the registered ``model``."""
    interactions = []
    auth_rule = {
        "Authorization": {
            "combine": "AND",
            "matchers": [{"match": "regex", "regex": r"^Bearer \S+$"}],
        }
    }
    for index in range(count):
        kind = index % 3
        request: dict[str, Any] = {
            "method": "GET",
            "headers": {"Authorization": ["Bearer read-token"]},
            "matchingRules": {"header": auth_rule},
        }
        response: dict[str, Any] = {"headers": {"Content-Type": ["application/json"]}}
        if kind == 0:
            request["path"] = f"/models/{model['model_id']}"
            response.update(
                status=200,
                body={"content": model, "contentType": "application/json", "encoded": False},
                matchingRules={"body": model_matchers()},
            )
        elif kind == 1:
            request["path"] = f"/models/{model['model_id']}/versions"
            rules = {k.replace("$.", "$.versions[*]."): v for k, v in model_matchers().items()}
            response.update(
                status=200,
                body={
                    "content": {"versions": [model]},
                    "contentType": "application/json",
                    "encoded": False,
                },
                matchingRules={"body": rules},
            )
        else:
            request["path"] = "/models/999999999"
            response.update(
                status=404,
                body={
                    "content": {"error": {"code": "not_found", "message": "x"}},
                    "contentType": "application/json",
                    "encoded": False,
                },
                matchingRules={
                    "body": {
                        "$.error.code": {"combine": "AND", "matchers": [{"match": "type"}]},
                        "$.error.message": {"combine": "AND", "matchers": [{"match": "type"}]},
                    }
                },
            )
        interactions.append(
            {
                "type": "Synchronous/HTTP",
                "description": f"interaction {index:03d}",
                "pending": False,
                "request": request,
                "response": response,
            }
        )
    pact = {
        "consumer": {"name": "bench-consumer"},
        "provider": {"name": "model-registry"},
        "interactions": interactions,
        "metadata": {"pactSpecification": {"version": "4.0"}},
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bench-consumer-model-registry.json"
    path.write_text(json.dumps(pact, indent=1))
    return path


def bare_verify(url: str, pact_path: Path, log_path: Path) -> tuple[float, bool]:
    """The verifier's report goes to fd 1 from Rust: point fd 1 at a file, as the
    harness does for its child, so both pay the same for the output."""
    saved = os.dup(1)
    with log_path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        try:
            return _bare_verify(url, pact_path)
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _bare_verify(url: str, pact_path: Path) -> tuple[float, bool]:
    from pact import Verifier

    started = time.perf_counter()
    verifier = (
        Verifier("model-registry", host="127.0.0.1")
        .add_transport(url=url)
        .add_source(str(pact_path))
        .add_custom_header("Authorization", f"Bearer {TOKENS.read}")
    )
    try:
        verifier.verify()
        ok = True
    except RuntimeError:
        ok = False
    elapsed = time.perf_counter() - started
    verified = len(verifier.results.get("interactionResults") or [])
    return elapsed, ok and verified > 0


async def harness_verify(
    url: str, pact_dir: Path, scratch: Path, round_no: int
) -> tuple[float, bool, int]:
    step = ContractStep(name="bench", pacts=str(pact_dir))
    work = scratch / f"work-{round_no}"
    work.mkdir(parents=True)
    ctx = StepContext(
        run_id=f"bench-{round_no}",
        spec=step,
        target=Target(
            kind="external", registry_url=url, serving_url=url, orchestrator_url=url, tokens=TOKENS
        ),
        artifact_dir=scratch / f"report-{round_no}",
        work_dir=work,
        base_dir=ROOT,
        emit=lambda event: None,
        stage=StageStream(lambda event: None, ["bench"]),
        deadline_s=120.0,
    )
    started = time.perf_counter()
    outcome = await STAGE.run(ctx)
    elapsed = time.perf_counter() - started
    inside_s = sum(outcome.metrics.get("verifier_passes_s") or [0.0])
    OVERHEAD_S.append(elapsed - inside_s)
    return elapsed, outcome.status is Status.PASS, len(outcome.criteria)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--interactions", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="contract-bench-") as tmp:
        scratch = Path(tmp)
        (scratch / "registry").mkdir()
        url, process = start_registry(scratch / "registry")
        try:
            model = httpx.post(
                f"{url}/models/register",
                json={
                    "name": "bench-model",
                    "version": "1.0.0",
                    "framework": "sklearn",
                    "metrics": {"auc": 0.9},
                    "tags": {"team": "bench"},
                },
                headers={"Authorization": f"Bearer {TOKENS.write}"},
            ).json()
            pact_dir = scratch / "pacts"
            pact_path = write_pact(pact_dir, model, args.interactions)
            bare_log = scratch / "bare.log"
            bare_verify(url, pact_path, bare_log)  # warm-up: FFI load, registry caches
            bare_s: list[float] = []
            harness_s: list[float] = []
            for round_no in range(args.rounds):
                order = ("bare", "harness") if round_no % 2 == 0 else ("harness", "bare")
                for which in order:
                    if which == "bare":
                        elapsed, ok = bare_verify(url, pact_path, bare_log)
                        if not ok:
                            raise SystemExit("bare verification failed")
                        bare_s.append(elapsed)
                    else:
                        elapsed, ok, count = asyncio.run(
                            harness_verify(url, pact_dir, scratch, round_no)
                        )
                        if not ok or count != args.interactions:
                            raise SystemExit(f"harness verification: ok={ok} count={count}")
                        harness_s.append(elapsed)
        finally:
            stop_service(process.pid, process.create_time, grace_s=3)
    paired = statistics.median(h / b for h, b in zip(harness_s, bare_s, strict=True))
    bare_median = statistics.median(bare_s)
    harness_median = statistics.median(harness_s)
    ratio = harness_median / bare_median
    print(
        f"{'':10}{'median s':>10}{'min s':>10}{'max s':>10}   ({args.interactions} "
        f"interactions, {args.rounds} rounds, alternating)"
    )
    for name, values in (("bare", bare_s), ("harness", harness_s)):
        print(f"{name:10}{statistics.median(values):10.3f}{min(values):10.3f}{max(values):10.3f}")
    verdict = "OK" if ratio <= 1.10 else "OVER BUDGET"
    print(f"median of per-round ratios (same round, back to back) = {paired:.3f}")
    print(
        f"harness fixed overhead (wall - verify inside the child): median "
        f"{statistics.median(OVERHEAD_S):.3f} s"
    )
    print(
        f"ratio harness/bare = {ratio:.3f} (budget 1.10): {verdict}; "
        f"min-to-min {min(harness_s) / min(bare_s):.3f}; load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    out = results_dir / "contract_verify.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "contract_verify",
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "interactions": args.interactions,
                "rounds": args.rounds,
                "bare_s": [round(v, 4) for v in bare_s],
                "harness_s": [round(v, 4) for v in harness_s],
                "bare_median_s": round(bare_median, 4),
                "harness_median_s": round(harness_median, 4),
                "ratio": round(ratio, 4),
                "budget_ratio": 1.10,
                "within_budget": ratio <= 1.10,
                "paired_ratio_median": round(paired, 4),
                "harness_overhead_median_s": round(statistics.median(OVERHEAD_S), 4),
                "bare_min_s": round(min(bare_s), 4),
                "harness_min_s": round(min(harness_s), 4),
                "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"saved {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
