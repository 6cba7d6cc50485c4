"""Judging the verifier child's results file against the interactions the pacts hold.

Each expected interaction becomes one :class:`CriterionResult` (a criterion in
verdict.json, a testcase in junit.xml). Never PASS on vacuous evidence: an
interaction the verifier did not report, or a results file that cannot be read,
is an ERROR with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.contract.pactfile import Interaction
from harness.contract.plan import RESULTS_SCHEMA
from harness.outcome import CriterionResult, Mismatch
from harness.status import Status


class ResultsError(ValueError):
    """The verifier's results file is missing, unparsable or not what was asked for."""


@dataclass(frozen=True)
class Judgement:
    criteria: tuple[CriterionResult, ...]
    expected: int
    verified: int
    failed: int
    error: str  # non-empty: the step is ERROR for this reason, whatever the criteria say
    durations_s: tuple[float, ...] = ()


def read_results(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"the verifier wrote no results file ({path.name})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path.name}: unreadable verifier results ({exc})") from None
    if not isinstance(raw, dict) or raw.get("schema") != RESULTS_SCHEMA:
        raise ResultsError(f"{path.name}: not a {RESULTS_SCHEMA} file")
    if not isinstance(raw.get("passes"), list):
        raise ResultsError(f"{path.name}: 'passes' must be a list")
    return raw


def judge(expected: Sequence[Interaction], results: dict[str, Any]) -> Judgement:
    """One criterion per expected interaction; the step's error reason, if any."""
    reported: dict[tuple[str, str], dict[str, Any]] = {}
    unexpected: list[str] = []
    errors: list[str] = []
    durations: list[float] = []
    wanted = {i.key for i in expected}
    for one_pass in results["passes"]:
        if not isinstance(one_pass, dict):
            raise ResultsError("a verifier pass is not a JSON object")
        if one_pass.get("error"):
            errors.append(
                f"verifier pass ({one_pass.get('scope') or 'no token'}): {one_pass['error']}"
            )
        durations.append(float(one_pass.get("duration_s") or 0.0))
        for item in one_pass.get("interactions") or []:
            key = (str(item.get("consumer", "")), str(item.get("description", "")))
            if key not in wanted:
                unexpected.append(f"{key[0]}: {key[1]}")
                continue
            if key in reported:
                errors.append(f"interaction verified twice: {key[0]}: {key[1]}")
            reported[key] = item
    state_reasons = _state_reasons(results.get("state_failures") or [])
    criteria = [_criterion(i, reported.get(i.key), state_reasons) for i in expected]
    missing = [c.name for c, i in zip(criteria, expected, strict=True) if i.key not in reported]
    if missing:
        errors.append(
            f"verified {len(reported)} of {len(expected)} interactions; not verified: "
            + "; ".join(missing[:5])
            + (" ..." if len(missing) > 5 else "")
        )
    if unexpected:
        errors.append(
            "verifier reported interactions the pacts do not hold: "
            + "; ".join(sorted(unexpected)[:5])
        )
    if criteria and all(c.status is Status.FAIL and _unreachable(c.reason) for c in criteria):
        errors.append(f"the provider could not be reached: {criteria[0].reason}")
    left = [str(line) for line in results.get("cleanup_left") or []]
    if left:
        criteria.append(
            CriterionResult(
                name="provider-state test data removed",
                status=Status.ERROR,
                reason="could not remove: " + "; ".join(left[:5]),
            )
        )
    if not expected:
        errors.append("no interactions to verify")
    failed = sum(1 for c in criteria if c.status is Status.FAIL)
    return Judgement(
        criteria=tuple(criteria),
        expected=len(expected),
        verified=len(reported),
        failed=failed,
        error="; ".join(errors),
        durations_s=tuple(durations),
    )


_UNREACHABLE = ("error sending request", "registry unreachable", "Connection refused")


def _unreachable(reason: str) -> bool:
    """A failure where no answer came back: nothing about the contract was learnt."""
    return any(marker in reason for marker in _UNREACHABLE)


def _state_reasons(failures: Iterable[object]) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for failure in failures:
        if isinstance(failure, dict):
            reasons.setdefault(str(failure.get("state", "")), str(failure.get("reason", "")))
    return reasons


def _criterion(
    interaction: Interaction, item: dict[str, Any] | None, state_reasons: dict[str, str]
) -> CriterionResult:
    name = interaction.criterion_name()
    if item is None:
        return CriterionResult(name=name, status=Status.ERROR, reason="not verified")
    mismatches = tuple(
        Mismatch(
            path=str(m.get("path", "")),
            expected=str(m.get("expected", "")),
            actual=str(m.get("actual", "")),
            kind=str(m.get("kind", "")),
        )
        for m in item.get("mismatches") or []
        if isinstance(m, dict)
    )
    if item.get("result") == "ok":
        return CriterionResult(name=name, status=Status.PASS, observed="verified")
    reasons = [
        f"provider state {state.name!r} could not be set up: {state_reasons[state.name]}"
        for state in interaction.states
        if state.name in state_reasons
    ]
    reasons += [_describe(m) for m in item.get("mismatches") or [] if isinstance(m, dict)]
    reason = "; ".join(r for r in reasons if r) or "verification failed"
    if item.get("pending"):
        return CriterionResult(
            name=name,
            status=Status.SKIPPED,
            observed="failed (pending pact)",
            reason=f"pending pact, does not fail the build: {reason}",
            mismatches=mismatches,
        )
    return CriterionResult(
        name=name, status=Status.FAIL, observed="mismatch", reason=reason, mismatches=mismatches
    )


def _describe(mismatch: dict[str, Any]) -> str:
    path = mismatch.get("path") or ""
    message = mismatch.get("message") or (
        f"expected {mismatch.get('expected')} but was {mismatch.get('actual')}"
    )
    return f"{path}: {message}" if path else str(message)
