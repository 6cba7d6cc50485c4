"""A platform the suite's own script starts and stops (``target.external.launcher``).

``up`` runs with ``{dir}`` replaced by a directory the harness owns
(``<state dir>/platforms/<id>``) and must leave ``{dir}/manifest.json`` with
``services.NAME.url`` for the services it started; ``down`` runs on every path out
(shielded from cancellation), also when ``up`` failed halfway; a lease written before
``up`` lets ``harness recover`` (and the next run) run ``down`` after a killed run.
``HARNESS_PLATFORM_DIR`` is that directory (for ``${HARNESS_PLATFORM_DIR}`` in
``local_processes`` paths).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.config.services import LauncherSpec
from harness.paths import state_dir
from harness.process import run_to_end
from harness.targets.errors import TargetUnavailable
from wholefile import write_atomically

DOWN_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Launched:
    directory: Path
    urls: dict[str, str]


def _argv(template: Sequence[str], directory: Path) -> list[str]:
    return [part.replace("{dir}", str(directory)) for part in template]


def read_urls(manifest_path: Path) -> dict[str, str]:
    try:
        data = json.loads(manifest_path.read_text())
        services = data["services"]
        return {str(name): str(entry["url"]) for name, entry in services.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TargetUnavailable(
            f"launcher wrote no usable {manifest_path} (services.NAME.url): {exc}"
        ) from None


async def _run(
    argv: list[str], directory: Path, base_dir: Path, name: str, timeout_s: float
) -> str:
    """Run one launcher command; '' when it succeeded, else why not."""
    try:
        finished = await run_to_end(
            argv,
            cwd=base_dir,
            stdout_path=directory / f"launcher-{name}.stdout.log",
            stderr_path=directory / f"launcher-{name}.stderr.log",
            timeout_s=timeout_s,
        )
    except OSError as exc:
        return f"launcher {name} {argv[0]!r} could not start: {exc}"
    if finished.timed_out:
        return f"launcher {name} did not finish within {timeout_s:g} s"
    if finished.returncode != 0:
        tail = finished.tail(3).replace("\n", " | ")
        return f"launcher {name} exited with code {finished.returncode}: {tail}"
    return ""


def leases_dir() -> Path:
    return state_dir() / "platform-leases"


def take_lease(directory: Path, down: list[str], base_dir: Path) -> Path:
    """Record (fsynced, before ``up``) that this process owns the platform in ``directory``
    and how to stop it: a harness killed with SIGKILL cannot run ``down`` itself."""
    me = psutil.Process()
    record = {
        "owner_pid": me.pid,
        "owner_started": me.create_time(),
        "directory": str(directory),
        "down": down,
        "base_dir": str(base_dir),
    }
    path = leases_dir() / f"{directory.name}.json"
    write_atomically(path, json.dumps(record), durable=True)
    return path


def reap_orphaned_platforms() -> list[str]:
    """Run ``down`` for every launched platform whose harness run died; one line each."""
    lines: list[str] = []
    for path in sorted(leases_dir().glob("*.json")):
        try:
            record = json.loads(path.read_text())
            owner = psutil.Process(int(record["owner_pid"]))
            if abs(owner.create_time() - float(record["owner_started"])) < 1.0:
                continue  # its run is still going
        except psutil.Error:
            pass  # the owner is dead
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [str(part) for part in record["down"]], cwd=record["base_dir"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                timeout=DOWN_TIMEOUT_S, check=False,
            )  # fmt: skip
        path.unlink(missing_ok=True)
        lines.append(f"platform {record['directory']}: stopped (its harness run was killed)")
    return lines


@asynccontextmanager
async def launched(spec: LauncherSpec, base_dir: Path) -> AsyncIterator[Launched]:
    directory = state_dir() / "platforms" / uuid.uuid4().hex[:12]
    directory.mkdir(parents=True)
    lease = take_lease(directory, _argv(spec.down, directory), base_dir)
    try:
        reason = await _run(_argv(spec.up, directory), directory, base_dir, "up", spec.timeout)
        if reason:
            raise TargetUnavailable(reason)
        yield Launched(directory, read_urls(directory / "manifest.json"))
    finally:
        down = _run(_argv(spec.down, directory), directory, base_dir, "down", DOWN_TIMEOUT_S)
        await asyncio.shield(down)
        lease.unlink(missing_ok=True)
