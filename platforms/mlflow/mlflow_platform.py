"""A real MLflow on 127.0.0.1: tracking server + model registry, and a scoring server of a
small registered model, for the harness to test (``suites/mlflow.yaml``).

    python platforms/mlflow/mlflow_platform.py up   --dir DIR   # prints the manifest path
    python platforms/mlflow/mlflow_platform.py up   --dir DIR --registry-only
    python platforms/mlflow/mlflow_platform.py down --dir DIR
    python platforms/mlflow/mlflow_platform.py venv             # only build the virtualenv

``up`` makes (once, cached by the hash of ``constraints.txt``) a virtualenv with the pinned
``mlflow`` and ``scikit-learn``, starts ``mlflow server`` (SQLite backend, its own process
group, job execution off: see :func:`platform_env`), trains and registers a small model
(``train.py``), starts ``mlflow models serve -m models:/NAME/1 --env-manager local
--workers 2`` (its own process group too), waits until both answer, and writes ``DIR/manifest.json``
(schema ``harness.platform/1``: service URLs, pids, the model). ``down`` stops both groups
(SIGTERM, then SIGKILL) and is safe to repeat. Everything MLflow writes to "the temp
directory" goes to ``DIR/tmp`` (its ``TMPDIR``), which ``down`` removes: nothing is left in
the machine's temp directory. Stdlib only: any Python >= 3.11 runs it.

The virtualenv lives in ``$HARNESS_MLFLOW_VENV``, else
``${XDG_CACHE_HOME:-~/.cache}/harness/mlflow-venv-<hash>``: outside the work tree, so fresh
clones and CI runs on the same machine reuse it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONSTRAINTS = HERE / "constraints.txt"
MANIFEST_SCHEMA = "harness.platform/1"
MODEL_NAME = "harness-demo-classifier"
START_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0


class PlatformError(RuntimeError):
    """The platform could not be brought up; the message says why."""


def venv_dir() -> Path:
    configured = os.environ.get("HARNESS_MLFLOW_VENV")
    if configured:
        return Path(configured)
    digest = hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "harness" / f"mlflow-venv-{digest}"


def ensure_venv(log: Path) -> Path:
    """The virtualenv with mlflow + scikit-learn (built once; a stamp marks it complete)."""
    venv = venv_dir()
    stamp = venv / ".harness-complete"
    if stamp.exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(venv / "bin/python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", "-c", str(CONSTRAINTS), "mlflow", "scikit-learn"],
        ]  # fmt: skip
        for argv in steps:
            if subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                raise PlatformError(f"{' '.join(argv[:4])} failed: see {log}")
    stamp.write_text(CONSTRAINTS.read_text())
    return venv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ok(url: str, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PlatformError(f"{what} exited with code {proc.returncode}: see {log}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(url, timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.3)
    raise PlatformError(f"{what} did not answer {url} within {START_TIMEOUT_S:g} s: see {log}")


def start(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own group: `down` stops its helpers with it
        )


def platform_env(bin_dir: Path, directory: Path) -> dict[str, str]:
    """The environment of every MLflow process: the virtualenv first on PATH, no telemetry,
    ``TMPDIR=DIR/tmp`` (``mlflow server`` initialising its database takes a lock file
    ``db_init_lock-<hash>`` in the temp directory and never removes it; ``mlflow models
    serve`` downloads the model there), and job execution off: the registry and scoring
    do not use MLflow's job runner, and MLflow 3.17 puts the runner's huey store in a new
    ``/dev/shm/tmp*`` directory at every start (TMPDIR does not move it) that nothing
    removes."""
    tmp = directory / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    env.update(
        MLFLOW_DISABLE_TELEMETRY="true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        TMPDIR=str(tmp),
    )
    return env


def up(directory: Path, *, registry_only: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "platform.log"
    venv = ensure_venv(log)
    bin_dir = venv / "bin"
    env = platform_env(bin_dir, directory)
    manifest_path = directory / "manifest.json"
    tracking_port, scoring_port = free_port(), free_port()
    tracking_url = f"http://127.0.0.1:{tracking_port}"
    scoring_url = f"http://127.0.0.1:{scoring_port}"
    server = start(
        [str(bin_dir / "mlflow"), "server",
         "--backend-store-uri", f"sqlite:///{directory / 'mlflow.db'}",
         "--artifacts-destination", str(directory / "artifacts"),
         "--host", "127.0.0.1", "--port", str(tracking_port), "--workers", "1"],
        directory / "mlflow-server.log", env,
    )  # fmt: skip
    manifest: dict[str, object] = {
        "schema": MANIFEST_SCHEMA,
        "complete": False,
        "services": {"mlflow": {"url": tracking_url}},
        "processes": {"mlflow-server": {"pid": server.pid, "pgid": server.pid}},
    }
    write_manifest(manifest_path, manifest)
    wait_ok(f"{tracking_url}/health", server, "mlflow server", directory / "mlflow-server.log")
    if registry_only:  # no model, no scoring server: the registry API alone
        manifest["complete"] = True
        write_manifest(manifest_path, manifest)
        return manifest_path
    env["MLFLOW_TRACKING_URI"] = tracking_url
    trained = subprocess.run(
        [str(bin_dir / "python"), str(HERE / "train.py"), "--name", MODEL_NAME],
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )
    if trained.returncode != 0:
        raise PlatformError(f"training failed: {trained.stderr.strip()[-500:]}")
    scoring = start(
        [str(bin_dir / "mlflow"), "models", "serve", "-m", f"models:/{MODEL_NAME}/1",
         "--env-manager", "local", "--workers", "2",
         "--host", "127.0.0.1", "--port", str(scoring_port)],
        directory / "scoring-server.log", env,
    )  # fmt: skip
    processes = manifest["processes"]
    assert isinstance(processes, dict)
    processes["scoring-server"] = {"pid": scoring.pid, "pgid": scoring.pid}
    manifest["services"] = {"mlflow": {"url": tracking_url}, "scoring": {"url": scoring_url}}
    write_manifest(manifest_path, manifest)
    (directory / "scoring-server.pid").write_text(f"{scoring.pid}\n")
    wait_ok(f"{scoring_url}/ping", scoring, "scoring server", directory / "scoring-server.log")
    master = uvicorn_master(scoring.pid)
    processes["scoring-master"] = {"pid": master, "pgid": scoring.pid}
    (directory / "scoring-master.pid").write_text(f"{master}\n")
    manifest["complete"] = True
    manifest["model"] = {"name": MODEL_NAME, "version": "1"}
    write_manifest(manifest_path, manifest)
    return manifest_path


def uvicorn_master(cli_pid: int) -> int:
    """The ``uvicorn --workers`` supervisor ``mlflow models serve`` started (its workers are
    the pods; beside them it has multiprocessing's resource_tracker)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        if parent == cli_pid and "uvicorn" in command:
            return int(entry.name)
    raise PlatformError(f"no uvicorn supervisor under the scoring server (pid {cli_pid})")


def write_manifest(path: Path, manifest: dict[str, object]) -> None:
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(temp, path)


def down(directory: Path) -> list[str]:
    """Stop every process group the manifest names; one line each. Idempotent."""
    path = directory / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        shutil.rmtree(directory / "tmp", ignore_errors=True)
        return ["no manifest: nothing to stop"]
    lines = []
    groups = sorted({int(p["pgid"]) for p in manifest.get("processes", {}).values()})
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while any(group_alive(g) for g in groups) and time.monotonic() < deadline:
        time.sleep(0.1)
    named = {int(entry["pgid"]): name for name, entry in manifest.get("processes", {}).items()}
    for pgid, name in sorted(named.items()):
        if group_alive(pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            lines.append(f"{name}: killed (SIGKILL)")
        else:
            lines.append(f"{name}: stopped")
    path.unlink(missing_ok=True)
    shutil.rmtree(directory / "tmp", ignore_errors=True)  # what MLflow put in its TMPDIR
    return lines


def group_alive(pgid: int) -> bool:
    """Whether any non-zombie process is left in group ``pgid``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlflow_platform", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["up", "down", "venv"])
    parser.add_argument("--dir", type=Path, default=Path(".harness/mlflow"))
    parser.add_argument(
        "--registry-only", action="store_true", help="up: only mlflow server, no scoring"
    )
    args = parser.parse_args(argv)
    directory = args.dir.resolve()
    try:
        if args.command == "venv":
            directory.mkdir(parents=True, exist_ok=True)
            print(ensure_venv(directory / "platform.log"))
        elif args.command == "up":
            try:
                print(up(directory, registry_only=args.registry_only))
            except BaseException:
                down(directory)
                raise
        else:
            print("\n".join(down(directory)))
    except (PlatformError, subprocess.TimeoutExpired) as exc:
        print(f"mlflow_platform: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
