"""Storing runs: the row layout, compact transcripts, and the batched writer of one file's records.

- :func:`encode_messages` / :func:`decode_messages` / :func:`load_transcript`: transcripts are stored as
  zstd-compressed JSON, one row per run, loadable one run at a time.
- :func:`run_record` / :func:`task_row`: a loaded :class:`~triage.models.Run` or
  :class:`~triage.models.Task` as a plain, picklable record (rows and encoded transcript), built where
  the file is parsed (a worker process or the importing one), so the writer only writes.
- :class:`RunWriter` buffers one file's records and writes them in bounded batches inside the caller's
  transaction (``executemany``, one ownership query per batch), so memory does not grow with the file.
"""

from __future__ import annotations

import operator
import sqlite3
import threading
import zlib
from typing import Any

import orjson
import zstandard
from pydantic import TypeAdapter

from triage.db import now
from triage.db.sqlite import Database
from triage.limits import check_int, check_storable
from triage.models import Message, Run, Task

RUN_COLUMNS = [
    "id", "source_id", "task_id", "sample_id", "epoch", "agent", "model", "score", "score_raw",
    "success", "status", "error", "error_type", "limit_type", "limit_value", "exit_status",
    "submission", "target", "started_at", "completed_at", "total_seconds", "working_seconds",
    "input_tokens", "output_tokens", "total_tokens", "n_messages", "weight_equal", "weight_invsqrt",
    "metadata", "imported_at",
]  # fmt: skip
# A run record's row leaves these two to the writer (they depend on the workspace, not the file).
_SOURCE_AT, _STAMP_AT = RUN_COLUMNS.index("source_id"), RUN_COLUMNS.index("imported_at")
# The columns read straight off a Run (one C-level getter: this runs once per run), and where the rest go.
_NOT_ON_RUN = ("source_id", "n_messages", "imported_at")
_ON_RUN = [c for c in RUN_COLUMNS if c not in _NOT_ON_RUN]
_RUN_ATTRIBUTES = operator.attrgetter(*_ON_RUN)
_N_MESSAGES_AT = RUN_COLUMNS.index("n_messages")
_SCORE_RAW_AT, _METADATA_AT, _SUCCESS_AT, _SUBMISSION_AT = map(
    _ON_RUN.index, ("score_raw", "metadata", "success", "submission")
)
_RUN_INSERT = f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' for _ in RUN_COLUMNS)})"
_RUN_UPSERT = f"{_RUN_INSERT} ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c}=excluded.{c}' for c in RUN_COLUMNS[1:])}"
_TRANSCRIPT_UPSERT = (
    "INSERT INTO transcripts (run_id, encoding, n_messages, messages) VALUES (?, 'zstd+json', ?, ?) "
    "ON CONFLICT(run_id) DO UPDATE SET encoding=excluded.encoding, n_messages=excluded.n_messages, "
    "messages=excluded.messages"
)
_TASK_UPSERT = (
    "INSERT INTO tasks (id, family, human_minutes, human_source, threshold, metadata) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET family=coalesce(excluded.family, family), "
    "human_minutes=coalesce(excluded.human_minutes, human_minutes), "
    "human_source=coalesce(excluded.human_source, human_source), "
    "threshold=coalesce(excluded.threshold, threshold), "
    "metadata=coalesce(excluded.metadata, metadata)"
)
# Truncate stored submissions: a patch can be megabytes and the full text stays in the transcript.
SUBMISSION_CHARS = 20_000
# Runs are written in batches of at most this many runs or this many bytes of encoded transcripts.
BATCH_RUNS = 256
BATCH_BYTES = 16 * 1024 * 1024
_PARAMS = 500  # bound parameters per IN (...) query, well under SQLite's limit

_INT_COLUMNS = ("epoch", "input_tokens", "output_tokens", "total_tokens")

# Record kinds (plain tuples: they cross process boundaries cheaply).
INFO, TASK, RUN = "info", "task", "run"

_MESSAGES = TypeAdapter(list[Message])


def encode_messages(messages: list[Message]) -> bytes:
    """Compact transcript storage: zstd-compressed JSON (a frame; ``transcripts.encoding`` 'zstd+json'),
    defaults dropped."""
    # One pydantic-core call for the whole list: about twice as fast as model_dump per message. zstd level 1
    # compresses about twice as fast as zlib level 1, to the same size (bench/import.py).
    return _compressor().compress(_MESSAGES.dump_json(messages, exclude_defaults=True))


