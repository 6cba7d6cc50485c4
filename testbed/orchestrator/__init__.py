"""The pipeline orchestrator (the Pact consumer "pipeline-orchestrator"): runs
ingest -> train -> evaluate -> register jobs and registers the models it trains through
:mod:`testbed.registry_client`. Run with ``python -m testbed.orchestrator``. No auth."""
