"""The model registry (the Pact provider "model-registry"): a FastAPI app over SQLite or
PostgreSQL, run with ``python -m testbed.registry``. See README.md for the API and faults."""
