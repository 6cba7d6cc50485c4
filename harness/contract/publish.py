"""``python -m harness.contract.publish --consumer-version V [--branch B] [--pacts DIR]``:
publish the pact files of a directory to the Pact Broker at ``$PACT_BROKER_BASE_URL``
(token ``$PACT_BROKER_TOKEN``). Exit 0 published, 2 bad input or broker error."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.contract.broker import BrokerClient, BrokerError
from harness.contract.pactfile import PactFileError, find_pact_files, read_pact
from harness.contract.spec import BROKER_TOKEN_ENV, BROKER_URL_ENV


async def publish_dir(
    directory: Path, url: str, token: str | None, consumer_version: str, branch: str | None
) -> list[str]:
    paths = find_pact_files(directory)
    if not paths:
        raise PactFileError(f"{directory}: no pact files (*.json) to publish")
    pacts = [read_pact(p) for p in paths]
    async with BrokerClient(url, token) as client:
        return await client.publish(pacts, consumer_version=consumer_version, branch=branch)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.contract.publish")
    parser.add_argument("--pacts", type=Path, default=Path("contracts/pacts"))
    parser.add_argument("--consumer-version", required=True)
    parser.add_argument("--branch", default=None)
    args = parser.parse_args(argv)
    url = os.environ.get(BROKER_URL_ENV)
    if not url:
        print(f"publish: set ${BROKER_URL_ENV} (and ${BROKER_TOKEN_ENV})", file=sys.stderr)
        return 2
    try:
        lines = asyncio.run(
            publish_dir(
                args.pacts,
                url,
                os.environ.get(BROKER_TOKEN_ENV) or None,
                args.consumer_version,
                args.branch,
            )
        )
    except (PactFileError, BrokerError) as exc:
        print(f"publish: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
