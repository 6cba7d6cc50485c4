"""Child processes the harness owns: started in their own process group, output
drained to files, and always reaped (SIGTERM -> grace -> SIGKILL to the group),
on every path: normal end, deadline, crash, cancellation (Ctrl-C).

Children also get PR_SET_PDEATHSIG(SIGTERM) on Linux, so a harness that is
killed with SIGKILL does not leave its tools running (they get SIGTERM and, for
``chaos run`` with the ``always`` strategy, still roll back). That is not enough on
its own: what a child forks (Locust's ``--processes`` workers, gunicorn workers) does
not inherit it, and a tool killed by it before it set its own handlers leaves its
forks behind. So inside a run every child is also marked and its group recorded
(:mod:`harness.run_processes`), and ``harness recover`` stops what a dead run left
(:mod:`harness.orphans`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.run_processes import child_env, record_spawn

_PR_SET_PDEATHSIG = 1


def _set_parent_death_signal(parent_pid: int) -> None:  # runs in the child, before exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the harness died before the prctl: no signal
            os._exit(1)  # will come, so do not start the tool at all


def _parent_death_signal() -> functools.partial[None]:
    return functools.partial(_set_parent_death_signal, os.getpid())


@dataclass(frozen=True)
class Finished:
    """How a child ended. ``returncode`` is negative for a signal (as in asyncio)."""

    returncode: int
    timed_out: bool
    stdout_path: Path
    stderr_path: Path

    def tail(self, lines: int = 20) -> str:
        """Last lines of stderr (then stdout) for a one-line reason."""
        for path in (self.stderr_path, self.stdout_path):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").strip()
                if text:
                    return "\n".join(text.splitlines()[-lines:])
        return ""


async def terminate(proc: asyncio.subprocess.Process, grace_s: float = 5.0) -> None:
    """SIGTERM the child's process group, wait ``grace_s``, then SIGKILL it. Idempotent."""
    if proc.returncode is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace_s)
        except TimeoutError:
            pass
    # The leader may be gone while group members (e.g. locust workers) linger.
    _signal_group(proc.pid, signal.SIGKILL)
    if proc.returncode is None:
        await proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@contextlib.asynccontextmanager
async def spawned(
    argv: Sequence[str],
    *,
    cwd: Path,
    stdout_path: Path,
    stderr_path: Path,
    env: Mapping[str, str] | None = None,
    grace_s: float = 5.0,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start ``argv``; on exit from the block, whatever the reason, reap it and its group."""
    stdout_path.parent.mkdir(parents=True, exist_ok=True)
    stderr_path.parent.mkdir(parents=True, exist_ok=True)
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=child_env(env),
            start_new_session=True,
            preexec_fn=_parent_death_signal(),
        )
        try:
            # Recorded (fsynced) as the tool starts; its env holds the run's mark already.
            await asyncio.shield(asyncio.to_thread(record_spawn, proc.pid, argv))
            yield proc
        finally:
            # Shielded: a cancelled step (Ctrl-C, deadline) still reaps its child.
            await asyncio.shield(terminate(proc, grace_s))


async def run_to_end(
    argv: Sequence[str],
    *,
    cwd: Path,
    stdout_path: Path,
    stderr_path: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    grace_s: float = 5.0,
) -> Finished:
    """Run a child to completion within ``timeout_s``; on time-out, reap it and say so."""
    async with spawned(
        argv, cwd=cwd, stdout_path=stdout_path, stderr_path=stderr_path, env=env, grace_s=grace_s
    ) as proc:
        try:
            returncode = await asyncio.wait_for(proc.wait(), timeout_s)
            timed_out = False
        except TimeoutError:
            await terminate(proc, grace_s)
            returncode = proc.returncode if proc.returncode is not None else -9
            timed_out = True
    return Finished(returncode, timed_out, stdout_path, stderr_path)


def venv_bin(name: str) -> str:
    """Path of a console script installed next to the running interpreter."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def run_blocking(
    argv: Sequence[str], *, cwd: Path, timeout_s: float, env: Mapping[str, str] | None = None
) -> tuple[int | None, str, str]:
    """For synchronous callers (suite validation): run ``argv`` in its own process group
    with a deadline; ``(returncode or None on time-out, stdout, stderr)``. The whole
    group is killed on every path."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=child_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
        preexec_fn=_parent_death_signal(),
    )
    try:
        record_spawn(proc.pid, argv)
        out, err = proc.communicate(timeout=timeout_s)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        return None, "", ""
    finally:
        _signal_group(proc.pid, signal.SIGKILL)  # also grandchildren left by the child
        if proc.returncode is None:
            proc.kill()
            proc.communicate()
