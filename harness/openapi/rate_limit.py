"""Runs in the driver child only: a bounded burst above the rate limit, then recovery.

``burst`` requests are sent at once from ``concurrency`` threads (127.0.0.1 targets
only in the project's own runs). Some must answer 429; a 429 that carries
``Retry-After`` must carry a valid one (seconds or an HTTP date); none may be a 5xx or a
hang. Then, after the advised wait (``Retry-After``, else one second), requests sent one
at a time must be served again within ``recover_within``."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Any

from harness.openapi.results import CheckReport, Finding
from harness.openapi.sender import Answer, Sender
from harness.openapi.spec import RateLimitOptions

RECOVERY_REQUESTS = 3


def rate_limit(
    options: RateLimitOptions, base_url: str, token: str, timeout_s: float, secrets: tuple[str, ...]
) -> CheckReport:
    label = f"{options.method} {options.path}"
    request: dict[str, Any] = {"method": options.method, "url": base_url.rstrip("/") + options.path}
    request["headers"] = {"Authorization": f"Bearer {token}"} if token else {}
    if options.json_body is not None:
        request["json"] = options.json_body
    senders = [Sender(timeout_s, secrets) for _ in range(options.concurrency)]
    try:
        burst, spent_s = _burst(senders, label, request, options.burst)
        findings = _judge_burst(label, burst, spent_s)
        limited = [a for a in burst if a.status == 429]
        too_slow = _too_slow(options, len(burst), spent_s)
        if not limited and too_slow:
            return CheckReport("rate_limit", "error", len(burst), too_slow)
        if limited and not findings:
            findings += _recovery(senders[0], label, request, limited, options.recover_within)
    finally:
        for sender in senders:
            sender.close()
    counts = Counter(str(a.status) if a.status else "no answer" for a in burst)
    detail = (
        f"burst of {len(burst)} requests in {spent_s:.2f}s "
        f"({len(burst) / max(spent_s, 1e-6):.0f} req/s): "
        + ", ".join(f"{n} x {s}" for s, n in sorted(counts.items()))
    )
    return CheckReport(
        "rate_limit", "fail" if findings else "pass", len(burst), detail, tuple(findings)
    )


def _too_slow(options: RateLimitOptions, sent: int, spent_s: float) -> str:
    """Why the burst proves nothing (it could not outpace ``limit_rps``), or ""."""
    if options.limit_rps is None:
        return ""
    allowed = max(1.0, options.limit_rps) + options.limit_rps * spent_s  # bucket + refill
    if sent > allowed:
        return ""
    return (
        f"a burst of {sent} requests took {spent_s:.2f}s: a {options.limit_rps:g}/s limit "
        f"allows {allowed:.0f} in that time, so it could not be exceeded (raise burst)"
    )


def _burst(
    senders: list[Sender], label: str, request: dict[str, Any], count: int
) -> tuple[list[Answer], float]:
    """``count`` requests, each sender (one connection) in its own thread."""

    def send_share(index: int) -> list[Answer]:
        share = range(index, count, len(senders))
        return [senders[index].send(label, **request) for _ in share]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        shares = list(pool.map(send_share, range(len(senders))))
    return [answer for share in shares for answer in share], time.monotonic() - started


def _judge_burst(label: str, burst: list[Answer], spent_s: float) -> list[Finding]:
    findings: list[Finding] = []
    broken = next((a for a in burst if a.hung or (a.status or 0) >= 500), None)
    if broken is not None:
        why = broken.error if broken.hung else f"answered {broken.status}"
        findings.append(broken.finding(f"during the burst: {why}"))
    limited = [a for a in burst if a.status == 429]
    if not limited:
        findings.append(
            burst[-1].finding(
                f"{len(burst)} requests in {spent_s:.2f}s and none answered 429: no rate limit"
            )
        )
    for answer in limited:
        value = _header(answer, "retry-after")
        if value is not None and _retry_after_s(value) is None:
            findings.append(answer.finding(f"429 with an invalid Retry-After {value!r}"))
            break
    return findings


def _recovery(
    sender: Sender, label: str, request: dict[str, Any], limited: list[Answer], within_s: float
) -> list[Finding]:
    advised = [_retry_after_s(v) for a in limited if (v := _header(a, "retry-after"))]
    wait_s = min(max([a for a in advised if a is not None] or [1.0]), within_s)
    time.sleep(wait_s)
    deadline = time.monotonic() + within_s - wait_s
    served = 0
    last: Answer | None = None
    while served < RECOVERY_REQUESTS:
        last = sender.send(label, **request)
        if last.status is not None and 200 <= last.status < 300:
            served += 1
        else:
            served = 0
            if time.monotonic() >= deadline:
                what = last.error or f"answered {last.status}"
                return [last.finding(f"not served again {within_s:g}s after the burst: {what}")]
        time.sleep(0.2)
    return []


def _header(answer: Answer, name: str) -> str | None:
    return next((v for k, v in answer.headers.items() if k.lower() == name), None)


def _retry_after_s(value: str) -> float | None:
    """Seconds a Retry-After value asks for; None when it is neither seconds nor a date."""
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