def decode_messages(blob: bytes | None) -> list[Message]:
    """Inverse of :func:`encode_messages` (no blob: no messages); validated straight from JSON, which is fast.

    Reads zstd frames and the zlib streams of workspaces written before (the two differ in their first bytes).
    A corrupt blob raises ValueError (zlib.error for an old one).
    """
    if not blob:
        return []
    if blob[:4] == _ZSTD_MAGIC:
        try:
            data = _decompressor().decompress(blob)
        except zstandard.ZstdError as exc:
            raise ValueError(f"corrupt transcript ({exc})") from exc
    else:
        data = zlib.decompress(blob)
    return _MESSAGES.validate_json(data)


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_codecs = threading.local()  # zstd contexts are not thread-safe: one pair per thread (TUI workers decode too)


def _compressor() -> zstandard.ZstdCompressor:
    if not hasattr(_codecs, "compressor"):
        _codecs.compressor = zstandard.ZstdCompressor(level=1)
    return _codecs.compressor


def _decompressor() -> zstandard.ZstdDecompressor:
    if not hasattr(_codecs, "decompressor"):
        _codecs.decompressor = zstandard.ZstdDecompressor()
    return _codecs.decompressor


def load_transcript(db: Database, run_id: str) -> list[Message]:
    """One run's messages (empty when the run has no transcript)."""
    row = db.execute("SELECT messages FROM transcripts WHERE run_id = ?", [run_id]).fetchone()
    return decode_messages(row[0]) if row else []


def _json(value: Any, place: str) -> str | None:
    if value is None or value == {} or value == []:
        return None
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:  # too deep or an integer past 64 bits: Unstorable names the place (validate says it too)
        check_storable(value, place)
        raise


def task_row(task: Task) -> tuple:
    """A task as the row the ``tasks`` upsert takes."""
    metadata = _json(task.metadata, f"task {task.id}, metadata")
    return (task.id, task.family, task.human_minutes, task.human_source, task.threshold, metadata)


def _encode_run_messages(run: Run) -> bytes:
    try:
        return encode_messages(run.messages)
    except ValueError:  # pydantic's serializer refuses deep tool arguments: name the message
        for i, message in enumerate(run.messages):
            for j, call in enumerate(message.tool_calls):
                check_storable(call.arguments, f"run {run.id}, messages[{i}].tool_calls[{j}].arguments", 200)
        raise


def run_record(run: Run) -> tuple:
    """``(RUN, id, row, transcript, task row, scored)`` for one run: everything the writer needs, encoded.

    ``row`` follows :data:`RUN_COLUMNS` with ``source_id`` and ``imported_at`` left None (the writer
    fills them); ``transcript`` is ``(id, n_messages, blob)`` or None.
    """
    # Attribute access, not model_dump: this runs once per run and dumping the model costs more.
    submission = run.submission
    if submission and len(submission) > SUBMISSION_CHARS:
        submission = submission[:SUBMISSION_CHARS] + " …[truncated]"
    for column in _INT_COLUMNS:  # SQLite integers are 64-bit: a larger one must fail here, in validate too
        check_int(getattr(run, column), f"run {run.id}, {column}")
    row = list(_RUN_ATTRIBUTES(run))
    row[_SCORE_RAW_AT] = _json(run.score_raw, f"run {run.id}, score_raw")
    row[_METADATA_AT] = _json(run.metadata, f"run {run.id}, metadata")
    row[_SUCCESS_AT] = None if run.success is None else int(run.success)
    row[_SUBMISSION_AT] = submission
    row.insert(_SOURCE_AT, None)  # the columns a Run does not carry, in ascending order
    row.insert(_N_MESSAGES_AT, len(run.messages))
    row.insert(_STAMP_AT, None)
    row = tuple(row)
    if run.task is not None:
        trow = task_row(run.task)
    elif run.task_id is not None:
        trow = (run.task_id, None, None, None, None, None)
    else:
        trow = None
    blob = _encode_run_messages(run) if run.messages else None
    transcript = (run.id, len(run.messages), blob) if blob is not None else None
    scored = run.task_id is not None and run.score is not None
    return (RUN, run.id, row, transcript, trow, scored)


