"""Gunicorn settings and hooks of the serving replicas.

Used as ``--config python:testbed.serving.gunicorn_conf``.

Tuned so a killed worker is replaced fast: the master notices a dead worker on SIGCHLD and
forks a new one. The app is not preloaded (each worker builds it and loads the model file
itself, so a replacement really depends on the artifact), but the heavy libraries are
imported once in the master (``on_starting``): a forked replacement then boots in well
under a second instead of re-importing scikit-learn for seconds.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

worker_class = "testbed.serving.worker.DrainingWorker"
preload_app = False
timeout = 30
graceful_timeout = 3
keepalive = 5
backlog = 2048
accesslog = None
loglevel = "info"
control_socket_disable = True  # gunicorn 27 would share ~/.gunicorn/gunicorn.ctl across testbeds


def _pods_dir() -> Path:
    return Path(os.environ["TESTBED_PODS_DIR"])


def on_starting(server: Any) -> None:
    import fastapi  # noqa: F401
    import joblib  # type: ignore[import-untyped]  # noqa: F401
    import numpy  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import uvicorn  # noqa: F401


def when_ready(server: Any) -> None:
    """The master is up: start its deployer (rolls out what the registry promotes)."""
    from testbed.serving.rollout import start_deployer
    from testbed.serving.settings import settings_from_env

    start_deployer(settings_from_env(), os.getpid())


def post_fork(server: Any, worker: Any) -> None:
    from testbed.serving.pods import new_pod_record, write_pod_record

    write_pod_record(_pods_dir(), new_pod_record(os.getpid(), int(worker.age)))


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    from testbed.serving.pods import remove_pod_record

    with contextlib.suppress(Exception):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
    remove_pod_record(_pods_dir(), int(worker.pid))
