"""The child process a step runs its tool in (the pact verifier, the api driver): its
PYTHONPATH, its time budget within the step's deadline, and its run to the end with the
given output files masked of secrets afterwards, on every path."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import harness
from harness.process import Finished, run_to_end

HARNESS_ROOT = Path(harness.__file__).resolve().parent.parent
GRACE_S = 2.0
"""SIGTERM -> SIGKILL grace of the child; also what its budget leaves before the deadline."""


def child_pythonpath(*extra: Path) -> str:
    """The harness's own root, then ``extra``, then the caller's PYTHONPATH (no repeats)."""
    entries = [str(HARNESS_ROOT), *map(str, extra)]
    entries += filter(None, [os.environ.get("PYTHONPATH")])
    return os.pathsep.join(dict.fromkeys(entries))


def child_timeout_s(step_timeout_s: float, deadline_s: float) -> float:
    """What the child may take: the step's timeout or deadline, less the grace to reap it."""
    return max(1.0, min(step_timeout_s, deadline_s) - GRACE_S)


def redact_file(path: Path, secrets: Sequence[str]) -> None:
    """Mask every secret in ``path`` (longest first) with ``***``; a missing file is fine."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    cleaned = text
    for secret in sorted(secrets, key=len, reverse=True):
        cleaned = cleaned.replace(secret, "***")
    if cleaned != text:
        path.write_text(cleaned, encoding="utf-8")


async def run_child(
    argv: Sequence[str],
    *,
    cwd: Path,
    stdout_path: Path,
    stderr_path: Path,
    timeout_s: float,
    env: Mapping[str, str],
    secrets: Sequence[str],
    redact: Sequence[Path],
) -> Finished:
    """Run the child to its end or ``timeout_s``; mask ``secrets`` in ``redact`` after,
    also when cancelled."""
    try:
        return await run_to_end(
            argv, cwd=cwd, stdout_path=stdout_path, stderr_path=stderr_path,
            timeout_s=timeout_s, env=env, grace_s=GRACE_S,
        )  # fmt: skip
    finally:
        for path in redact:
            redact_file(path, secrets)
