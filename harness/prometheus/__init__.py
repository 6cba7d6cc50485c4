"""Prometheus: the query client, PromQL criteria and results pushed to a Pushgateway.

Nothing here imports Locust, pact or chaoslib; the client is httpx, the push is
prometheus-client with a registry of its own.
"""
