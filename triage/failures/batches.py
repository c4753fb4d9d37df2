"""Runs in batches, analysed in worker processes and handed back in order to the one writer.

:func:`batch_results` reads each batch of runs (row and stored transcript) in this process, has ``work`` done
on it in forked worker processes, at most two batches per worker ahead, and yields the results in batch
order, so what the caller stores is what a one-process analysis stores. :func:`workers_for` picks the
number of processes.
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from triage.db.sqlite import Database
from triage.ingest.pool import default_workers
from triage.ingest.pool import submit as submit_to

BATCH = 400
POOL_MIN_BATCHES = 8  # below this many batches, analysis stays in this process

T = TypeVar("T")
Row = tuple[dict[str, Any], bytes | None]  # a run's row and its stored transcript
Work = Callable[[list[Row]], T]


def rows(db: Database, ids: list[str]) -> Iterable[Row]:
    """The runs ``ids`` (sorted) with their stored transcripts, read in one query."""
    marks = ", ".join("?" for _ in ids)
    cursor = db.execute(
        f"SELECT r.*, t.messages AS _messages FROM runs r LEFT JOIN transcripts t ON t.run_id = r.id "
        f"WHERE r.id IN ({marks}) ORDER BY r.id",
        ids,
    )
    columns = [c[0] for c in cursor.description]
    for values in cursor:
        row = dict(zip(columns, values, strict=True))
        yield row, row.pop("_messages")


def workers_for(workers: int | None, runs: int) -> int:
    """Processes for analysing ``runs`` runs: as asked, else the usable cores once there are a few batches."""
    if workers is not None:
        return max(1, workers)
    # A pool pays for itself only over a few batches per worker.
    return default_workers() if runs >= POOL_MIN_BATCHES * BATCH else 1


def batch_results(
    db: Database, ids: list[str], work: Work[T], workers: int, notes: list[str]
) -> Iterator[tuple[list[str], T]]:
    """Each batch of ``ids`` with its analysis, in order; workers analyse up to two batches each ahead.

    A worker that dies (the OS killed it: memory, most likely) costs no batch: that one and the rest are
    analysed in this process, and ``notes`` says so."""
    batches = [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]
    todo = iter(batches)
    if workers > 1 and len(batches) > 1:
        yield from _pooled(db, todo, work, workers, notes)
    for batch in todo:
        yield batch, work(list(rows(db, batch)))


def _pooled(
    db: Database, todo: Iterator[list[str]], work: Work[T], workers: int, notes: list[str]
) -> Iterator[tuple[list[str], T]]:
    # fork: workers start with every detector loaded (Linux only; elsewhere the platform's default).
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
    pool = ProcessPoolExecutor(workers, mp_context=context)
    pending: deque[tuple[list[str], Future[T]]] = deque()

    def submit() -> None:
        batch = next(todo, None)
        if batch is not None:
            pending.append((batch, submit_to(pool, work, list(rows(db, batch)))))

    try:
        # Frozen objects are never visited by the workers' garbage collector: the parent's heap stays shared.
        gc.freeze()
        try:
            for _ in range(2 * workers):
                submit()
        finally:
            gc.unfreeze()
        while pending:
            batch, future = pending.popleft()
            try:
                result = future.result()
            except BrokenProcessPool:
                notes.append("an analysis process died (out of memory?): the rest was analysed in this process")
                for lost, _ in [(batch, future), *pending]:
                    yield lost, work(list(rows(db, lost)))
                pending.clear()
                return
            submit()
            yield batch, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
