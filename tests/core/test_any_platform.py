"""A platform that is not the testbed: a small real HTTP service this test starts, with its
own service name (``api``), its own health path (``/ready``), and a bearer token the suite
reads from an environment variable. The real CLI runs a load step and contract steps whose
provider states come from a Python callable and from the service's own state-change URL;
the token must appear in no report file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

TOKEN = "s3cr3t-token-0123456789"
HARNESS = str(Path(sys.executable).parent / "harness")


class Platform:
    """Items by id; every request but the state-change endpoint needs the token."""

    def __init__(self) -> None:
        self.items: dict[int, str] = {0: "fixed"}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, name: str) -> int:
        with self.lock:
            item_id = max(self.items) + 1
            self.items[item_id] = name
            return item_id


def _handler(platform: Platform) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"error": "no valid token"})
            elif self.path == "/ready":
                self._send(200, {"ready": True})
            elif self.path.startswith("/items/"):
                item_id = int(self.path.rsplit("/", 1)[1])
                name = platform.items.get(item_id)
                self._send(200 if name else 404, {"id": item_id, "name": name})
            else:
                self._send(404, {"error": "no such path"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            if self.path == "/admin/items" and self.headers.get("Authorization") == (
                f"Bearer {TOKEN}"
            ):
                self._send(200, {"item_id": platform.add(body["name"])})
            elif self.path == "/_states":  # the provider's own state-change endpoint
                if body.get("action") == "teardown":
                    self._send(200, {})
                elif body.get("state") == "an item exists":
                    self._send(200, {"item_id": platform.add(body["params"]["name"])})
                else:
                    self._send(500, {"error": f"unknown state {body.get('state')!r}"})
            else:
                self._send(404, {"error": "no such path"})

    return Handler


@pytest.fixture
def platform() -> Iterator[Platform]:
    running = Platform()
    thread = threading.Thread(target=running.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()


STATES_MODULE = '''
import json, os, urllib.request

def handler(state, params, action):
    """Set up provider states through the platform's admin API."""
    if action == "teardown":
        return None
    if state != "an item exists":
        raise ValueError(f"this handler knows no state {state!r}")
    request = urllib.request.Request(
        os.environ["MY_PLATFORM_URL"] + "/admin/items",
        data=json.dumps({"name": params["name"]}).encode(),
        headers={"Authorization": "Bearer " + os.environ["MY_PLATFORM_TOKEN"],
                 "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return {"item_id": json.load(answer)["item_id"]}
'''

LOCUSTFILE = """
from locust import FastHttpUser, constant_throughput, task
from harness.load.scenario_env import service_headers, service_url

class ApiUser(FastHttpUser):
    host = service_url("api")
    wait_time = constant_throughput(10)

    @task
    def item(self):
        with self.client.get("/items/0", headers=service_headers("api"), catch_response=True) as r:
            if r.status_code != 200 or r.json().get("name") != "fixed":
                r.failure(f"HTTP {r.status_code}")
"""


def _pact(state: str) -> dict[str, Any]:
    return {
        "consumer": {"name": "item-client"},
        "provider": {"name": "item-api"},
        "interactions": [
            {
                "description": "a request for an item",
                "providerStates": [{"name": state, "params": {"name": "widget"}}],
                "request": {
                    "method": "GET",
                    "path": "/items/1",
                    "headers": {"Authorization": "Bearer example"},
                    "generators": {
                        "path": {
                            "type": "ProviderState",
                            "expression": "/items/${item_id}",
                            "dataType": "STRING",
                        }
                    },
                },
                "response": {
                    "status": 200,
                    "headers": {"Content-Type": "application/json"},
                    "body": {"id": 1, "name": "widget"},
                    "matchingRules": {"body": {"$.id": {"matchers": [{"match": "type"}]}}},
                },
            }
        ],
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }


def _suite(url: str, state: str) -> str:
    return f"""
name: any-platform
fail_fast: false
target:
  kind: external
  external:
    services:
      api:
        url: {url}
        health: /ready
        headers:
          Authorization: {{env: MY_PLATFORM_TOKEN, prefix: "Bearer "}}
stages:
  - name: contracts
    steps:
      - name: by-callable
        kind: contract
        provider: item-api
        pacts: pacts
        service: api
        states: {{module: "item_states:handler"}}
        timeout: 90s
      - name: by-url
        kind: contract
        provider: item-api
        pacts: pacts
        service: api
        states: {{url: "{url}/_states"}}
        timeout: 90s
  - name: load
    steps:
      - name: api-load
        kind: load
        locustfile: api_load.py
        user_classes: [ApiUser]
        service: api
        users: 2
        spawn_rate: 2
        processes: 1
        duration: 5s
        timeout: 60s
        criteria: ["requests >= 20", "error_rate < 1%"]
"""


def _project(tmp_path: Path, url: str, state: str) -> Path:
    (tmp_path / "suites").mkdir()
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "item-client-item-api.json").write_text(json.dumps(_pact(state)))
    (tmp_path / "item_states.py").write_text(STATES_MODULE)
    (tmp_path / "api_load.py").write_text(LOCUSTFILE)
    suite = tmp_path / "suites" / "any.yaml"
    suite.write_text(_suite(url, state))
    return suite


def _run(suite: Path, report_dir: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MY_PLATFORM_TOKEN": TOKEN, "MY_PLATFORM_URL": url}
    env["HARNESS_STATE_DIR"] = str(report_dir.parent / "state")
    return subprocess.run(
        [HARNESS, "run", str(suite), "--report-dir", str(report_dir)],
        capture_output=True, text=True, timeout=400, env=env, cwd=suite.parent.parent,
    )  # fmt: skip


@pytest.mark.e2e
def test_custom_services_states_and_a_secret_header(platform: Platform, tmp_path: Path) -> None:
    suite = _project(tmp_path, platform.url, "an item exists")
    report_dir = tmp_path / "report"
    done = _run(suite, report_dir, platform.url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    verdict = json.loads((report_dir / "verdict.json").read_text())
    steps = {s["name"]: s for s in verdict["steps"]}
    assert {n: s["status"] for n, s in steps.items()} == {
        "by-callable": "pass", "by-url": "pass", "api-load": "pass"
    }  # fmt: skip
    assert steps["by-callable"]["metrics"]["interactions_verified"] == 1
    observed = {c["name"]: c["observed"] for c in steps["api-load"]["criteria"]}
    assert observed["requests >= 20"] >= 20 and observed["error_rate < 1%"] == 0
    assert sorted(platform.items.values()).count("widget") == 2  # one per state source
    leaked = [
        str(p)
        for p in report_dir.rglob("*")
        if p.is_file() and TOKEN in p.read_text(errors="ignore")
    ]
    assert leaked == []
    assert TOKEN not in done.stdout + done.stderr


@pytest.mark.e2e
def test_a_state_that_cannot_be_set_up_fails_its_interaction_at_once(
    platform: Platform, tmp_path: Path
) -> None:
    """The callable raises and the URL answers 500: both fail at once with the reason
    (not after the verifier's two minutes of retries)."""
    suite = _project(tmp_path, platform.url, "a state nobody knows")
    report_dir = tmp_path / "report"
    started = time.monotonic()
    done = _run(suite, report_dir, platform.url)
    elapsed_s = time.monotonic() - started
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    verdict = json.loads((report_dir / "verdict.json").read_text())
    steps = {s["name"]: s for s in verdict["steps"]}
    assert steps["by-callable"]["status"] == "fail"
    assert steps["by-url"]["status"] == "fail"
    text = json.dumps(verdict)
    assert "this handler knows no state" in text
    assert "state-change URL answered 500" in text
    assert elapsed_s < 90, f"took {elapsed_s:.0f} s: the verifier retried"


def test_unknown_service_is_an_error_at_file_and_line(tmp_path: Path) -> None:
    suite = _project(tmp_path, "http://127.0.0.1:9", "an item exists")
    text = suite.read_text().replace(
        "        service: api\n        users", "        service: apx\n        users"
    )
    suite.write_text(text)
    done = subprocess.run(
        [HARNESS, "validate", str(suite)], capture_output=True, text=True, timeout=60
    )
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "service: apx" in t)
    assert done.returncode == 2
    assert (
        f"{suite}:{line}: stages[1].steps[0].service: unknown service 'apx'"
        in done.stdout + done.stderr
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("group", "message"),
    [
        ("{command: gunicorn}", "command needs user"),
        ("{pid_file: a.pid, parent_pid: 40}", "exactly one of"),
        ("{}", "exactly one of"),
        ("{command: '(', user: me}", "not a regular expression"),
    ],
)
def test_local_process_groups_are_checked_at_file_and_line(
    tmp_path: Path, group: str, message: str
) -> None:
    from harness.config.loader import load_suite

    suite = tmp_path / "suites" / "s.yaml"
    suite.parent.mkdir()
    suite.write_text(
        "name: s\ntarget:\n  local_processes:\n    web: " + group + "\n"
        "stages:\n  - name: a\n    steps:\n      - {name: l, kind: load, locustfile: x.py}\n"
    )
    _, problems = load_suite(suite, check_references=False)
    assert [p.line for p in problems] == [4]
    assert "target.local_processes.web" in problems[0].field
    assert message in problems[0].message
