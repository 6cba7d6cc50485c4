"""The locust command line and environment for one load step, and what its exit means."""

from __future__ import annotations

import json
import math
import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path

from harness.load.answers import VERSION_ENV, spec_text
from harness.load.scenario_env import HEADERS_ENV, url_env
from harness.load.spec import LoadStep
from harness.process import venv_bin
from harness.target import Target

PLUGIN_PATH = Path(__file__).with_name("plugin.py")
INTERVAL_ENV = "HARNESS_INTERVAL_PATH"  # kept equal to plugin.PATH_ENV (plugin imports locust)
RAN_CODES = (0, 3)  # 3 = --exit-code-on-error: some requests failed


def locust_bin() -> str:
    return os.environ.get("HARNESS_LOCUST_BIN") or venv_bin("locust")


def service_url(target: Target, service: str) -> str:
    """The URL of ``service`` ('' when the target has none: the runner says so)."""
    try:
        return target.service(service).url
    except KeyError:
        return ""


def build_argv(spec: LoadStep, locustfile: Path, host: str, json_prefix: Path) -> list[str]:
    argv = [
        locust_bin(),
        "-f", f"{locustfile},{PLUGIN_PATH}",
        "--headless",
        "-u", str(spec.users),
        "-r", f"{spec.spawn_rate:g}",
        "-t", f"{max(1, math.ceil(spec.duration))}s",
        "--stop-timeout", f"{max(0, math.ceil(spec.stop_timeout))}",
        "-H", host,
        "--only-summary",
        "--json-file", str(json_prefix),
        "--exit-code-on-error", "3",
    ]
    if spec.workers is not None:
        argv += [
            "--master",
            "--master-bind-host", spec.workers.bind_host,
            "--master-bind-port", str(spec.workers.bind_port),
            "--expect-workers", str(spec.workers.expect),
            "--expect-workers-max-wait", f"{max(1, math.ceil(spec.workers.max_wait))}",
        ]
    else:
        # Local workers talk to the master over a port: a free one, so that two load
        # steps (or two harness runs) on one machine do not collide on Locust's 5557.
        port = str(free_port())
        argv += [
            "--processes", str(spec.processes or os.cpu_count() or 1),
            "--master-bind-host", "127.0.0.1",
            "--master-bind-port", port,
            "--master-host", "127.0.0.1",
            "--master-port", port,
        ]
    return argv + list(spec.user_classes)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_env(
    spec: LoadStep, target: Target, interval_path: Path, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update({
        INTERVAL_ENV: str(interval_path),
        "PYTHONUNBUFFERED": "1",
        "HARNESS_SERVING_URL": target.serving_url,
        "HARNESS_REGISTRY_URL": target.registry_url,
        "HARNESS_ORCHESTRATOR_URL": target.orchestrator_url,
    })
    services = target.all_services()
    for name, service in services.items():
        env[url_env(name)] = service.url
    env[HEADERS_ENV] = json.dumps({n: dict(s.headers) for n, s in services.items() if s.headers})
    for kind in ("read", "write", "admin"):
        value = getattr(target.tokens, kind)
        if value:
            env[f"HARNESS_{kind.upper()}_TOKEN"] = value
    if target.manifest_path is not None:
        env["TESTBED_MANIFEST"] = str(target.manifest_path)
    if spec.arrival_rate is not None:
        env["HARNESS_ARRIVAL_RATE"] = f"{spec.arrival_rate.rate:g}"
        if spec.arrival_rate.ramp_to is not None:
            env["HARNESS_ARRIVAL_RAMP_TO"] = f"{spec.arrival_rate.ramp_to:g}"
        env["HARNESS_ARRIVAL_POISSON"] = "1" if spec.arrival_rate.poisson else "0"
        env["HARNESS_ARRIVAL_MAX_IN_FLIGHT"] = str(spec.arrival_rate.max_in_flight)
    if spec.model_version is not None:
        source = spec.model_version
        env[VERSION_ENV] = spec_text(source.header, source.field)
    env.update(spec.env)
    return env


_CAUSES = (
    (re.compile(r"Could not find '?([^'\n]+)'?|No such file or directory"), "locustfile not found"),
    (re.compile(r"Unknown User\(s\): ?([^\n]*)"), "unknown user class"),
    (re.compile(r"No User class found"), "no User class in the locustfile"),
    (re.compile(r"SyntaxError: ([^\n]*)"), "syntax error in the locustfile"),
    (re.compile(r"(ModuleNotFoundError|ImportError): ([^\n]*)"), "import error in the locustfile"),
    (re.compile(r"locust: error: ([^\n]*)"), "bad locust option"),
)


def explain_exit(returncode: int, stderr_text: str) -> str:
    """One line saying why locust did not run (exit codes 1 and 2 are ambiguous:
    the cause is read from stderr)."""
    for pattern, cause in _CAUSES:
        match = pattern.search(stderr_text)
        if match:
            detail = match.group(0).strip()
            where = _syntax_location(stderr_text) if "syntax" in cause else ""
            return f"{cause}{where}: {detail}"
    last = next(
        (line.strip() for line in reversed(stderr_text.splitlines()) if line.strip()), ""
    )
    return f"locust exited with code {returncode}" + (f": {last}" if last else "")


def _syntax_location(stderr_text: str) -> str:
    match = re.search(r'File "([^"]+)", line (\d+)', stderr_text.split("SyntaxError")[0][-600:])
    return f" ({match.group(1)}:{match.group(2)})" if match else ""
