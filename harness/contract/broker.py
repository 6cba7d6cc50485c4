"""A small Pact Broker client over its HAL API (httpx, async).

- :meth:`BrokerClient.publish` — ``POST /contracts/publish`` (one call per consumer
  version: pacticipant, version, branch, contracts base64-encoded).
- :meth:`BrokerClient.pacts_for_verification` — the index's
  ``pb:provider-pacts-for-verification`` relation with consumer version selectors,
  pending and WIP; then each pact's content (the harness counts interactions itself).
- :meth:`BrokerClient.can_i_deploy` — ``GET /can-i-deploy?pacticipant&version&environment``.

The broker URL and token come from ``PACT_BROKER_BASE_URL`` / ``PACT_BROKER_TOKEN``.
The token goes into the ``Authorization`` header only: never into messages, logs or
reports (errors name the URL path and the HTTP status, nothing else).

No broker runs on the development machine: these calls are tested against a stand-in
app serving the same HAL documents (tests/contract/broker_standin.py).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from harness.contract.pactfile import PactFile


class BrokerError(RuntimeError):
    """The broker could not be reached or answered something unusable."""


@dataclass(frozen=True)
class FetchedPact:
    url: str
    content: dict[str, Any]
    pending: bool
    wip: bool
    publish_url: str | None = None  # the pact's pb:publish-verification-results
    provider_url: str | None = None  # the pact's pb:provider (for the provider branch)


@dataclass(frozen=True)
class DeployCheck:
    deployable: bool | None
    reason: str


class BrokerClient:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/hal+json, application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )

    async def __aenter__(self) -> BrokerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def _json(
        self,
        method: str,
        url: str,
        body: object | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        try:
            response = await self._client.request(method, url, json=body, params=params or {})
        except httpx.HTTPError as exc:
            raise BrokerError(f"broker {method} {_path(url)}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise BrokerError(
                f"broker {method} {_path(url)}: HTTP {response.status_code} {_error_text(response)}"
            )
        try:
            return response.json()
        except ValueError:
            raise BrokerError(f"broker {method} {_path(url)}: answer is not JSON") from None

    async def publish(
        self,
        pacts: Sequence[PactFile],
        *,
        consumer_version: str,
        branch: str | None = None,
        tags: Sequence[str] = (),
    ) -> list[str]:
        """Publish pact files with their consumer version and branch; one line per call."""
        by_consumer: dict[str, list[PactFile]] = {}
        for pact in pacts:
            by_consumer.setdefault(pact.consumer, []).append(pact)
        lines = []
        for consumer, files in sorted(by_consumer.items()):
            body: dict[str, Any] = {
                "pacticipantName": consumer,
                "pacticipantVersionNumber": consumer_version,
                "tags": list(tags),
                "contracts": [
                    {
                        "consumerName": consumer,
                        "providerName": pact.provider,
                        "specification": "pact",
                        "contentType": "application/json",
                        "content": base64.b64encode(pact.path.read_bytes()).decode("ascii"),
                    }
                    for pact in files
                ],
            }
            if branch:
                body["branch"] = branch
            await self._json("POST", "/contracts/publish", body)
            providers = ", ".join(sorted({p.provider for p in files}))
            lines.append(f"published {consumer} {consumer_version} -> {providers}")
        return lines

    async def pacts_for_verification(
        self,
        provider: str,
        *,
        selectors: Sequence[Mapping[str, object]],
        include_pending: bool,
        include_wip_since: str | None,
        provider_branch: str | None,
    ) -> list[FetchedPact]:
        index = await self._json("GET", "/")
        href = _link(index, "pb:provider-pacts-for-verification")
        url = href.replace("{provider}", quote(provider, safe=""))
        body: dict[str, Any] = {
            "consumerVersionSelectors": [dict(s) for s in selectors],
            "includePendingStatus": include_pending,
        }
        if include_wip_since:
            body["includeWipPactsSince"] = include_wip_since
        if provider_branch:
            body["providerVersionBranch"] = provider_branch
        answer = await self._json("POST", url, body)
        pacts = []
        for item in (answer.get("_embedded") or {}).get("pacts") or []:
            pact_url = _link(item, "self")
            props = item.get("verificationProperties") or {}
            content = await self._json("GET", pact_url)
            if not isinstance(content, dict):
                raise BrokerError(f"broker GET {_path(pact_url)}: not a pact")
            links = content.pop("_links", None)
            pacts.append(
                FetchedPact(
                    url=pact_url,
                    content=content,
                    pending=bool(props.get("pending")),
                    wip=bool(props.get("wip")),
                    publish_url=_optional_link(links, "pb:publish-verification-results"),
                    provider_url=_optional_link(links, "pb:provider"),
                )
            )
        return pacts

    async def publish_verification(
        self,
        pact: FetchedPact,
        *,
        success: bool,
        provider_version: str,
        provider_branch: str | None,
        test_results: Sequence[Mapping[str, object]],
    ) -> None:
        """Publish one verification result for a whole pact (the harness aggregates the
        verifier's passes itself: each pass would otherwise publish a partial result)."""
        if pact.publish_url is None:
            raise BrokerError(f"pact {_path(pact.url)} has no pb:publish-verification-results")
        if provider_branch and pact.provider_url:
            provider = await self._json("GET", pact.provider_url)
            href = _link(provider, "pb:branch-version")
            url = href.replace("{branch}", quote(provider_branch, safe="")).replace(
                "{version}", quote(provider_version, safe="")
            )
            await self._json("PUT", url, {})
        await self._json(
            "POST",
            pact.publish_url,
            {
                "success": success,
                "providerApplicationVersion": provider_version,
                "verifiedBy": {"implementation": "harness"},
                "testResults": [dict(r) for r in test_results],
            },
        )

    async def can_i_deploy(
        self, pacticipant: str, version: str, to_environment: str | None
    ) -> DeployCheck:
        params = {"pacticipant": pacticipant, "version": version}
        if to_environment:
            params["environment"] = to_environment
        answer = await self._json("GET", "/can-i-deploy", params=params)
        summary = answer.get("summary") if isinstance(answer, dict) else None
        if not isinstance(summary, dict):
            raise BrokerError("broker GET /can-i-deploy: no 'summary' in the answer")
        deployable = summary.get("deployable")
        return DeployCheck(
            deployable=deployable if isinstance(deployable, bool) else None,
            reason=str(summary.get("reason") or ""),
        )


def _link(document: object, relation: str) -> str:
    links = document.get("_links") if isinstance(document, dict) else None
    link = links.get(relation) if isinstance(links, dict) else None
    href = link.get("href") if isinstance(link, dict) else None
    if not isinstance(href, str):
        raise BrokerError(f"broker answer has no {relation!r} link")
    return href


def _optional_link(links: object, relation: str) -> str | None:
    link = links.get(relation) if isinstance(links, dict) else None
    href = link.get("href") if isinstance(link, dict) else None
    return href if isinstance(href, str) else None


def _path(url: str) -> str:
    return httpx.URL(url).path or url


def _error_text(response: httpx.Response) -> str:
    try:
        return json.dumps(response.json())[:200]
    except ValueError:
        return response.text[:200]
