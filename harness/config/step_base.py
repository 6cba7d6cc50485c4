"""Kept for plug-ins written against the first wave: the step models' base classes live
in :mod:`harness.step_model` (outside this package, so that a stage's spec module never
imports the config loader)."""

from harness.step_model import JudgedStep, ParsedCriterion, StepBase

__all__ = ["JudgedStep", "ParsedCriterion", "StepBase"]
