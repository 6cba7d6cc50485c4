"""``junit.xml``: a testsuite per step, a testcase per criterion / interaction / probe."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.outcome import CriterionResult, StepOutcome
from harness.status import Status
from harness.verdict import RunResult
from wholefile import write_atomically


def junit_tree(result: RunResult) -> ET.ElementTree[ET.Element]:
    root = ET.Element(
        "testsuites",
        name=f"harness {result.suite}",
        time=f"{result.finished_at - result.started_at:.3f}",
    )
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for stage, step in result.verdict.steps:
        suite = _step_suite(stage, step)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    return ET.ElementTree(root)


def _step_suite(stage: str, step: StepOutcome) -> ET.Element:
    classname = f"{stage}.{step.name}"
    duration_s = max(0.0, step.finished_at - step.started_at)
    suite = ET.Element("testsuite", name=step.name, time=f"{duration_s:.3f}")
    cases = [_criterion_case(classname, c) for c in step.criteria]
    if step.status is not Status.PASS and not any(c.status is step.status for c in step.criteria):
        cases.insert(0, _step_case(classname, step))
    counts = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
    for case in cases:
        for tag, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            if case.find(tag) is not None:
                counts[key] += 1
    for key, value in counts.items():
        suite.set(key, str(value))
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="kind", value=step.kind)
    ET.SubElement(properties, "property", name="stage", value=stage)
    ET.SubElement(properties, "property", name="summary", value=step.summary)
    suite.extend(cases)
    return suite


def _step_case(classname: str, step: StepOutcome) -> ET.Element:
    case = ET.Element("testcase", name=step.name, classname=classname)
    _mark(case, step.status, step.summary, step.summary)
    return case


def _criterion_case(classname: str, criterion: CriterionResult) -> ET.Element:
    case = ET.Element("testcase", name=criterion.name, classname=classname)
    reason = criterion.reason or _observed_text(criterion)
    details = [reason]
    details += [
        f"{m.path}: expected {m.expected}, got {m.actual}" + (f" ({m.kind})" if m.kind else "")
        for m in criterion.mismatches
    ]
    _mark(case, criterion.status, reason, "\n".join(details))
    return case


def _observed_text(criterion: CriterionResult) -> str:
    unit = f" {criterion.unit}" if criterion.unit else ""
    return f"observed {criterion.observed}{unit}, threshold {criterion.threshold}{unit}"


def _mark(case: ET.Element, status: Status, message: str, text: str) -> None:
    tag = {Status.FAIL: "failure", Status.ERROR: "error", Status.SKIPPED: "skipped"}.get(status)
    if tag is None:
        return
    element = ET.SubElement(case, tag, message=message.splitlines()[0] if message else "")
    if tag != "skipped":
        element.text = text


def write_junit(result: RunResult, report_dir: Path) -> Path:
    path = report_dir / "junit.xml"
    tree = junit_tree(result)
    ET.indent(tree)
    data = ET.tostring(tree.getroot(), encoding="utf-8", xml_declaration=True)
    write_atomically(path, data + b"\n")
    return path
