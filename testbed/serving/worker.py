"""The serving replicas' gunicorn worker: uvicorn's, with a drain before a graceful stop.

uvicorn's graceful shutdown stops accepting and, in the same moment, closes every connection
that has not sent a request yet. A client that connected a millisecond earlier (accepted by
this worker, its request still in flight) then gets its connection closed: a rollout that
retires old replicas failed about one such request per retirement here (a watcher opening a
new connection per request at 40 req/s). So this worker first stops accepting, then for
``DRAIN_S`` answers whatever still arrives (the connections it had just accepted, and the
next request on each kept-alive connection) with ``Connection: close``, so that clients
reconnect to another replica instead of reusing a connection about to be closed under them
(a Locust user's request on such a connection failed with ConnectionResetError, about one
per rollout here); only then it shuts down - what a Kubernetes pod gets from its endpoints
being removed before SIGTERM, plus an HTTP drain.

Overrides ``UvicornWorker._serve`` (uvicorn-worker's own, pinned in constraints.txt).
"""

from __future__ import annotations

import asyncio
import socket
import sys

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

DRAIN_S = 1.5
_draining: list[bool] = []  # non-empty once this worker drains (one worker per process)


def draining() -> bool:
    """Whether this replica is draining: its answers then say ``Connection: close``."""
    return bool(_draining)


class DrainingServer(Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # stop accepting; the connections already accepted stay
        _draining.append(True)
        await asyncio.sleep(DRAIN_S)
        await super().shutdown(sockets)


class DrainingWorker(UvicornWorker):  # type: ignore[misc]  # untyped package
    async def _serve(self) -> None:
        self.config.app = self.wsgi
        server = DrainingServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
