"""Serving in the foreground, for a container: ``python -m testbed.serving --port 8000
--tokens-file FILE [--host 0.0.0.0] [--replicas N] [--state-dir DIR]``.

Trains (or reuses) the model and lays out the files like ``python -m testbed up`` does, then
*becomes* the gunicorn master (exec), so that it is the container's main process and a
SIGTERM from the kubelet stops the replicas gracefully. Used by deploy/k8s/testbed.yaml.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from testbed.registry.tokens import TokensError, load_tokens


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m testbed.serving", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--tokens-file", type=Path, required=True)
    parser.add_argument("--state-dir", type=Path, default=Path(".testbed"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not 1 <= args.replicas <= 32:
        print("testbed.serving: --replicas must lie between 1 and 32", file=sys.stderr)
        return 2
    try:
        load_tokens(args.tokens_file, {})
    except TokensError as exc:
        print(f"testbed.serving: {exc}", file=sys.stderr)
        return 2
    from testbed.serving.deployment import prepare_serving, serving_argv, serving_env

    state_dir = args.state_dir.resolve()
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    settings = prepare_serving(state_dir, args.tokens_file.resolve(), args.replicas)
    argv_exec = serving_argv(f"{args.host}:{args.port}", args.replicas)
    os.execve(argv_exec[0], argv_exec, serving_env(state_dir, settings))


if __name__ == "__main__":
    sys.exit(main())
