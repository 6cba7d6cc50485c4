"""A stand-in for a Pact Broker: just the HAL resources the harness and the pact verifier
use, served by starlette on 127.0.0.1.

No real Pact Broker (a Ruby/PostgreSQL service) can run on this machine, so the broker
flow is tested against this stand-in. It follows the broker's documented resources:

- ``GET /``                                     index with ``pb:`` relations
- ``POST /contracts/publish``                   publish pacts (base64 content)
- ``GET|POST /pacts/provider/{p}/for-verification`` pacts for verification (selectors,
                                                pending, WIP)
- ``GET  /pacts/provider/{p}/consumer/{c}/pact-version/{sha}`` pact content with its
                                                ``pb:publish-verification-results`` link
- ``POST .../verification-results``             verification results
- ``GET  /pacticipants/{name}``, ``PUT .../branches/{b}/versions/{v}``  provider branch
- ``GET  /can-i-deploy``                        the matrix summary
- any other request is recorded and answered 404, so a test sees what was asked.

Selectors are interpreted simply: ``mainBranch`` picks each consumer's latest version on
branch ``main``; ``deployedOrReleased`` picks versions marked with :meth:`mark_deployed`;
with ``includeWipPactsSince`` every other never-verified pact comes as WIP (pending).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from testbed.processes import free_port


@dataclass
class Published:
    consumer: str
    provider: str
    version: str
    branch: str | None
    sha: str
    content: dict[str, Any]


@dataclass
class BrokerState:
    token: str
    base_url: str = ""
    pacts: list[Published] = field(default_factory=list)
    deployed: set[tuple[str, str]] = field(default_factory=set)
    verifications: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    for_verification_bodies: list[dict[str, Any]] = field(default_factory=list)
    publish_bodies: list[dict[str, Any]] = field(default_factory=list)
    branch_versions: list[tuple[str, str, str]] = field(default_factory=list)

    def mark_deployed(self, consumer: str, version: str) -> None:
        self.deployed.add((consumer, version))

    def pact_url(self, pact: Published) -> str:
        return (
            f"{self.base_url}/pacts/provider/{pact.provider}/consumer/{pact.consumer}"
            f"/pact-version/{pact.sha}"
        )

    def select(self, provider: str, selectors: list[dict[str, Any]]) -> list[Published]:
        chosen: dict[str, Published] = {}
        mine = [p for p in self.pacts if p.provider == provider]
        for selector in selectors:
            for pact in mine:
                if selector.get("consumer") and selector["consumer"] != pact.consumer:
                    continue
                if selector.get("mainBranch") and pact.branch == "main":
                    latest = [p for p in mine if p.consumer == pact.consumer and p.branch == "main"]
                    if pact is latest[-1]:
                        chosen[pact.sha] = pact
                if selector.get("deployedOrReleased") and (
                    (pact.consumer, pact.version) in self.deployed
                ):
                    chosen[pact.sha] = pact
                if selector.get("branch") and selector["branch"] == pact.branch:
                    chosen[pact.sha] = pact
        return list(chosen.values())

    def verified_ok(self, pact: Published) -> bool:
        return any(v["sha"] == pact.sha and v["success"] for v in self.verifications)


def build_app(state: BrokerState) -> Starlette:
    def authorized(request: Request) -> bool:
        state.requests.append((request.method, request.url.path))
        return request.headers.get("authorization") == f"Bearer {state.token}"

    def refuse() -> JSONResponse:
        return JSONResponse({"error": "unauthorized"}, status_code=401)

    def hal(body: dict[str, Any], status: int = 200) -> JSONResponse:
        return JSONResponse(body, status_code=status, media_type="application/hal+json")

    async def index(request: Request) -> Response:
        if not authorized(request):
            return refuse()
        base = state.base_url
        return hal(
            {
                "_links": {
                    "self": {"href": base},
                    "pb:publish-contracts": {"href": f"{base}/contracts/publish"},
                    "pb:provider-pacts-for-verification": {
                        "href": f"{base}/pacts/provider/{{provider}}/for-verification",
                        "templated": True,
                    },
                }
            }
        )

    async def publish(request: Request) -> Response:
        if not authorized(request):
            return refuse()
        body = await request.json()
        state.publish_bodies.append(body)
        for contract in body["contracts"]:
            raw = base64.b64decode(contract["content"])
            state.pacts.append(
                Published(
                    consumer=contract["consumerName"],
                    provider=contract["providerName"],
                    version=body["pacticipantVersionNumber"],
                    branch=body.get("branch"),
                    sha=hashlib.sha1(raw + body["pacticipantVersionNumber"].encode()).hexdigest(),
                    content=json.loads(raw),
                )
            )
        return hal({"notices": [{"type": "success", "text": "published"}], "_links": {}})

    async def for_verification(request: Request) -> Response:
        if not authorized(request):
            return refuse()
        provider = request.path_params["provider"]
        if request.method == "GET":  # the verifier reads the resource, then POSTs to it
            return hal({"_links": {"self": {"href": str(request.url)}}})
        body = await request.json()
        state.for_verification_bodies.append(body)
        pacts = state.select(provider, body.get("consumerVersionSelectors") or [])
        wip: list[Published] = []
        if body.get("includeWipPactsSince"):
            # Work in progress: pacts no selector picked and never verified successfully.
            wip = [
                p
                for p in state.pacts
                if p.provider == provider and p not in pacts and not state.verified_ok(p)
            ]
        pending_on = bool(body.get("includePendingStatus"))
        return hal(
            {
                "_embedded": {
                    "pacts": [
                        {
                            "shortDescription": f"latest from {p.consumer} {p.version}",
                            "verificationProperties": {
                                "pending": p in wip or (pending_on and not state.verified_ok(p)),
                                "wip": p in wip,
                                "notices": [],
                            },
                            "_links": {"self": {"href": state.pact_url(p), "name": p.consumer}},
                        }
                        for p in [*pacts, *wip]
                    ]
                },
                "_links": {"self": {"href": str(request.url)}},
            }
        )

    def find(request: Request) -> Published | None:
        sha = request.path_params["sha"]
        return next((p for p in state.pacts if p.sha == sha), None)

    async def pact(request: Request) -> Response:
        if not authorized(request):
            return refuse()
        found = find(request)
        if found is None:
            return JSONResponse({"error": "no such pact"}, status_code=404)
        url = state.pact_url(found)
        return hal(
            {
                **found.content,
                "_links": {
                    "self": {"href": url},
                    "pb:provider": {"href": f"{state.base_url}/pacticipants/{found.provider}"},
                    "pb:publish-verification-results": {
                        "href": f"{url}/verification-results",
                        "title": "Publish verification results",
                    },
                },
            }
        )

    async def verification_results(request: Request) -> Response:
        if not authorized(request):
            return refuse()
        found = find(request)
        if found is None:
            return JSONResponse({"error": "no such pact"}, status_code=404)
        body = await request.json()
        state.verifications.append(
            {
                "sha": found.sha,
                "consumer": found.consumer,
                "provider": found.provider,
                "success": bool(body.get("success")),
                "provider_version": body.get("providerApplicationVersion"),
                "at": time.time(),
            }
        )
        return hal({"success": body.get("success"), "_links": {}}, status=201)

    async def can_i_deploy(request: Request) -> Response:
        if not authorized(request):
            return refuse()
        pacticipant = request.query_params.get("pacticipant", "")
        version = request.query_params.get("version", "")
        rows = [
            v
            for v in state.verifications
            if v["provider"] == pacticipant and v["provider_version"] == version
        ]
        failed = sum(1 for v in rows if not v["success"])
        ok = sum(1 for v in rows if v["success"])
        if not rows:
            summary = {
                "deployable": None,
                "reason": "no verification results for this version",
                "success": 0,
                "failed": 0,
                "unknown": 1,
            }
        else:
            summary = {
                "deployable": failed == 0,
                "reason": "All required verification results are published and successful"
                if failed == 0
                else "One or more verifications have failed",
                "success": ok,
                "failed": failed,
                "unknown": 0,
            }
        return hal({"summary": summary, "matrix": []})

    async def pacticipant(request: Request) -> Response:
        if not authorized(request):
            return refuse()
        name = request.path_params["name"]
        base = f"{state.base_url}/pacticipants/{name}"
        return hal(
            {
                "name": name,
                "_links": {
                    "self": {"href": base},
                    "pb:branch-version": {
                        "href": f"{base}/branches/{{branch}}/versions/{{version}}",
                        "templated": True,
                    },
                },
            }
        )

    async def branch_version(request: Request) -> Response:
        if not authorized(request):
            return refuse()
        p = request.path_params
        state.branch_versions.append((p["name"], p["branch"], p["version"]))
        return hal({"_links": {}})

    async def other(request: Request) -> Response:
        state.requests.append((request.method, request.url.path))
        return JSONResponse({"error": "not in the stand-in"}, status_code=404)

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/contracts/publish", publish, methods=["POST"]),
        Route(
            "/pacts/provider/{provider}/for-verification",
            for_verification,
            methods=["GET", "POST"],
        ),
        Route(
            "/pacts/provider/{provider}/consumer/{consumer}/pact-version/{sha}",
            pact,
            methods=["GET"],
        ),
        Route(
            "/pacts/provider/{provider}/consumer/{consumer}/pact-version/{sha}"
            "/verification-results",
            verification_results,
            methods=["POST"],
        ),
        Route("/can-i-deploy", can_i_deploy, methods=["GET"]),
        Route("/pacticipants/{name}", pacticipant, methods=["GET"]),
        Route(
            "/pacticipants/{name}/branches/{branch}/versions/{version}",
            branch_version,
            methods=["PUT"],
        ),
        Route("/{path:path}", other, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    return Starlette(routes=routes)


@dataclass
class RunningBroker:
    url: str
    state: BrokerState


def serve_broker(token: str) -> Iterator[RunningBroker]:
    """Run the stand-in in a thread; stop it when the generator is closed."""
    port = free_port()
    state = BrokerState(token=token, base_url=f"http://127.0.0.1:{port}")
    config = uvicorn.Config(build_app(state), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("broker stand-in did not start")
        time.sleep(0.02)
    try:
        yield RunningBroker(state.base_url, state)
    finally:
        server.should_exit = True
        thread.join(timeout=5)
