"""Dynamic micro-batching: one :class:`Batcher` per model stage merges the rows of
concurrent requests into one model call.

A request submits its rows (``(n, ...)`` numpy); rows of requests that arrive while the
batch fills (at most ``max_wait_s`` after the first) are concatenated up to ``max_batch``
rows and computed by one call of ``fn`` on a worker thread (the event loop stays free);
each request gets back exactly its rows, in order. A request with more than ``max_batch``
rows is split into pieces. A batch waits only while rows admitted (see below) have not
arrived yet, so a lone request is not held back by the wait. Admission (:meth:`Batcher.admit`) is separate from submission
so that a route can reserve every stage it needs, and be refused, before doing any work.

Nothing here knows about HTTP or models: ``fn`` is any function of a row block, so a Ray
Serve deployment can run the same batcher around its own replica.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class QueueFull(Exception):
    """The stage has no room for the items asked for; ``retry_after`` is a hint in seconds."""

    def __init__(self, stage: str, waiting: int, capacity: int, retry_after: int) -> None:
        super().__init__(f"the {stage} queue is full ({waiting} of {capacity} items waiting); retry in "
                         f"{retry_after} s")
        self.retry_after = retry_after


class DeadlineExceeded(Exception):
    """The work could not finish before the request's deadline and was not computed."""


@dataclass
class _Job:
    rows: np.ndarray
    future: asyncio.Future
    deadline: float | None
    queued_at: float = field(default_factory=time.monotonic)


class Batcher:
    """Merges row blocks of concurrent requests into model calls of up to ``max_batch`` rows.

    Args:
        stage: a name for messages and metrics (``"encode"``, ``"decode"``).
        fn: the model stage, ``(n, ...) -> (n, ...)`` numpy, run on one worker thread.
        max_batch: most rows per call of ``fn`` (>= 1).
        max_wait_s: how long the first job of a batch waits for others to join (>= 0).
        capacity: most rows admitted and not finished (>= 1); past it :meth:`admit` refuses.
        metrics: optional :class:`~latentatlas.serve.metrics.Metrics`.
        initializer: optional function run once on the worker thread before any work
            (e.g. to set torch's thread count there).
    """

    def __init__(self, stage: str, fn: Callable[[np.ndarray], np.ndarray], *, max_batch: int, max_wait_s: float,
                 capacity: int, metrics: Any = None, initializer: Callable[[], None] | None = None) -> None:
        if max_batch < 1 or capacity < 1 or not max_wait_s >= 0:
            raise ValueError(f"max_batch and capacity must be >= 1 and max_wait_s >= 0, got {max_batch}, "
                             f"{capacity}, {max_wait_s}")
        self.stage, self.fn = stage, fn
        self.max_batch, self.max_wait_s, self.capacity = int(max_batch), float(max_wait_s), int(capacity)
        self.metrics = metrics
        self.admitted = 0  # rows admitted and not finished
        self.item_seconds = 0.0  # moving average of model time per row
        self._busy = False
        self._running = 0  # rows in the model call now running
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"batcher-{stage}",
                                            initializer=initializer)

    # ------------------------------------------------------------------ admission

    def room(self) -> bool:
        """Whether any row could be admitted now (checked before a request body is read)."""
        return self.admitted < self.capacity

    def retry_after(self, extra: int = 0) -> int:
        """Seconds until the rows now admitted (plus ``extra``) should be done, at least 1."""
        return max(1, math.ceil((self.admitted + extra) * self.item_seconds))

    def expected_seconds(self, n: int) -> float:
        """The expected time until ``n`` more rows would be computed, from the measured rate."""
        return (self.admitted + n) * self.item_seconds

    def admit(self, n: int) -> None:
        """Reserve room for ``n`` rows (release with :meth:`release`); QueueFull when none."""
        if self.admitted + n > self.capacity:
            raise QueueFull(self.stage, self.admitted, self.capacity, self.retry_after(n))
        self.admitted += n
        self._gauge()

    def release(self, n: int) -> None:
        """Give back ``n`` admitted rows."""
        self.admitted = max(0, self.admitted - n)
        self._gauge()

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.queued.labels(self.stage).set(self.admitted)

    # ------------------------------------------------------------------ work

    def start(self) -> None:
        """Start the worker task on the running event loop."""
        self._pending: deque[_Job] = deque()
        self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"batcher-{self.stage}")

    async def stop(self) -> None:
        """Stop the worker (after the jobs already queued are done) and its thread."""
        if self._task is not None:
            while self._pending or self._busy:
                await asyncio.sleep(0.01)
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)

    async def submit(self, rows: np.ndarray, deadline: float | None = None) -> np.ndarray:
        """The result of ``fn`` on ``rows`` (computed with other requests' rows), in order.

        ``deadline`` (a :func:`time.monotonic` time) drops rows that cannot be computed in
        time with :class:`DeadlineExceeded` instead of computing them.
        """
        if self._task is None:
            raise RuntimeError(f"the {self.stage} batcher is not started")
        loop = asyncio.get_running_loop()
        jobs = [_Job(rows[i:i + self.max_batch], loop.create_future(), deadline)
                for i in range(0, len(rows), self.max_batch)]
        self._pending.extend(jobs)
        self._arrived.set()
        parts = await asyncio.gather(*(job.future for job in jobs))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    async def _collect(self) -> list[_Job]:
        """The next batch: the first job, then others until full or ``max_wait_s`` passed."""
        while not self._pending:
            self._arrived.clear()
            await self._arrived.wait()
        jobs = [self._pending.popleft()]
        size = len(jobs[0].rows)
        end = time.monotonic() + self.max_wait_s
        while size < self.max_batch:
            if self._pending:
                if size + len(self._pending[0].rows) > self.max_batch:
                    break  # it opens the next batch
                jobs.append(self._pending.popleft())
                size += len(jobs[-1].rows)
                continue
            # wait only for rows known to be on their way: admitted, not yet submitted
            # (a lone request is not held back by max_wait_s)
            coming = self.admitted - self._running - size
            left = end - time.monotonic()
            if left <= 0 or coming <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except asyncio.TimeoutError:
                break
        return jobs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._busy = False
            jobs = await self._collect()
            self._busy = True
            now = time.monotonic()
            live = []
            for job in jobs:
                if job.future.done():  # the request went away
                    continue
                if job.deadline is not None and now + len(job.rows) * self.item_seconds > job.deadline:
                    job.future.set_exception(DeadlineExceeded(f"the {self.stage} work could not finish before "
                                                              "the request's deadline"))
                    if self.metrics is not None:
                        self.metrics.dropped.labels(self.stage).inc(len(job.rows))
                    continue
                live.append(job)
            if not live:
                continue
            block = live[0].rows if len(live) == 1 else np.concatenate([j.rows for j in live])
            start = time.perf_counter()
            self._running = sum(len(j.rows) for j in jobs)
            try:
                out = await loop.run_in_executor(self._executor, self.fn, block)
            except Exception as exc:  # the model failed: every request of the batch hears it
                for job in live:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            finally:
                self._running = 0
            seconds = time.perf_counter() - start
            per_item = seconds / len(block)
            self.item_seconds = per_item if self.item_seconds == 0 else 0.8 * self.item_seconds + 0.2 * per_item
            if self.metrics is not None:
                self.metrics.batch_items.labels(self.stage).observe(len(block))
                self.metrics.model_calls.labels(self.stage).inc()
                self.metrics.items.labels(self.stage).inc(len(block))
            at = 0
            for job in live:
                n = len(job.rows)
                if not job.future.done():
                    job.future.set_result(out[at:at + n])
                at += n
