"""A stand-in for the Kubernetes API server, for tests only (no API server can run here).

A small HTTP server on 127.0.0.1 that answers the few calls the Kubernetes experiments use:
list pods of a namespace by label selector, delete a pod (replaced at once by a new one, as a
Deployment would), plus ``GET /health`` so an experiment's serving URL can point here too.
It records every request so tests can check what chaostoolkit-kubernetes asked for.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

POD_PATH = "/api/v1/namespaces/"


@dataclass
class Cluster:
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_pod(self, ns: str, labels: dict[str, str]) -> str:
        name = f"{labels.get('app', 'pod')}-{next(self._ids)}"
        self.pods[name] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "uid": name,
            },
            "status": {"phase": "Running"},
        }
        return name


def _matches(pod: dict[str, Any], ns: str, selector: str | None) -> bool:
    meta = pod["metadata"]
    if meta["namespace"] != ns:
        return False
    for term in (selector or "").split(","):
        if not term.strip():
            continue
        key, _, value = term.partition("=")
        if meta["labels"].get(key.strip()) != value.strip().lstrip("="):
            return False
    return True


def _handler(cluster: Cluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            cluster.requests.append(("GET", self.path))
            url = urlparse(self.path)
            if url.path == "/health":
                self._send(200, {"status": "ok"})
                return
            parts = url.path.split("/")  # ['', api, v1, namespaces, ns, pods]
            if url.path.startswith(POD_PATH) and len(parts) == 6 and parts[5] == "pods":
                selector = parse_qs(url.query).get("labelSelector", [None])[0]
                items = [p for p in cluster.pods.values() if _matches(p, parts[4], selector)]
                self._send(
                    200,
                    {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items},
                )
                return
            self._send(404, {"kind": "Status", "status": "Failure", "code": 404})

        def do_DELETE(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            cluster.requests.append(("DELETE", self.path))
            parts = urlparse(self.path).path.split("/")
            if self.path.startswith(POD_PATH) and len(parts) == 7 and parts[6] in cluster.pods:
                pod = cluster.pods.pop(parts[6])
                cluster.deleted.append(parts[6])
                cluster.add_pod(parts[4], dict(pod["metadata"]["labels"]))  # the Deployment
                self._send(200, pod)
                return
            self._send(404, {"kind": "Status", "status": "Failure", "code": 404})

    return Handler


class KubeStandIn:
    def __init__(self) -> None:
        self.cluster = Cluster()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.cluster))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> KubeStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def write_kubeconfig(self, path: Path, context: str = "standin") -> Path:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": context,
                    "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": "not-a-secret"}}],
                    "contexts": [
                        {
                            "name": context,
                            "context": {"cluster": "standin", "user": "tester"},
                        }
                    ],
                }
            )
        )
        return path
