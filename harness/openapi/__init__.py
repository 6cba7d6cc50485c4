"""The api stage: OpenAPI-driven checks of one service of the platform.

A ``kind: api`` step runs ``python -m harness.openapi.driver`` in a child process (hard
deadline through :mod:`harness.process`). The driver loads the service's OpenAPI
document with schemathesis and probes the live service: generated requests (no 5xx,
responses that conform to the schema), the auth matrix, hostile and malformed input, a
rate-limit burst, and the Prometheus metric names. It writes one results JSON; the stage
judges each check as a criterion (``harness.openapi.judge``).

Modules that import schemathesis or requests (``fuzz``, ``probes``, ``driver``,
``operations``) run only in the child; the stage imports none of them.
"""
