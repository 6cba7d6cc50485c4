"""The ``harness`` command's entry point (and ``python -m harness``).

Importing the CLI takes about a second (rich, the stages); a Ctrl-C in that second is an
interrupt like any other (``harness: interrupted``, exit 130), not a traceback.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


def main() -> int:
    try:
        from harness.cli import main as cli_main
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return cli_main()
