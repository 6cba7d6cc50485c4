"""The verifier child process: ``python -m harness.contract.verifier PLAN RESULTS``.

Runs pact_python's ``Verifier`` (blocking, uncancellable Rust FFI) in its own process
so the harness can enforce a hard deadline by killing it. Reads a
:class:`~harness.contract.plan.VerifyPlan`, serves the provider states, runs one
verifier pass per token scope, removes the test data the states created, and writes
``RESULTS`` (schema ``harness.pact-results/1``) atomically. Exit code 0 when the
results file was written (whatever the verdict), 2 otherwise.

Tokens come from the environment (``HARNESS_PACT_TOKENS``, ``PACT_BROKER_TOKEN``);
they are injected as request headers and scrubbed from everything written.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.contract.plan import (
    HEADERS_ENV,
    RESULTS_SCHEMA,
    TOKENS_ENV,
    VerifyPass,
    VerifyPlan,
)
from wholefile import write_atomically

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
_REGEX_META = set("\\.+*?()|[]{}^$#&-~")
_SELECTOR_KWARGS = {
    "mainBranch": "main_branch",
    "branch": "branch",
    "deployedOrReleased": "deployed_or_released",
    "deployed": "deployed",
    "released": "released",
    "environment": "environment",
    "latest": "latest",
    "consumer": "consumer",
}


def exact_regex(texts: Sequence[str]) -> str:
    """A Rust-regex alternation matching exactly one of ``texts``."""
    escaped = ("".join(f"\\{c}" if c in _REGEX_META else c for c in t) for t in texts)
    return "^(?:" + "|".join(escaped) + ")$"


def secrets_of(tokens: dict[str, str]) -> list[str]:
    broker = os.environ.get("PACT_BROKER_TOKEN", "")
    return sorted({t for t in [*tokens.values(), broker] if t}, key=len, reverse=True)


def scrub(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` (JSON-like) with every secret replaced by ``***``."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    return value


def redacted(results: dict[str, Any], secrets: Sequence[str]) -> dict[str, Any]:
    """Results with secrets masked wherever the provider's answers or the verifier's own
    text appear. Consumer names and descriptions come from the pact files (already
    artifacts) and stay as written, so a short secret cannot garble them."""
    out = dict(results)
    out["passes"] = [
        {
            **one_pass,
            "output": scrub(one_pass.get("output", ""), secrets),
            "error": scrub(one_pass.get("error", ""), secrets),
            "interactions": [
                {**item, "mismatches": scrub(item.get("mismatches", []), secrets)}
                for item in one_pass.get("interactions", [])
            ],
        }
        for one_pass in results.get("passes", [])
    ]
    for key in ("state_failures", "cleanup_left"):
        out[key] = scrub(results.get(key, []), secrets)
    return out


def build_verifier(
    plan: VerifyPlan,
    one_pass: VerifyPass,
    state_url: str,
    token: str,
    headers: dict[str, str] | None = None,
) -> Any:
    from pact import Verifier  # imported here: only the child ever loads pact

    host = urlsplit(plan.provider_url).hostname or "127.0.0.1"
    verifier = Verifier(plan.provider, host=host).add_transport(url=plan.provider_url)
    verifier.set_request_timeout(plan.request_timeout_ms)
    verifier.set_coloured_output(enabled=False)
    if plan.broker is None:
        for path in plan.pact_files:
            verifier.add_source(path)
    else:
        broker = plan.broker
        builder = verifier.broker_source(
            broker.url, token=os.environ.get("PACT_BROKER_TOKEN") or None, selector=True
        )
        for selector in broker.selectors:
            kwargs: dict[str, Any] = {
                _SELECTOR_KWARGS[k]: v for k, v in selector.items() if k in _SELECTOR_KWARGS
            }
            builder.consumer_version(**kwargs)
        if broker.include_pending:
            builder.include_pending()
        if broker.include_wip_since:
            builder.include_wip_since(broker.include_wip_since)
        if broker.provider_branch:
            builder.provider_branch(broker.provider_branch)
        builder.build()
        if plan.consumers:
            verifier.filter_consumers(*plan.consumers)
        if broker.publish_version:
            verifier.set_publish_options(broker.publish_version, branch=broker.publish_branch)
    if len(plan.passes) > 1:  # one pass holds every interaction: no filter to apply
        verifier.filter(exact_regex(one_pass.descriptions))
    if one_pass.stateful:  # else the verifier would call it twice per interaction
        verifier.state_handler(state_url, teardown=True, body=True)
    for name, value in (headers or {}).items():  # the service's headers (from env vars)
        verifier.add_custom_header(name, value)
    if one_pass.scope is not None:
        verifier.add_custom_header("Authorization", f"Bearer {token}")
    return verifier


def run_pass(
    plan: VerifyPlan,
    one_pass: VerifyPass,
    state_url: str,
    tokens: dict[str, str],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    token = tokens.get(one_pass.scope or "", "")
    if one_pass.scope is not None and not token:
        return {
            "scope": one_pass.scope,
            "error": f"no {one_pass.scope} token configured for the target",
            "interactions": [],
            "output": "",
        }
    started = time.monotonic()
    verifier = build_verifier(plan, one_pass, state_url, token, headers or {})
    error = ""
    try:
        verifier.verify()
    except RuntimeError:
        pass  # every failure raises; the detail is in .results
    except Exception as exc:  # bad source, broker unreachable, FFI errors
        error = f"{type(exc).__name__}: {exc}"
    results = verifier.results or {}
    output = results.get("output") or []
    if not error:
        # A source that did not load is not an interaction failure: say why.
        for line in output:
            text = _ANSI_RE.sub("", str(line)).strip()
            if "Failed to load pact" in text:
                error = text.splitlines()[-1][:300]
                break
    return {
        "scope": one_pass.scope,
        "error": error,
        "duration_s": round(time.monotonic() - started, 3),
        "interactions": [
            *[_interaction(r) for r in results.get("interactionResults") or []],
        ],
        "output": _ANSI_RE.sub("", "\n".join(str(line) for line in output)),
    }


def _interaction(raw: dict[str, Any]) -> dict[str, Any]:
    mismatch = raw.get("mismatch") or {}
    items = mismatch.get("mismatches") if isinstance(mismatch, dict) else None
    mismatches = []
    for m in items or []:
        kind = str(m.get("type", ""))
        path = m.get("path") or m.get("key") or ("status" if kind == "StatusMismatch" else "")
        mismatches.append(
            {
                "path": str(path),
                "expected": _text(m.get("expected")),
                "actual": _text(m.get("actual")),
                "kind": kind,
                "message": str(m.get("mismatch") or m.get("message") or ""),
            }
        )
    if isinstance(mismatch, dict) and mismatch.get("type") == "error":
        mismatches.append(
            {
                "path": "",
                "expected": "",
                "actual": "",
                "kind": "error",
                "message": str(mismatch.get("message", "")),
            }
        )
    return {
        "consumer": str(raw.get("consumer", "")),
        "description": str(raw.get("description", "")),
        "provider_states": [str(s) for s in raw.get("providerStates") or []],
        "result": "ok" if raw.get("result") == "OK" else "error",
        "pending": bool(raw.get("pending")),
        "mismatches": mismatches,
    }


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def run(
    plan: VerifyPlan, tokens: dict[str, str], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    headers = headers or {}
    if not any(p.stateful for p in plan.passes):  # no provider state: no state server
        return {
            "schema": RESULTS_SCHEMA,
            "provider": plan.provider,
            "passes": [run_pass(plan, p, "", tokens, headers) for p in plan.passes],
            "state_failures": [],
            "cleanup_left": [],
        }
    # Imported only when needed: the child must start fast.
    from harness.contract.state_sources import states_or_reason
    from harness.contract.states import StateServer

    states = states_or_reason(plan.state_source(), plan.run_prefix, tokens, headers)
    passes = []
    left: list[str] = []
    with StateServer(states) as server:
        try:
            for one_pass in plan.passes:
                passes.append(run_pass(plan, one_pass, server.url, tokens, headers))
        finally:
            if states is not None:
                left = states.remove_all()
    return {
        "schema": RESULTS_SCHEMA,
        "provider": plan.provider,
        "passes": passes,
        "state_failures": server.failures,
        "cleanup_left": left,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m harness.contract.verifier PLAN.json RESULTS.json", file=sys.stderr)
        return 2
    plan_path, results_path = Path(args[0]), Path(args[1])
    os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
    tokens: dict[str, str] = {}
    headers: dict[str, str] = {}
    try:
        tokens = {k: str(v) for k, v in json.loads(os.environ.get(TOKENS_ENV) or "{}").items()}
        headers = {k: str(v) for k, v in json.loads(os.environ.get(HEADERS_ENV) or "{}").items()}
        plan = VerifyPlan.read(plan_path)
        results = run(plan, tokens, headers)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        print(scrub(traceback.format_exc(), secrets_of(tokens)), file=sys.stderr)
        print(f"verifier failed: {scrub(message, secrets_of(tokens))}", file=sys.stderr)
        return 2
    secrets = secrets_of({**tokens, **{f"header:{k}": v for k, v in headers.items()}})
    write_atomically(results_path, json.dumps(redacted(results, secrets), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
