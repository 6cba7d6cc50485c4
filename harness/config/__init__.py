"""Suite files: YAML with line numbers, pydantic models, file:line problems."""

from harness.config.loader import load_suite
from harness.config.suite import SuiteSpec, TargetSpec

__all__ = ["SuiteSpec", "TargetSpec", "load_suite"]
