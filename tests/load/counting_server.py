"""A tiny HTTP server of the load tests' own: answers every request in a fixed
5 ms and counts, per wall-clock second of arrival, what it received.

    python tests/load/counting_server.py --port P [--delay-ms 5]

``GET /counts`` answers {"<second>": n, ...} and is not counted itself. Raw asyncio
(HTTP/1.1 keep-alive, Content-Length bodies): nothing between the load and the count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter

COUNTS: Counter[int] = Counter()


async def _serve(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            arrived = int(time.time())
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            if path == "/counts":
                body = json.dumps({str(k): v for k, v in sorted(COUNTS.items())}).encode()
            else:
                COUNTS[arrived] += 1
                await asyncio.sleep(delay_s)
                body = b'{"ok":true}'
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _main(port: int, delay_s: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: _serve(r, w, delay_s), "127.0.0.1", port, backlog=1024
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=5.0)
    args = parser.parse_args()
    asyncio.run(_main(args.port, args.delay_ms / 1000.0))
