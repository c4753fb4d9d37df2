"""Reading many files with every core: parser processes ahead, records handed over in file order.

:class:`Reader` plans each file (hash, parts) and parses parts in a ``ProcessPoolExecutor``, at most
``window`` parts ahead of the writer, so memory stays bounded whatever the batch; results are consumed
strictly in file and part order, so an import reads exactly what a serial one reads. With one worker
(or one small file) everything runs in this process, streamed. A file too large to send back whole and
that its loader cannot split is streamed in this process while the workers parse what follows it.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage.importers import LoadError, LoadOptions
from triage.importers.base import Loader
from triage.ingest.parse import WORKER_FILE_BYTES, Plan, error_from_dict, parse_part, plan_file
from triage.ingest.parse import records as read_records

_INLINE = object()


def submit(pool: ProcessPoolExecutor, fn: Callable[..., Any], /, *args: Any) -> Future:
    """``pool.submit``, or a future that holds the BrokenProcessPool when a worker died since the last call:
    the caller meets it where it reads that result, as it meets it for the work already in flight."""
    try:
        return pool.submit(fn, *args)
    except BrokenProcessPool as exc:
        failed: Future = Future()
        failed.set_exception(exc)
        return failed


def default_workers() -> int:
    """Worker processes for a parallel read: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class Job:
    """One file to read with its loader."""

    path: Path
    loader: Loader


@dataclass
class Decision:
    """What the reader decided for a job: ``plan`` (None when planning failed with ``error``), ``read``."""

    plan: Plan | None
    read: bool
    error: Exception | None = None


class Reader:
    """Reads jobs in order; see the module docstring. Use as a context manager."""

    def __init__(self, jobs: list[Job], options: LoadOptions, wanted: Callable[[Job, Plan], bool], workers: int):
        self.jobs, self.options, self.wanted = jobs, options, wanted
        self.workers = workers
        self.window = 2 * workers
        self.pool: ProcessPoolExecutor | None = None
        self.decisions: dict[int, Decision] = {}
        self.pending: deque[tuple[int, object]] = deque()  # (job index, future or _INLINE)
        self.abandoned: set[int] = set()
        self.rechecks: set[int] = set()  # a file listed twice: decided again when its turn comes
        self._plans: dict[int, Future] = {}  # job index -> its plan, submitted at most ``window`` jobs ahead
        self._feed: Iterator[tuple[int, object]] | None = None

    def __enter__(self) -> Reader:
        if self.workers > 1:
            # fork: workers start at once with every module the parent loaded (no re-import per worker).
            # (Linux only: elsewhere the platform's default, which imports triage afresh in each worker.)
            context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
            self.pool = ProcessPoolExecutor(self.workers, mp_context=context)
            # The workers start at the first submit. Frozen objects are never visited by their garbage
            # collector, so the parent's heap is not copied page by page into each worker (copy-on-write).
            gc.freeze()
            try:
                self._plan_ahead(0)
            finally:
                gc.unfreeze()
            self._feed = self._parts()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    # -- the planner: decisions and parts, in order, submitted at most ``window`` ahead -------------

    def _plan_ahead(self, index: int) -> None:
        """Submit the plans of jobs up to ``index + window``: only a few ahead, so the first parts are parsed
        at once rather than queued behind every file's hash."""
        assert self.pool is not None
        for ahead in range(index, min(index + self.window + 1, len(self.jobs))):
            if ahead not in self._plans:
                job = self.jobs[ahead]
                self._plans[ahead] = submit(self.pool, plan_file, job.path, job.loader.name, True)

    def _parts(self) -> Iterator[tuple[int, object]]:
        assert self.pool is not None
        seen: set[Path] = set()
        for index, job in enumerate(self.jobs):
            self._plan_ahead(index)
            try:
                plan = self._plans.pop(index).result()
            except Exception as exc:  # unreadable file: reported when its turn comes
                self.decisions[index] = Decision(None, False, exc)
                continue
            if job.path in seen:
                # The same file twice: decide when its turn comes (the first copy is written by then).
                self.decisions[index] = Decision(plan, True)
                self.rechecks.add(index)
                yield index, _INLINE
                continue
            seen.add(job.path)
            read = self.wanted(job, plan)
            self.decisions[index] = Decision(plan, read)
            if not read:
                continue
            if plan.parts is None and plan.size > WORKER_FILE_BYTES:
                yield index, _INLINE
                continue
            for part in plan.parts or (None,):
                if index in self.abandoned:
                    break
                yield index, submit(self.pool, parse_part, job.path, job.loader.name, self.options, part)

    def _top_up(self, until: int | None = None) -> None:
        """Submit parts until ``window`` are in flight (and, at least, until job ``until`` is decided)."""
        assert self._feed is not None
        while True:
            in_flight = sum(1 for _, f in self.pending if f is not _INLINE)
            if in_flight >= self.window and (until is None or until in self.decisions):
                return
            item = next(self._feed, None)
            if item is None:
                return
            self.pending.append(item)

    # -- the consumer ---------------------------------------------------------------------------

    def decide(self, index: int) -> Decision:
        """The decision for job ``index`` (jobs are consumed in order)."""
        if self.pool is None:
            job = self.jobs[index]
            try:
                plan = plan_file(job.path, job.loader.name, False)
            except Exception as exc:
                return Decision(None, False, exc)
            return Decision(plan, self.wanted(job, plan))
        while self.pending and self.pending[0][0] < index:  # a job its writer left unfinished
            self.discard(self.pending[0][0])
        self._top_up(until=index)
        decision = self.decisions.pop(index)
        if isinstance(decision.error, BrokenProcessPool):
            self._broken()
            return self.decide(index)
        if index in self.rechecks and decision.plan is not None:
            decision.read = self.wanted(self.jobs[index], decision.plan)
            if not decision.read:
                self.discard(index)
        return decision

    def records(self, index: int) -> Iterator[tuple]:
        """The records of job ``index``, in order; raises the LoadError that stopped it."""
        job = self.jobs[index]
        if self.pool is None:
            yield from read_records(job.path, job.loader, self.options)
            return
        while True:
            self._top_up()
            if not self.pending or self.pending[0][0] != index:
                return
            _, future = self.pending.popleft()
            if future is _INLINE:
                yield from read_records(job.path, job.loader, self.options)
                continue
            try:
                out, error = future.result()  # type: ignore[union-attr]
            except BrokenProcessPool as exc:
                # Not retried here: what killed the worker (memory, most likely) would kill this process.
                self._broken()
                raise LoadError(job.path, None, "a parser process died while reading this file (out of memory?); "
                                "the rest of the batch is read in the importing process") from exc  # fmt: skip
            self._top_up()  # keep the workers busy while this part is written
            yield from out
            if error is not None:
                raise error_from_dict(error)

    def _broken(self) -> None:
        """A worker died (the OS killed it): read every remaining job in this process instead."""
        assert self.pool is not None
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None
        self.pending.clear()

    def discard(self, index: int) -> None:
        """Drop what is left of job ``index`` (after an error): cancel or ignore its remaining parts."""
        self.abandoned.add(index)
        while self.pending and self.pending[0][0] == index:
            _, future = self.pending.popleft()
            if future is not _INLINE:
                future.cancel()  # type: ignore[union-attr]
