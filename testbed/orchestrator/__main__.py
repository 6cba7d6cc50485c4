"""``python -m testbed.orchestrator --host 127.0.0.1 --port PORT --registry-url URL
--token-file PATH``

Serves the pipeline orchestrator with uvicorn. The token file is the registry's tokens JSON
({"read", "write", "admin"}); the orchestrator uses the write token.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import uvicorn

from testbed.orchestrator.app import OrchestratorSettings, create_app
from testbed.registry.tokens import TokensError, load_tokens


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m testbed.orchestrator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--registry-url", required=True)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--cpu-workers", type=int, default=2)
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        tokens = load_tokens(args.token_file, os.environ)
    except TokensError as exc:
        print(f"testbed.orchestrator: {exc}", file=sys.stderr)
        return 2
    if args.cpu_workers < 1:
        print("testbed.orchestrator: --cpu-workers must be at least 1", file=sys.stderr)
        return 2
    settings = OrchestratorSettings(
        registry_url=args.registry_url, registry_token=tokens.write, cpu_workers=args.cpu_workers
    )
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
