"""Project-wide pytest set-up: plugins only (area fixtures live in their own directories)."""

pytest_plugins = ["tests.postgres", "tests.prometheus_servers"]
