"""pytest plugin: a real Prometheus and a real Pushgateway for the test session.

``prometheus`` (session) starts Debian's ``prometheus`` and ``prometheus-pushgateway``
binaries (installed by ``bin/setup --tests``; the packages' own system services are never
used) on free 127.0.0.1 ports, with a generated config and a fresh data directory: a 1 s
scrape interval, jobs ``prometheus`` (itself), ``pushgateway`` (``honor_labels``) and
``serving`` / ``registry``, whose targets come from file-based service discovery, so a test
points them at the testbed it started (:meth:`PrometheusServers.scrape`). At session end
both are stopped (SIGTERM, then SIGKILL) and the directory removed, on every path.
Missing binaries FAIL the tests that need them. Mark such tests ``@pytest.mark.prometheus``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.local_servers import free_port, log_tail, served_for_session

SCRAPE_INTERVAL_S = 1.0
SD_JOBS = ("serving", "registry")
_START_ATTEMPTS = 3
_READY_TIMEOUT_S = 30.0


@dataclass
class PrometheusServers:
    root_dir: Path
    prometheus_url: str = ""
    pushgateway_url: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def sd_dir(self) -> Path:
        return self.root_dir / "sd"

    def scrape(self, job: str, urls: Sequence[str]) -> None:
        """Point ``job`` (serving or registry) at these base URLs (their /metrics)."""
        assert job in SD_JOBS, job
        targets = [urlsplit(url).netloc for url in urls]
        temporary = self.sd_dir / f".{job}.json.tmp"
        temporary.write_text(json.dumps([{"targets": targets}]))
        os.replace(temporary, self.sd_dir / f"{job}.json")

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = httpx.get(
            self.prometheus_url + "/api/v1/query", params={"query": expr}, timeout=10
        )
        payload = answer.json()
        assert payload["status"] == "success", payload
        result: list[dict[str, Any]] = payload["data"]["result"]
        return result

    def wait_for(self, expr: str, timeout_s: float = 20.0) -> list[dict[str, Any]]:
        """Poll an instant query until it answers a non-empty result."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(expr)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr!r} still empty after {timeout_s:g} s")
            time.sleep(0.25)

    def wait_scraped(self, job: str, urls: Sequence[str], timeout_s: float = 20.0) -> None:
        """Wait until every URL of ``job`` was scraped successfully at least twice (so
        ``rate()`` over a short window has two points)."""
        for url in urls:
            instance = urlsplit(url).netloc
            self.wait_for(
                f'count_over_time(up{{job="{job}",instance="{instance}"}}[1m]) >= 2 '
                f'and up{{job="{job}",instance="{instance}"}} == 1',
                timeout_s,
            )


def pytest_configure(config: pytest.Config) -> None:
    """The tests never talk to a Prometheus or Pushgateway of the developer's environment:
    the tests that need one name the session's own."""
    for name in ("HARNESS_PUSHGATEWAY_URL", "HARNESS_PROMETHEUS_URL"):
        os.environ.pop(name, None)


def find_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} not found: run `bin/setup --tests` (installs the Debian package)",
            pytrace=False,
        )
    return path


def _config(prometheus_port: int, pushgateway_port: int, sd_dir: Path) -> str:
    interval = f"{SCRAPE_INTERVAL_S:g}s"
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "evaluation_interval": interval,
        },
        "scrape_configs": [
            {"job_name": "prometheus",
             "static_configs": [{"targets": [f"127.0.0.1:{prometheus_port}"]}]},
            {"job_name": "pushgateway", "honor_labels": True,
             "static_configs": [{"targets": [f"127.0.0.1:{pushgateway_port}"]}]},
            *(
                {"job_name": job, "file_sd_configs": [
                    {"files": [str(sd_dir / f"{job}.json")], "refresh_interval": "1s"}
                ]}
                for job in SD_JOBS
            ),
        ],
    }
    return json.dumps(config, indent=1)  # JSON is YAML


def _spawn(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited ({proc.returncode}): {log_tail(log_path)}")
        try:
            if httpx.get(url + "/-/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {_READY_TIMEOUT_S:g} s: {log_tail(log_path)}")


def _start_one(
    servers: PrometheusServers, name: str, argv_for: Any, port_taken: set[int]
) -> tuple[str, int]:
    log_path = servers.root_dir / f"{name}.log"
    last = ""
    for _ in range(_START_ATTEMPTS):  # a free port can be taken between probe and bind
        port = free_port()
        if port in port_taken:
            continue
        proc = _spawn(argv_for(port), log_path)
        servers.processes.append(proc)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, proc, log_path)
            return url, port
        except RuntimeError as exc:
            last = str(exc)
            _stop_process(proc)
    raise RuntimeError(f"{name} did not start: {last}")


def start_servers() -> PrometheusServers:
    prometheus = find_binary("prometheus")
    pushgateway = find_binary("prometheus-pushgateway")
    servers = PrometheusServers(Path(tempfile.mkdtemp(prefix="harness-prom-")))
    try:
        servers.sd_dir.mkdir()
        for job in SD_JOBS:
            servers.scrape(job, [])
        servers.pushgateway_url, push_port = _start_one(
            servers, "pushgateway",
            lambda port: [pushgateway, f"--web.listen-address=127.0.0.1:{port}"],
            set(),
        )
        config_path = servers.root_dir / "prometheus.yml"

        def prometheus_argv(port: int) -> list[str]:
            config_path.write_text(_config(port, push_port, servers.sd_dir))
            return [
                prometheus,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={servers.root_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
                "--query.lookback-delta=5s",
            ]

        servers.prometheus_url, _ = _start_one(
            servers, "prometheus", prometheus_argv, {push_port}
        )
        return servers
    except BaseException:
        stop_servers(servers)
        raise


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


def stop_servers(servers: PrometheusServers) -> None:
    for proc in servers.processes:
        _stop_process(proc)
    shutil.rmtree(servers.root_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def prometheus() -> Iterator[PrometheusServers]:
    """The session's Prometheus + Pushgateway (URLs, file-SD scrape targets)."""
    with served_for_session(
        "the test Prometheus", start_servers, stop_servers, (RuntimeError, OSError)
    ) as servers:
        yield servers
