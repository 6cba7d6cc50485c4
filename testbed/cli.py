"""``python -m testbed up | down | status``: start, stop and inspect the embedded testbed.

Exit codes: ``up`` 0 started, 2 bad input or a service did not come up (nothing left
running); ``down`` 0 (also when nothing ran); ``status`` 0 all up, 1 something down,
2 no manifest.

For programs: ``await start_testbed(TestbedOptions(...))`` returns the Manifest (raises
TestbedError), ``stop_testbed(manifest_path)``, ``testbed_health(manifest)``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from testbed.faults import (
    Fault,
    FaultSpecError,
    FaultState,
    build_fault_state,
    parse_fault_specs,
    registry_faults,
    serving_faults,
)
from testbed.manifest import (
    Manifest,
    ManifestError,
    ManifestTokens,
    Pod,
    ServiceEntry,
    Services,
    ServingEntry,
    live_pods,
    load_manifest,
    write_manifest,
)
from testbed.processes import (
    ServiceProcess,
    free_port,
    is_running,
    log_tail,
    start_service,
    stop_service,
)
from testbed.serving.deployment import (
    DeploymentError,
    ServingDeployment,
    set_serving_faults,
    start_serving,
    wait_serving_ready,
)
from testbed.serving.golden import golden_set_path

STATE_DIR_ENV = "TESTBED_STATE_DIR"
READY_TIMEOUT_S = 60.0
PORT_ATTEMPTS = 3
_PORT_TAKEN = re.compile(r"address already in use|connection in use", re.IGNORECASE)


class TestbedError(Exception):
    """Bad input, or the testbed could not be started (message fit for a user)."""

    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class TestbedOptions:
    __test__ = False

    state_dir: Path
    manifest_path: Path
    replicas: int = 2
    faults: tuple[str, ...] = ()
    database_url: str | None = None
    rate_limit_rps: float | None = None
    ready_timeout_s: float = READY_TIMEOUT_S
    env: dict[str, str] = field(default_factory=dict)


def default_state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV) or Path.cwd() / ".testbed").resolve()


def _write_tokens(path: Path) -> ManifestTokens:
    tokens = ManifestTokens(
        read=secrets.token_urlsafe(24),
        write=secrets.token_urlsafe(24),
        admin=secrets.token_urlsafe(24),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(tokens.model_dump(), out)
    os.chmod(path, 0o600)
    return tokens


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


async def _wait_http_ready(
    name: str, url: str, process: ServiceProcess, timeout_s: float, probe: str = "/ready"
) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            if not is_running(process.pid, process.create_time):
                raise TestbedError(
                    f"{name} exited during start-up; log tail ({process.log_path}):\n"
                    + log_tail(process.log_path)
                )
            try:
                response = await client.get(f"{url}{probe}")
                if response.status_code == 200:
                    return
                last = f"GET {probe} answered {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = f"GET {probe} failed: {exc!r}"
            if time.monotonic() >= deadline:
                raise TestbedError(
                    f"{name} not ready within {timeout_s:g}s ({last}); log tail "
                    f"({process.log_path}):\n" + log_tail(process.log_path)
                )
            await asyncio.sleep(0.1)


def _entry(url: str, process: ServiceProcess) -> ServiceEntry:
    return ServiceEntry(
        url=url, pid=process.pid, log=str(process.log_path), create_time=process.create_time
    )


def _refuse_if_running(manifest_path: Path) -> None:
    if not manifest_path.exists():
        return
    try:
        manifest = load_manifest(manifest_path)
    except ManifestError:
        manifest_path.unlink()  # unreadable leftover: nothing we can stop through it
        return
    if any(is_running(e.pid, e.create_time) for e in _entries(manifest)):
        raise TestbedError(
            f"a testbed is already running (manifest {manifest_path}); "
            "run `python -m testbed down` first"
        )
    manifest_path.unlink()


def _entries(manifest: Manifest) -> list[ServiceEntry]:
    s = manifest.services
    return [s.orchestrator, s.serving, s.registry]


async def start_testbed(options: TestbedOptions) -> Manifest:
    """Start registry, serving and orchestrator; wait until ready; write the manifest.

    On any failure everything started is stopped and TestbedError says why.
    """
    rate = options.rate_limit_rps
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise TestbedError(f"--rate-limit must be a positive number of requests/s, got {rate}")
    try:
        faults = parse_fault_specs(options.faults)
        fault_state = build_fault_state(
            [f.to_spec() for f in serving_faults(faults)], options.rate_limit_rps
        )
    except FaultSpecError as exc:
        raise TestbedError(str(exc)) from None
    if options.replicas < 1:
        raise TestbedError(f"--replicas must be at least 1, got {options.replicas}")
    _refuse_if_running(options.manifest_path)
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            return await _launch(options, faults, fault_state)
        except TestbedError as exc:
            # A port picked free was taken before the service bound it: pick new ones.
            if attempt == PORT_ATTEMPTS or not _PORT_TAKEN.search(str(exc)):
                raise
    raise AssertionError("unreachable")


async def _launch(
    options: TestbedOptions, faults: tuple[Fault, ...], fault_state: FaultState
) -> Manifest:
    state_dir = options.state_dir
    logs = state_dir / "logs"
    tokens_file = state_dir / "tokens.json"
    tokens = _write_tokens(tokens_file)
    env = _child_env(options.env)
    started: list[ServiceProcess] = []
    try:
        registry_port, serving_port, orchestrator_port = free_port(), free_port(), free_port()
        registry_url = f"http://127.0.0.1:{registry_port}"
        registry_argv = [
            sys.executable, "-m", "testbed.registry",
            "--host", "127.0.0.1", "--port", str(registry_port),
            "--tokens-file", str(tokens_file),
            "--state-dir", str(state_dir / "registry"),
        ]  # fmt: skip
        if options.database_url:
            registry_argv += ["--database-url", options.database_url]
        for fault in registry_faults(faults):
            registry_argv += ["--fault", fault.name]
        registry = start_service(
            registry_argv, log_path=logs / "registry.log", env=env, cwd=state_dir
        )
        started.append(registry)
        # The orchestrator's /ready asks the registry, so all three can boot at once; the
        # model is trained meanwhile.
        orchestrator_url = f"http://127.0.0.1:{orchestrator_port}"
        orchestrator = start_service(
            [
                sys.executable, "-m", "testbed.orchestrator",
                "--host", "127.0.0.1", "--port", str(orchestrator_port),
                "--registry-url", registry_url,
                "--token-file", str(tokens_file),
            ],
            log_path=logs / "orchestrator.log",
            env=env,
            cwd=state_dir,
        )  # fmt: skip
        started.append(orchestrator)
        serving: ServingDeployment = start_serving(
            state_dir,
            port=serving_port,
            replicas=options.replicas,
            tokens_file=tokens_file,
            registry_url=registry_url,
        )
        started.append(serving.process)
        # Written before the wait: an `up` killed from here on still leaves a manifest that
        # `down` can stop everything with ("complete": false until all is ready).
        manifest = Manifest(
            state_dir=str(state_dir),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            services=Services(
                registry=_entry(registry_url, registry),
                serving=ServingEntry(
                    **_entry(serving.url, serving.process).model_dump(),
                    replicas=options.replicas,
                    pods_dir=str(serving.settings.pods_dir),
                    golden_set=str(golden_set_path(serving.settings.model_source_path)),
                ),
                orchestrator=_entry(orchestrator_url, orchestrator),
            ),
            tokens=tokens,
            tokens_file=str(tokens_file),
            pods=[],
            faults=[f.to_spec() for f in faults],
            fault_state_path=str(serving.settings.fault_state_path),
            rate_limit_rps=options.rate_limit_rps,
            complete=False,
        )
        write_manifest(options.manifest_path, manifest)
        timeout_s = options.ready_timeout_s
        # With db-down the registry (and the orchestrator, which asks it) is meant to be
        # unready: then being up and answering /health is what we wait for.
        db_down = any(f.name == "db-down" for f in faults)
        probe = "/health" if db_down else "/ready"
        try:
            async with asyncio.TaskGroup() as group:  # the first failure cancels the others
                group.create_task(
                    _wait_http_ready("registry", registry_url, registry, timeout_s, probe)
                )
                group.create_task(wait_serving_ready(serving, timeout_s))
                group.create_task(
                    _wait_http_ready(
                        "orchestrator", orchestrator_url, orchestrator, timeout_s, probe
                    )
                )
        except* (TestbedError, DeploymentError) as failed:
            raise TestbedError(str(failed.exceptions[0])) from None
        # After the first deploy: only now may `fragile` evict the deployed artifact.
        set_serving_faults(serving.settings, fault_state)

        manifest = manifest.model_copy(
            update={
                "pods": live_pods(manifest),
                "complete": True,
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        write_manifest(options.manifest_path, manifest)
        return manifest
    except BaseException:
        for process in reversed(started):
            stop_service(process.pid, process.create_time, grace_s=5.0)
        options.manifest_path.unlink(missing_ok=True)
        raise


def stop_testbed(manifest_path: Path) -> list[str]:
    """Stop everything the manifest lists and remove it; the names of what was running."""
    manifest = load_manifest(manifest_path)
    stopped: list[str] = []
    pod_pids = [pod.pid for pod in live_pods(manifest)] + [pod.pid for pod in manifest.pods]
    for name in ("orchestrator", "serving", "registry"):
        entry: ServiceEntry = getattr(manifest.services, name)
        extra = pod_pids if name == "serving" else []
        if stop_service(entry.pid, entry.create_time, grace_s=8.0, extra_pids=extra):
            stopped.append(name)
    manifest_path.unlink(missing_ok=True)
    return stopped


@dataclass(frozen=True)
class ServiceHealth:
    name: str
    url: str
    pid: int
    running: bool
    healthy: bool
    detail: str


async def testbed_health(manifest: Manifest, timeout_s: float = 2.0) -> list[ServiceHealth]:
    async def probe(name: str, entry: ServiceEntry, client: httpx.AsyncClient) -> ServiceHealth:
        running = is_running(entry.pid, entry.create_time)
        if not running:
            return ServiceHealth(name, entry.url, entry.pid, False, False, "process not running")
        try:
            response = await client.get(f"{entry.url}/health")
            ok = response.status_code == 200
            return ServiceHealth(
                name, entry.url, entry.pid, True, ok, f"/health {response.status_code}"
            )
        except httpx.HTTPError as exc:
            return ServiceHealth(
                name, entry.url, entry.pid, True, False, f"/health failed: {exc!r}"
            )

    s = manifest.services
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        return list(
            await asyncio.gather(
                probe("registry", s.registry, client),
                probe("serving", s.serving, client),
                probe("orchestrator", s.orchestrator, client),
            )
        )


# ---- command line -----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m testbed", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the testbed and write the manifest")
    up.add_argument("--manifest", type=Path, default=None, help="default: STATE_DIR/manifest.json")
    up.add_argument("--replicas", type=int, default=2, help="serving replicas (default 2)")
    up.add_argument(
        "--fault", action="append", default=[], metavar="SPEC", help="NAME[:key=value,...]"
    )
    up.add_argument(
        "--state-dir", type=Path, default=None, help=f"default: ${STATE_DIR_ENV} or ./.testbed"
    )
    up.add_argument("--database-url", default=None, help="registry database (default SQLite)")
    up.add_argument("--rate-limit", type=float, default=None, metavar="RPS")
    for name, text in (("down", "stop everything the manifest lists"), ("status", "what runs")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--manifest", type=Path, default=None)
    return parser


def _manifest_path(arg: Path | None, state_dir: Path | None = None) -> Path:
    if arg is not None:
        return arg.resolve()
    return (state_dir or default_state_dir()) / "manifest.json"


def _print_pods(pods: Sequence[Pod]) -> None:
    for pod in pods:
        ready = {True: "ready", False: "NOT READY", None: "?"}[pod.ready]
        print(f"  pod {pod.name:<18} pid {pod.pid:<7} {ready}")


def _up(args: argparse.Namespace) -> int:
    if args.state_dir is not None:
        state_dir = args.state_dir.resolve()
    elif args.manifest is not None and STATE_DIR_ENV not in os.environ:
        state_dir = args.manifest.resolve().parent
    else:
        state_dir = default_state_dir()
    options = TestbedOptions(
        state_dir=state_dir,
        manifest_path=_manifest_path(args.manifest, state_dir),
        replicas=args.replicas,
        faults=tuple(args.fault),
        database_url=args.database_url,
        rate_limit_rps=args.rate_limit,
    )
    try:
        manifest = asyncio.run(start_testbed(options))
    except TestbedError as exc:
        print(f"testbed up: {exc}", file=sys.stderr)
        return 2
    s = manifest.services
    print(f"testbed up (manifest {options.manifest_path})")
    print(f"  registry      {s.registry.url}  pid {s.registry.pid}")
    print(f"  serving       {s.serving.url}  pid {s.serving.pid}  replicas {s.serving.replicas}")
    print(f"  orchestrator  {s.orchestrator.url}  pid {s.orchestrator.pid}")
    _print_pods(manifest.pods)
    if manifest.faults or manifest.rate_limit_rps:
        print(
            f"  faults: {', '.join(manifest.faults) or '-'}; rate limit: {manifest.rate_limit_rps}"
        )
    return 0


def _down(args: argparse.Namespace) -> int:
    path = _manifest_path(args.manifest)
    if not path.exists():
        print(f"testbed down: nothing running (no manifest at {path})")
        return 0
    try:
        stopped = stop_testbed(path)
    except ManifestError as exc:
        print(f"testbed down: {exc}", file=sys.stderr)
        return 2
    if stopped:
        print(f"testbed down: stopped {', '.join(stopped)}")
    else:
        print("testbed down: nothing was running; manifest removed")
    return 0


def _status(args: argparse.Namespace) -> int:
    path = _manifest_path(args.manifest)
    try:
        manifest = load_manifest(path)
    except ManifestError as exc:
        print(f"testbed status: {exc}", file=sys.stderr)
        return 2
    health = asyncio.run(testbed_health(manifest))
    pods = live_pods(manifest)
    print(f"testbed (manifest {path}, started {manifest.started_at})")
    if not manifest.complete:
        print("  (incomplete: `up` has not finished, or was killed before all was ready)")
    for item in health:
        state = "up" if item.healthy else "DOWN"
        print(f"  {item.name:<13} {state:<5} {item.url}  pid {item.pid}  ({item.detail})")
    print(f"  pods: {len(pods)}/{manifest.services.serving.replicas}")
    _print_pods(pods)
    if manifest.faults:
        print(f"  faults at up: {', '.join(manifest.faults)}")
    all_up = (
        all(item.healthy for item in health) and len(pods) >= manifest.services.serving.replicas
    )
    return 0 if all_up and manifest.complete else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"up": _up, "down": _down, "status": _status}
    return handlers[args.command](args)