class RunWriter:
    """Buffers one file's run records and writes them in batches (executemany, one ownership query each).

    The buffer holds encoded records, never Run objects, and is flushed by count or by transcript
    bytes, so memory stays bounded however large the file is. ``result`` receives the counts
    (``runs_added``, ``runs_replaced``, ``runs_skipped``): an import's per-file result.
    """

    def __init__(self, conn: sqlite3.Connection, source_id: int, old_ids: set[str], result: Any):
        self.conn, self.source_id, self.old_ids, self.result = conn, source_id, old_ids, result
        self.stamp = now()
        self.rows: list[tuple[str, tuple, tuple | None, tuple | None, bool]] = []
        self.bytes = 0
        self.tasks_written: dict[str, tuple] = {}
        self.touched_tasks: set[str] = set()  # tasks whose runs may need re-binarising against a threshold
        self.skipped: set[str] = set()

    def add_task(self, row: tuple) -> None:
        if self.tasks_written.get(row[0]) != row:  # epochs of one sample repeat the same task row
            self.conn.execute(_TASK_UPSERT, row)
            self.tasks_written[row[0]] = row
        self.touched_tasks.add(row[0])

    def add_run(self, record: tuple) -> None:
        _, run_id, row, transcript, trow, scored = record
        row = (*row[:_SOURCE_AT], self.source_id, *row[_SOURCE_AT + 1 : _STAMP_AT], self.stamp, *row[_STAMP_AT + 1 :])
        self.rows.append((run_id, row, transcript, trow, scored))
        self.bytes += len(transcript[2]) if transcript else 0
        if len(self.rows) >= BATCH_RUNS or self.bytes >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        conn, ids = self.conn, [r[0] for r in self.rows]
        owners: dict[str, int | None] = {}  # run id -> the source it came from, for runs already stored
        for start in range(0, len(ids), _PARAMS):
            chunk = ids[start : start + _PARAMS]
            marks = ", ".join("?" for _ in chunk)
            owners.update(conn.execute(f"SELECT id, source_id FROM runs WHERE id IN ({marks})", chunk))
        foreign = {run_id for run_id, source in owners.items() if source is not None and source != self.source_id}
        # The same run already imported from another file (a copy): keep the first, count as skipped.
        rows = [r for r in self.rows if r[0] not in foreign]
        self.skipped |= foreign
        self.result.runs_skipped += len(foreign)
        bare_tasks: list[tuple] = []
        full_tasks: list[tuple] = []
        for _, _, _, trow, scored in rows:
            if trow is None:
                continue
            if scored:
                self.touched_tasks.add(trow[0])
            if self.tasks_written.get(trow[0]) == trow:
                continue
            if trow[1:] == (None, None, None, None, None):
                bare_tasks.append(trow[:1])
            else:
                full_tasks.append(trow)
            self.tasks_written[trow[0]] = trow
        # Tasks first: runs.task_id references them.
        conn.executemany("INSERT OR IGNORE INTO tasks (id) VALUES (?)", bare_tasks)
        conn.executemany(_TASK_UPSERT, full_tasks)
        # A plain INSERT costs about half an upsert: only runs already stored (this file's, or orphans of a
        # removed source) take the upsert.
        conn.executemany(_RUN_INSERT, [r[1] for r in rows if r[0] not in owners])
        conn.executemany(_RUN_UPSERT, [r[1] for r in rows if r[0] in owners])
        conn.executemany(_TRANSCRIPT_UPSERT, [r[2] for r in rows if r[2] is not None])
        replaced = [(r[0],) for r in rows if r[0] in self.old_ids]
        no_transcript = [(r[0],) for r in rows if r[2] is None and r[0] in self.old_ids]
        if no_transcript:
            conn.executemany("DELETE FROM transcripts WHERE run_id = ?", no_transcript)
        if replaced:
            # Derived analysis of a changed run is stale; labels are kept (separate table).
            conn.executemany("DELETE FROM signatures WHERE run_id = ?", replaced)
            conn.executemany("DELETE FROM detections WHERE run_id = ?", replaced)
        self.result.runs_replaced += len(replaced)
        self.result.runs_added += len(rows) - len(replaced)
        self.rows, self.bytes = [], 0
