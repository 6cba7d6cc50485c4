"""A minimal keep-alive HTTP server for the overhead benchmark: answers every GET
with a fixed 200 (no body parsing), so that Locust, not the target, is the bottleneck.

    python bench/load_fast_server.py --port 8124
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
    b"Connection: keep-alive\r\n\r\n{\"status\":\"ok\"}"
)


class Answer(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:  # uvloop's is no asyncio.Transport
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")
        if count:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(RESPONSE * count)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Answer, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
