"""harness: one PASS / FAIL verdict for an ML platform release."""

__version__ = "0.1.0"
