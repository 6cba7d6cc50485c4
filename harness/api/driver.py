"""The api driver: ``python -m harness.api.driver PLAN RESULTS`` (a child of the stage).

PLAN is ``{"step": <the api step as in the suite>, "base_url", "openapi"}``; the tokens
come in ``$HARNESS_API_TOKENS`` (``{"read", "write", "admin"}``), never in a file. The
checks run one after the other; RESULTS is rewritten after each, so a driver killed at
its deadline still leaves the checks it finished. Every token is masked in RESULTS.
Exit code 0 when RESULTS was written (whatever the checks found), 2 for a bad plan."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from harness.api.results import CheckName, CheckReport, Results, write_results
from harness.api.spec import ApiStep

TOKENS_ENV = "HARNESS_API_TOKENS"


def drive(step: ApiStep, base_url: str, openapi: str, tokens: Mapping[str, str], out: Path) -> None:
    from harness.api.sender import Sender

    secrets = tuple(t for t in tokens.values() if t)
    sender = Sender(step.request_timeout, secrets)
    results = Results(step.service)
    write_results(out, results)
    try:
        if step.fuzz or step.auth or step.hostile:
            results = _document_checks(step, sender, base_url, openapi, tokens, results, out)
        if step.rate_limit is not None:
            from harness.api.rate_limit import rate_limit

            token = tokens.get(step.rate_limit.token, "")
            report = rate_limit(step.rate_limit, base_url, token, step.request_timeout, secrets)
            results = _record(results, report, out)
        if step.metrics is not None:
            from harness.api.metric_names import metric_names

            report = metric_names(sender, base_url, step.metrics.path, step.metrics.names)
            results = _record(results, report, out)
    finally:
        sender.close()


def _record(results: Results, report: CheckReport, out: Path) -> Results:
    results = results.with_check(report)
    write_results(out, results)
    return results


def _document_checks(
    step: ApiStep,
    sender: object,
    base_url: str,
    openapi: str,
    tokens: Mapping[str, str],
    results: Results,
    out: Path,
) -> Results:
    from harness.api.auth_matrix import auth_matrix
    from harness.api.fuzz import fuzz
    from harness.api.hostile import hostile_input
    from harness.api.operations import DocumentError, load_document, operations
    from harness.api.sender import Sender

    assert isinstance(sender, Sender)
    scopes = step.auth.scopes if step.auth else {}
    secured = step.auth.secured if step.auth else []
    try:
        ops = operations(load_document(openapi), scopes, secured)
    except DocumentError as exc:
        for check in _document_check_names(step):  # each one the step asked for
            results = _record(results, CheckReport(check, "error", 0, str(exc)), out)
        return results
    results = Results(results.service, len(ops), results.checks)
    if step.fuzz:
        fuzzed = [op for op in ops if not op.matches(step.fuzz.exclude)]
        token = tokens.get(step.fuzz.token, "")
        reports = fuzz(fuzzed, sender, base_url, token, step.max_examples, step.fuzz.budget)
        for report in reports:
            if report.check in step.fuzz.checks:
                results = _record(results, report, out)
    if step.auth:
        report = auth_matrix(ops, sender, base_url, tokens, step.auth.unknown_token_status)
        results = _record(results, report, out)
    if step.hostile:
        probed = [op for op in ops if not op.matches(step.hostile.exclude)]
        options = step.hostile
        report = hostile_input(
            probed, sender, base_url, tokens, options.oversized_bytes, options.nesting_depth
        )
        results = _record(results, report, out)
    return results


def _document_check_names(step: ApiStep) -> list[CheckName]:
    names: list[CheckName] = list(step.fuzz.checks) if step.fuzz else []
    return names + (["auth"] if step.auth else []) + (["hostile"] if step.hostile else [])


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m harness.api.driver PLAN RESULTS", file=sys.stderr)
        return 2
    plan = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    step = ApiStep.model_validate(plan["step"])
    raw_tokens = json.loads(os.environ.get(TOKENS_ENV) or "{}")
    tokens = {k: str(v) for k, v in raw_tokens.items() if v}
    drive(step, str(plan["base_url"]), str(plan["openapi"]), tokens, Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
