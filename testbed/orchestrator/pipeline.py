"""One pipeline run, ingest -> train -> evaluate -> register, as an asyncio job.

CPU-bound steps run in a small thread pool behind a semaphore, so many concurrent runs
queue for the CPU instead of piling up; the registry is reached only through the client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from testbed.orchestrator.runs import RunBook, StepRecord, finished_step
from testbed.orchestrator.training import evaluate_accuracy, make_dataset, train_classifier
from testbed.registry_client import ModelSpec, RegistryClient

T = TypeVar("T")


class StepFailed(Exception):
    """A step failed; the message is the run's error text."""


@dataclass(frozen=True)
class PipelineJob:
    run_id: str
    name: str
    version: str
    samples: int
    seed: int


class PipelineRunner:
    """Runs jobs on a shared thread pool and registry client; owns their asyncio tasks."""

    def __init__(self, client: RegistryClient, book: RunBook, cpu_workers: int = 2) -> None:
        self._client = client
        self._book = book
        self._executor = ThreadPoolExecutor(cpu_workers, thread_name_prefix="pipeline-cpu")
        self._cpu_slots = asyncio.Semaphore(cpu_workers)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, job: PipelineJob) -> None:
        task = asyncio.create_task(self._run(job), name=f"pipeline-{job.run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def _on_cpu(self, fn: Callable[[], T]) -> T:
        async with self._cpu_slots:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _step(self, run_id: str, name: str, work: Callable[[], Awaitable[T]]) -> T:
        started_s = time.monotonic()
        self._book.record_step(run_id, StepRecord(name=name, status="running"))
        try:
            result = await work()
        except asyncio.CancelledError:
            self._book.record_step(run_id, finished_step(name, started_s, "cancelled"))
            raise
        except Exception as exc:
            error = f"{name}: {type(exc).__name__}: {exc}"
            self._book.record_step(run_id, finished_step(name, started_s, error))
            raise StepFailed(error) from exc
        self._book.record_step(run_id, finished_step(name, started_s))
        return result

    async def _run(self, job: PipelineJob) -> None:
        run_id = job.run_id
        try:
            dataset = await self._step(
                run_id, "ingest", lambda: self._on_cpu(lambda: make_dataset(job.samples, job.seed))
            )
            model = await self._step(
                run_id, "train", lambda: self._on_cpu(lambda: train_classifier(dataset))
            )
            accuracy = await self._step(
                run_id, "evaluate", lambda: self._on_cpu(lambda: evaluate_accuracy(model, dataset))
            )
            spec = ModelSpec(
                name=job.name,
                version=job.version,
                framework="scikit-learn",
                metrics={"accuracy": accuracy, "samples": float(dataset.samples)},
                tags={"run_id": run_id, "seed": str(job.seed)},
            )
            registered = await self._step(
                run_id, "register", lambda: self._client.register_model(spec)
            )
        except StepFailed as exc:
            self._finish(run_id, error=str(exc))
            return
        except asyncio.CancelledError:
            self._finish(run_id, error="cancelled: the orchestrator is shutting down")
            raise
        except Exception as exc:  # a bug here must still end the run, not leave it running
            self._finish(run_id, error=f"internal: {type(exc).__name__}: {exc}")
            return
        self._book.update(
            run_id,
            status="succeeded",
            model_id=registered.model_id,
            finished_monotonic_s=time.monotonic(),
        )

    def _finish(self, run_id: str, *, error: str) -> None:
        self._book.update(
            run_id, status="failed", error=error, finished_monotonic_s=time.monotonic()
        )
