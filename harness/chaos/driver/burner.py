"""A bounded CPU burner: ``python -m harness.chaos.driver.burner DURATION_S LOAD_PERCENT``.

Waits for one line on stdin before burning (the driver records its pid in the fault ledger
first, then says go); EOF before that line means the driver died: exit without burning.
Burns ``LOAD_PERCENT`` of each 100 ms slice and exits by itself after ``DURATION_S``, so a
burner outlives nothing for long even if every revert path failed.
"""

from __future__ import annotations

import sys
import time

SLICE_S = 0.1


def burn(duration_s: float, load_percent: float) -> None:
    busy_s = SLICE_S * min(max(load_percent, 1.0), 100.0) / 100.0
    end = time.monotonic() + duration_s
    while (now := time.monotonic()) < end:
        slice_end = now + SLICE_S
        busy_end = now + busy_s
        while time.monotonic() < busy_end:
            pass
        rest = slice_end - time.monotonic()
        if rest > 0:
            time.sleep(rest)


def main(argv: list[str]) -> int:
    duration_s, load_percent = float(argv[0]), float(argv[1])
    if not sys.stdin.readline():
        return 0
    burn(duration_s, load_percent)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
