"""Pact consumer tests: each test declares its interactions on a fresh ``Pact``, runs the
real typed client against the Pact mock server, and (only when it passed) merges its
interactions into ``contracts/pacts/<consumer>-<provider>.json``.

The pact files this suite writes are removed once at the start of the session, so an
interaction whose test was deleted does not linger (pact-python merges into an existing
file). Pact content is deterministic (no timestamps, interactions sorted by description),
so re-running leaves ``git diff`` clean. Run the whole directory to regenerate a pact:
running a subset writes a pact holding only that subset.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Pact

PACT_DIR = Path(__file__).resolve().parent / "pacts"
WRITTEN = {
    ("pipeline-orchestrator", "model-registry"),
    ("inference-gateway", "model-serving"),
}


@pytest.fixture(scope="session")
def pact_dir() -> Path:
    PACT_DIR.mkdir(exist_ok=True)
    for consumer, provider in WRITTEN:
        (PACT_DIR / f"{consumer}-{provider}.json").unlink(missing_ok=True)
    return PACT_DIR


PactFactory = Callable[[], Pact]


@pytest.fixture
def registry_pact(pact_dir: Path) -> Pact:
    return Pact("pipeline-orchestrator", "model-registry").with_specification("V4")


@pytest.fixture
def serving_pact(pact_dir: Path) -> Pact:
    return Pact("inference-gateway", "model-serving").with_specification("V4")


@contextlib.contextmanager
def mock_provider(pact: Pact) -> Iterator[str]:
    """Serve ``pact``'s interactions; on a clean exit (every interaction matched), merge
    them into the committed pact file."""
    with pact.serve(addr="127.0.0.1") as server:
        yield str(server.url).rstrip("/")
    pact.write_file(PACT_DIR, overwrite=False)
