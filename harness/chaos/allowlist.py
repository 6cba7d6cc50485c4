"""The blast radius: what a chaos experiment may touch, checked before anything is injected.

Local testbed: only serving pods listed by the testbed manifest, i.e. live children of the
manifest's gunicorn master, and only with a label selector that names them (an empty
selector, or one that matches no pod, is refused). Kubernetes: only namespaces and contexts
the suite's target allows, and never an empty selector (chaostoolkit-kubernetes would then
pick from every pod of the namespace).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SERVING_LABELS: Mapping[str, str] = {"app": "model-serving"}
_TERM_RE = re.compile(
    r"^\s*(?P<key>[A-Za-z0-9_./-]+)\s*(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9_.-]*)\s*$"
)


class BlastRadiusError(ValueError):
    """A target outside the allowlist; the message says what and why."""


@dataclass(frozen=True)
class SelectorTerm:
    key: str
    op: str  # "=" or "!="
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = labels.get(self.key)
        return present == self.value if self.op == "=" else present != self.value


def parse_label_selector(selector: str | None) -> tuple[SelectorTerm, ...]:
    """ "app=model-serving,tier!=db" -> terms. Empty or unsupported syntax is refused."""
    if selector is None or not selector.strip():
        raise BlastRadiusError(
            "an empty label selector would select every pod: name the pods (app=model-serving)"
        )
    terms: list[SelectorTerm] = []
    for part in selector.split(","):
        match = _TERM_RE.match(part)
        if not match:
            raise BlastRadiusError(
                f"label selector {selector!r}: {part.strip()!r} is not key=value or key!=value"
            )
        op = "!=" if match["op"] == "!=" else "="
        terms.append(SelectorTerm(match["key"], op, match["value"]))
    if not any(t.op == "=" for t in terms):
        raise BlastRadiusError(
            f"label selector {selector!r} has no key=value term: it would match almost everything"
        )
    return tuple(terms)


def selector_matches(terms: Sequence[SelectorTerm], labels: Mapping[str, str]) -> bool:
    return all(term.matches(labels) for term in terms)


def check_local_selector(selector: str | None) -> None:
    """A local selector must select serving pods (the only pods the testbed lists)."""
    terms = parse_label_selector(selector)
    if not selector_matches(terms, SERVING_LABELS):
        raise BlastRadiusError(
            f"label selector {selector!r} does not select the testbed's serving pods "
            f"(labels {dict(SERVING_LABELS)}): refused, it matches nothing the driver may touch"
        )


def check_kubernetes_scope(
    namespace: str,
    context: str | None,
    *,
    allowed_namespaces: Sequence[str],
    allowed_contexts: Sequence[str],
) -> None:
    """Namespace and context must be on the target's allowlists (an empty list allows only
    the default namespace and refuses any explicit context not listed)."""
    namespaces = tuple(allowed_namespaces) or ("default",)
    if namespace not in namespaces:
        raise BlastRadiusError(
            f"namespace {namespace!r} is not allowed (allowed: {', '.join(namespaces)})"
        )
    if context is not None and allowed_contexts and context not in allowed_contexts:
        raise BlastRadiusError(
            f"kubernetes context {context!r} is not allowed "
            f"(allowed: {', '.join(allowed_contexts)})"
        )
