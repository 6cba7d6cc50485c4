"""A report that cannot be written for a reason other than a file's OS error (a store)."""

from __future__ import annotations


class ReportFailed(Exception):
    """Its message says what could not be written and why (used as is in the verdict)."""
