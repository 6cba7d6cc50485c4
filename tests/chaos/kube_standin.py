"""A stand-in for the Kubernetes API server, for tests only (no API server can run here).

A small HTTP server on 127.0.0.1 speaking the few calls the Kubernetes experiments make,
over the model in :mod:`tests.chaos.kube_model`: pods (list by selector, read, delete with
a grace period), Deployments (read), Chaos Mesh custom objects (create, read, list,
delete), pod exec over a websocket (``v4.channel.k8s.io``, as the kubernetes client's
``stream`` speaks it), 403 for forbidden namespaces, and ``GET /health`` answering like a
Service in front of the serving pods (200 while one serves, 503 while none does). It
records every request so tests can check what was asked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.chaos.kube_model import ChaosObject, Cluster, Pod, selector_matches

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CHAOS_PREFIX = "/apis/chaos-mesh.org/v1alpha1/namespaces/"
KINDS = {"networkchaos": "NetworkChaos", "stresschaos": "StressChaos", "podchaos": "PodChaos"}
SERVING = ("default", "app=model-serving")


def _status(code: int, message: str) -> dict[str, Any]:
    reasons = {403: "Forbidden", 404: "NotFound", 409: "AlreadyExists", 400: "BadRequest"}
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reasons.get(code, "Unknown"),
        "code": code,
    }


def _frame(payload: bytes, opcode: int = 0x2) -> bytes:
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    return head + payload


class _Handler(BaseHTTPRequestHandler):
    cluster: Cluster
    serving: tuple[str, str]

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return None

    def _route(self, method: str) -> None:
        body = self._body() if method in ("POST", "DELETE", "PUT", "PATCH") else None
        cluster = self.cluster
        cluster.requests.append((method, self.path, body))
        cluster.tick()
        url = urlparse(self.path)
        query = parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        if url.path == "/health":
            ns, selector = self.serving
            ok = bool(cluster.serving_pods(ns, selector))
            self._send(200 if ok else 503, {"status": "ok" if ok else "no endpoints"})
            return
        ns = (
            parts[3]
            if len(parts) > 3 and parts[2] == "namespaces"
            else parts[4]
            if len(parts) > 4
            else ""
        )
        if ns in cluster.forbidden:
            self._send(403, _status(403, f"forbidden: no access to namespace {ns!r}"))
            return
        with cluster.lock:
            if url.path.startswith("/api/v1/namespaces/"):
                self._core(method, parts, query, body)
            elif url.path.startswith("/apis/apps/v1/namespaces/"):
                self._apps(method, parts)
            elif url.path.startswith(CHAOS_PREFIX):
                self._chaos(method, parts, body)
            else:
                self._send(404, _status(404, f"no route {url.path}"))

    # /api/v1/namespaces/{ns}/pods[/{name}[/exec]]
    def _core(self, method: str, parts: list[str], query: dict[str, list[str]], body: Any) -> None:
        cluster, ns, now = self.cluster, parts[3], time.time()
        if len(parts) == 5 and parts[4] == "pods" and method == "GET":
            selector = query.get("labelSelector", [None])[0]
            items = [
                p.to_json(now)
                for p in cluster.pods.values()
                if p.namespace == ns and selector_matches(selector, p.labels)
            ]
            self._send(200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items})
            return
        pod = cluster.pods.get(f"{ns}/{parts[5]}") if len(parts) >= 6 else None
        if pod is None:
            self._send(404, _status(404, f"pods {parts[5] if len(parts) > 5 else ''!r} not found"))
        elif len(parts) == 7 and parts[6] == "exec":
            self._exec(pod, query)
        elif method == "GET":
            self._send(200, pod.to_json(now))
        elif method == "DELETE":
            grace = (body or {}).get("gracePeriodSeconds")
            if pod.deleted_at is None:
                pod.deleted_at = now
                pod.grace_s = float(grace) if grace is not None else pod.grace_s
                cluster.deleted_pods.append((pod.name, pod.uid))
            self._send(200, pod.to_json(now))
        else:
            self._send(405, _status(400, "method not allowed"))

    def _apps(self, method: str, parts: list[str]) -> None:
        # /apis/apps/v1/namespaces/{ns}/deployments/{name}
        dep = self.cluster.deployments.get(f"{parts[4]}/{parts[6]}") if len(parts) == 7 else None
        if dep is None or method != "GET":
            self._send(404, _status(404, "deployment not found"))
        else:
            self._send(200, self.cluster.deployment_json(dep))

    def _chaos(self, method: str, parts: list[str], body: Any) -> None:
        # /apis/chaos-mesh.org/v1alpha1/namespaces/{ns}/{plural}[/{name}]
        cluster, ns, plural = self.cluster, parts[4], parts[5] if len(parts) > 5 else ""
        kind = KINDS.get(plural)
        if kind is None:
            self._send(404, _status(404, f"the server could not find the resource {plural!r}"))
            return
        if len(parts) == 6 and method == "POST":
            self._create_chaos(ns, kind, plural, body)
            return
        if len(parts) == 6 and method == "GET":
            items = [
                cluster.chaos_json(o)
                for (n, p, _), o in cluster.chaos.items()
                if n == ns and p == plural
            ]
            self._send(200, {"kind": f"{kind}List", "items": items})
            return
        key = (ns, plural, parts[6] if len(parts) > 6 else "")
        obj = cluster.chaos.get(key)
        if obj is None:
            self._send(404, _status(404, f"{plural}.chaos-mesh.org {key[2]!r} not found"))
        elif method == "GET":
            self._send(200, cluster.chaos_json(obj))
        elif method == "DELETE":
            del cluster.chaos[key]
            if obj.recovered_at is None:
                cluster.recover(obj, time.time())  # Chaos Mesh's finalizer recovers first
            self._send(200, cluster.chaos_json(obj))
        else:
            self._send(405, _status(400, "method not allowed"))

    def _create_chaos(self, ns: str, kind: str, plural: str, body: Any) -> None:
        cluster = self.cluster
        if not isinstance(body, dict) or body.get("kind") != kind:
            self._send(400, _status(400, "body is not a " + kind))
            return
        name = str((body.get("metadata") or {}).get("name", ""))
        if (ns, plural, name) in cluster.chaos:
            self._send(409, _status(409, f"{plural}.chaos-mesh.org {name!r} already exists"))
            return
        for callback in cluster.on_create:
            callback(body)
        body = {**body, "metadata": {**body["metadata"], "namespace": ns, "uid": str(uuid.uuid4())}}
        cluster.chaos[(ns, plural, name)] = ChaosObject(kind, ns, body, time.time())
        cluster.created_chaos.append(body)
        self._send(201, body)

    def _exec(self, pod: Pod, query: dict[str, list[str]]) -> None:
        container = query.get("container", [""])[0]
        argv = query.get("command", [])
        if container not in pod.containers:
            self._send(
                400, _status(400, f"container {container!r} is not valid for pod {pod.name}")
            )
            return
        if self.headers.get("Upgrade", "").lower() != "websocket":
            self._send(400, _status(400, "exec needs a websocket upgrade"))
            return
        self.cluster.execs.append((pod.name, container, argv))
        rc, out = self.cluster.run(pod, container, argv)
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", "v4.channel.k8s.io")
        self.end_headers()
        if out:
            self.wfile.write(_frame(b"\x01" + out.encode()))
        status: dict[str, Any] = {"metadata": {}, "status": "Success"}
        if rc != 0:
            status = {
                "metadata": {},
                "status": "Failure",
                "message": f"command terminated with non-zero exit code: {rc}",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": str(rc)}]},
            }
        self.wfile.write(_frame(b"\x03" + json.dumps(status).encode()))
        self.wfile.write(_frame(struct.pack(">H", 1000), opcode=0x8))
        self.wfile.flush()
        self.close_connection = True

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")


class KubeStandIn:
    def __init__(self, cluster: Cluster | None = None, serving: tuple[str, str] = SERVING) -> None:
        self.cluster = cluster or Cluster()
        handler = type("Handler", (_Handler,), {"cluster": self.cluster, "serving": serving})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._stop = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)

    def _tick(self) -> None:
        while not self._stop.wait(0.05):
            self.cluster.tick()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> KubeStandIn:
        self.thread.start()
        self.ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        self.ticker.join(5)

    def write_kubeconfig(
        self, path: Path, context: str = "standin", *, extra_contexts: tuple[str, ...] = ()
    ) -> Path:
        contexts = [
            {"name": name, "context": {"cluster": "standin", "user": "tester"}}
            for name in (context, *extra_contexts)
        ]
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": context,
                    "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": "not-a-secret"}}],
                    "contexts": contexts,
                }
            )
        )
        return path
