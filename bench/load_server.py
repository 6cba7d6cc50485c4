"""A small stand-in platform for the load stage's tests and benchmarks (127.0.0.1 only).

    python bench/load_server.py --port 8123 [--delay fixed:ms=5 | lognormal:median=3,sigma=0.5
        | tail:base=2,p=0.02,tail=200] [--error-rate 0.05] [--stall-every 10 --stall 1]
        [--record delays.txt] [--seed 1]

Serves the serving API (POST /predict, GET /model-info, /health), the orchestrator
(POST /pipelines -> 202 {run_id}; GET /pipelines/{id}, done after --pipeline-s) and a
registry subset (GET /models/{id}, /models/{id}/versions, POST /models/register).
Every request to /predict and /model-info waits the injected delay; with --record the
injected delays (ms, one per line) are written at shutdown, as a reference distribution.
--stall-every S --stall D: for D seconds out of every S (from start) no request completes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def parse_delay(text: str) -> Callable[[random.Random], float]:
    kind, _, params = text.partition(":")
    values = {k: float(v) for k, v in (p.split("=") for p in params.split(",") if p)}
    if kind == "none":
        return lambda rng: 0.0
    if kind == "fixed":
        return lambda rng: values["ms"]
    if kind == "lognormal":
        import math

        mu = math.log(values["median"])
        return lambda rng: rng.lognormvariate(mu, values.get("sigma", 0.5))
    if kind == "tail":
        return lambda rng: values["tail"] if rng.random() < values["p"] else values["base"]
    raise SystemExit(f"unknown delay {text!r}")


class App:
    def __init__(self, args: argparse.Namespace) -> None:
        self.rng = random.Random(args.seed)
        self.delay = parse_delay(args.delay)
        self.error_rate = args.error_rate
        self.stall_every = args.stall_every
        self.stall_s = args.stall
        self.pipeline_s = args.pipeline_s
        self.started = time.monotonic()
        self.record: Path | None = args.record
        self.injected: list[float] = []
        self.pipelines: dict[str, float] = {}
        self.models: dict[str, dict[str, Any]] = {}

    def save_record(self) -> None:
        if self.record is not None:
            self.record.write_text("".join(f"{v}\n" for v in self.injected))

    async def stall(self) -> None:
        if not self.stall_every:
            return
        phase = (time.monotonic() - self.started) % self.stall_every
        if phase < self.stall_s:
            await asyncio.sleep(self.stall_s - phase)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    self.save_record()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await self.stall()
        status, payload = await self.route(scope["method"], scope["path"], body)
        data = json.dumps(payload).encode()
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        })
        await send({"type": "http.response.body", "body": data})

    async def route(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if path in ("/predict", "/model-info"):
            delay_ms = self.delay(self.rng)
            self.injected.append(delay_ms)
            if delay_ms > 0:
                await asyncio.sleep(delay_ms / 1000.0)
            if self.error_rate and self.rng.random() < self.error_rate:
                return 500, {"detail": "injected error"}
            if path == "/model-info":
                return 200, {"name": "iris", "version": "1", "features": 8}
            try:
                features = json.loads(body)["features"]
                assert isinstance(features, list) and len(features) == 8
            except Exception:
                return 422, {"detail": "features: 8 floats"}
            return 200, {"prediction": 1, "probability": 0.9, "model_version": "1"}
        if path in ("/health", "/ready", "/static"):
            return 200, {"status": "ok"}
        if path == "/pipelines" and method == "POST":
            run_id = uuid.uuid4().hex
            self.pipelines[run_id] = time.monotonic()
            return 202, {"run_id": run_id}
        if path.startswith("/pipelines/"):
            started = self.pipelines.get(path.rsplit("/", 1)[1])
            if started is None:
                return 404, {"detail": "no such run"}
            done = time.monotonic() - started >= self.pipeline_s
            return 200, {"status": "succeeded" if done else "running", "model_id": "m1"}
        if path == "/models/register" and method == "POST":
            data = json.loads(body or b"{}")
            model_id = uuid.uuid4().hex[:12]
            self.models[model_id] = data
            return 201, {"id": model_id, **data}
        if path.startswith("/models/"):
            parts = path.strip("/").split("/")
            if len(parts) == 3 and parts[2] == "versions":
                return 200, [{"version": "1", "stage": "production"}]
            return 200, {"id": parts[1], "name": "iris", "version": "1", "stage": "production"}
        return 404, {"detail": "not found"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", default="none")
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--stall-every", type=float, default=0.0)
    parser.add_argument("--stall", type=float, default=0.0)
    parser.add_argument("--pipeline-s", type=float, default=0.5)
    parser.add_argument("--record", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        App(args), host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
