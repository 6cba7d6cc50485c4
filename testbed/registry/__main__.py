"""``python -m testbed.registry --host 127.0.0.1 --port PORT [--database-url URL]
[--tokens-file PATH] [--fault NAME ...] [--state-dir DIR]``

Serves the registry with uvicorn in this process. The database is PostgreSQL when
``--database-url postgresql://...`` (or $DATABASE_URL) is given, else a SQLite file in the
state directory. Tokens come from --tokens-file or $REGISTRY_TOKENS (one is required).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from testbed.registry.database import DatabaseUrlError, normalize_url, sqlite_url
from testbed.registry.faults import UnknownFault, check_fault_names
from testbed.registry.tokens import TokensError, load_tokens

DEFAULT_STATE_DIR = Path(".testbed") / "registry"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m testbed.registry", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", default=None, help="postgresql://... (or $DATABASE_URL)")
    parser.add_argument("--tokens-file", type=Path, default=None)
    parser.add_argument(
        "--fault", action="append", default=[], metavar="NAME", help="repeatable; see README.md"
    )
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        tokens = load_tokens(args.tokens_file, os.environ)
        faults = check_fault_names(args.fault)
        database_url = args.database_url or os.environ.get("DATABASE_URL")
        if database_url:
            database_url = normalize_url(database_url)
        else:
            args.state_dir.mkdir(parents=True, exist_ok=True)
            database_url = sqlite_url(args.state_dir)
    except (TokensError, UnknownFault, DatabaseUrlError, OSError) as exc:
        print(f"testbed.registry: {exc}", file=sys.stderr)
        return 2
    # Imported only once the options are good, so a bad option fails fast.
    import uvicorn

    from testbed.registry.app import RegistrySettings, create_app

    app = create_app(RegistrySettings(database_url=database_url, tokens=tokens, faults=faults))
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
