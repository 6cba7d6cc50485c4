"""The local target: the embedded testbed, started for the run and torn down after.

``python -m testbed up`` starts the services in their own sessions, waits until
they are ready, writes the manifest and exits; ``python -m testbed down`` stops
everything the manifest lists. Tear-down is shielded: it runs on failure and on
Ctrl-C too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from harness.config.suite import TestbedSpec
from harness.process import run_to_end, spawned
from harness.target import Target, Tokens
from harness.targets.errors import TargetUnavailable
from harness.targets.leases import (
    LeaseHeld,
    reap_strays,
    release_lease,
    remove_testbed_state,
    take_lease,
    testbed_state_dir,
)
from wholefile import write_atomically

DOWN_TIMEOUT_S = 60.0
UP_INTERRUPT_GRACE_S = 15.0
REDACTED = "<redacted>"


TESTBED_NEEDS = ("fastapi", "uvicorn", "gunicorn", "sklearn")
"""What ``python -m testbed`` imports beyond the harness's own dependencies."""


def testbed_missing() -> str | None:
    """One line saying how to install the embedded testbed, when it is not installed."""
    missing = [name for name in TESTBED_NEEDS if importlib.util.find_spec(name) is None]
    if importlib.util.find_spec("testbed") is None:
        missing.insert(0, "testbed")
    if not missing:
        return None
    return (
        f"the local target needs the embedded testbed ({', '.join(missing)} not installed): "
        "pip install 'harness[testbed]' (in a checkout: pip install '.[testbed]'), "
        "or run with --target external"
    )


def fault_spec_problems(specs: Sequence[str]) -> list[tuple[int, str]]:
    """(index, message) for each local testbed fault switch the testbed would refuse."""
    if not specs:
        return []
    try:
        from testbed.faults import FaultSpecError, parse_fault_spec
    except ImportError:  # the testbed is not installed: ``testbed up`` will say
        return []
    problems: list[tuple[int, str]] = []
    for index, spec in enumerate(specs):
        try:
            parse_fault_spec(spec)
        except FaultSpecError as exc:
            problems.append((index, str(exc)))
    return problems


def up_argv(spec: TestbedSpec, testbed_dir: Path, extra_faults: tuple[str, ...]) -> list[str]:
    argv = [
        sys.executable, "-m", "testbed", "up",
        "--manifest", str(testbed_dir / "manifest.json"),
        "--state-dir", str(testbed_dir),
        "--replicas", str(spec.replicas),
    ]  # fmt: skip
    for fault in (*spec.faults, *extra_faults):
        argv += ["--fault", fault]
    if spec.database_url:
        argv += ["--database-url", spec.database_url]
    if spec.rate_limit_rps is not None:
        argv += ["--rate-limit", f"{spec.rate_limit_rps:g}"]
    return argv


@asynccontextmanager
async def local_target(
    spec: TestbedSpec,
    report_dir: Path,
    base_dir: Path,
    extra_faults: tuple[str, ...] = (),
    run_id: str = "",
) -> AsyncIterator[Target]:
    """The testbed's state (tokens, live manifest, database) lives in the harness state
    dir for the run; the report dir gets its logs and a redacted manifest."""
    testbed_dir = testbed_state_dir(run_id or _key_of(report_dir)).resolve()
    testbed_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = testbed_dir / "manifest.json"
    try:
        lease = await asyncio.to_thread(take_lease, testbed_dir, run_id)
    except LeaseHeld as exc:
        raise TargetUnavailable(str(exc)) from None
    report_testbed = report_dir / "testbed"
    try:
        await _start(spec, testbed_dir, base_dir, extra_faults)
        await asyncio.to_thread(write_redacted_manifest, manifest_path, report_testbed)
        yield target_from_manifest(manifest_path)
    finally:
        await asyncio.shield(_tear_down(manifest_path, testbed_dir, base_dir))
        await asyncio.shield(asyncio.to_thread(_keep_logs, testbed_dir, report_testbed))
        release_lease(lease)


def _key_of(report_dir: Path) -> str:
    return hashlib.sha256(str(report_dir.resolve()).encode()).hexdigest()[:16]


def write_redacted_manifest(manifest_path: Path, report_testbed: Path) -> None:
    """The manifest without its secrets (tokens, the tokens file), for the report."""
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(manifest_path.read_text())
        data["tokens"] = {name: REDACTED for name in data.get("tokens") or {}}
        data["tokens_file"] = REDACTED
        write_atomically(report_testbed / "manifest.json", json.dumps(data, indent=2) + "\n")


def _keep_logs(testbed_dir: Path, report_testbed: Path) -> None:
    """Copy the testbed's logs into the report, then delete its state (tokens included)."""
    for log in sorted(testbed_dir.rglob("*.log")):
        target = report_testbed / log.relative_to(testbed_dir)
        with contextlib.suppress(OSError):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, target)
    remove_testbed_state(testbed_dir)


async def _start(
    spec: TestbedSpec, testbed_dir: Path, base_dir: Path, extra_faults: tuple[str, ...]
) -> None:
    """Run ``testbed up`` to its end. Interrupted (deadline, Ctrl-C), it gets SIGINT
    first: ``up`` then stops the services it already started (on SIGTERM it would die
    at once and leave them behind)."""
    timeout_s = spec.ready_timeout + 15.0
    stdout_path, stderr_path = testbed_dir / "up.stdout.log", testbed_dir / "up.stderr.log"
    async with spawned(
        up_argv(spec, testbed_dir, extra_faults),
        cwd=base_dir,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        env=_env(base_dir),
    ) as proc:
        try:
            async with asyncio.timeout(timeout_s):
                returncode = await proc.wait()
        except TimeoutError:
            await _interrupt(proc)
            raise TargetUnavailable(
                f"testbed did not come up within {timeout_s:g} s\n{_tail(stderr_path)}"
            ) from None
        except asyncio.CancelledError:
            await asyncio.shield(_interrupt(proc))
            raise
    if returncode != 0:
        raise TargetUnavailable(f"testbed up exited with {returncode}\n{_tail(stderr_path)}")


async def _interrupt(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGINT)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), UP_INTERRUPT_GRACE_S)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _env(base_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(base_dir), env.get("PYTHONPATH")]))
    return env


def target_from_manifest(path: Path) -> Target:
    try:
        data: Any = json.loads(path.read_text())
        services = data["services"]
        tokens = data.get("tokens") or {}
        return Target(
            kind="local",
            registry_url=str(services["registry"]["url"]),
            serving_url=str(services["serving"]["url"]),
            orchestrator_url=str(services["orchestrator"]["url"]),
            tokens=Tokens(
                read=str(tokens.get("read", "")),
                write=str(tokens.get("write", "")),
                admin=str(tokens.get("admin", "")),
            ),
            manifest_path=path,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TargetUnavailable(f"unreadable testbed manifest {path}: {exc!r}") from None


async def _tear_down(manifest_path: Path, testbed_dir: Path, base_dir: Path) -> None:
    if await asyncio.to_thread(manifest_path.exists):
        with contextlib.suppress(OSError):
            await run_to_end(
                [sys.executable, "-m", "testbed", "down", "--manifest", str(manifest_path)],
                cwd=base_dir,
                stdout_path=testbed_dir / "down.stdout.log",
                stderr_path=testbed_dir / "down.stderr.log",
                timeout_s=DOWN_TIMEOUT_S,
                env=_env(base_dir),
            )
    await asyncio.to_thread(reap_strays, testbed_dir)
