"""Analysing a workspace: a signature for every failed run and detector evidence for every run.

:func:`analyze` finds the runs whose analysis is missing or stale (new or re-imported runs, or every run
when the analysis itself changed version), builds their signatures and detections in batches and stores
them in ``signatures`` and ``detections``, one transaction per batch. Successful runs get no signature;
their detections are kept as the contrast (a finding as common in successes is not a cause) and only the
detectors that read successes on purpose (a success can be a cheat) propose anything for them. A second
pass (:func:`triage.failures.contrast.weigh`) then rates every detection against successes and sets each
failure's cause and detail.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from sqlite3 import Connection
from typing import Any

import orjson
from pydantic import ValidationError

from triage.db import now, write_transaction
from triage.db.sqlite import Database
from triage.failures.batches import BATCH, batch_results, workers_for
from triage.failures.causes import outcome_cause, success_details
from triage.failures.context import RunContext
from triage.failures.contrast import SUCCESS_LINES_KEY, weigh
from triage.failures.detectors import DETECTORS
from triage.failures.normalize import clip
from triage.failures.signature import build_signature
from triage.ingest.findings import IMPORTED_DETECTORS
from triage.ingest.store import decode_messages
from triage.models import Detection, Failure, Message
from triage.settings import get_setting, set_setting

# Bump when signatures or detectors change meaning: every run is then re-analysed on the next call.
ANALYZER_VERSION = 9  # 9: an answer's closing courtesy is not its tail; 8: a finish(message=...) call is an answer
VERSION_KEY = "failures.version"
STAMP_KEY = "failures.analyzed_at"
SUCCESS_LINES_KEPT = 500  # per agent: the most common error lines of its successful runs

Progress = Callable[[int, int], None]


def stale_runs(db: Database) -> list[str]:
    """Ids of runs whose analysis is missing or out of date, sorted."""
    if get_setting(db, VERSION_KEY) != ANALYZER_VERSION:
        return [r[0] for r in db.execute("SELECT id FROM runs ORDER BY id")]
    stamp = get_setting(db, STAMP_KEY)
    failed = db.execute(
        "SELECT r.id FROM runs r LEFT JOIN signatures s ON s.run_id = r.id "
        "WHERE r.status != 'success' AND (s.run_id IS NULL OR s.computed_at < r.imported_at)"
    )
    ids = {r[0] for r in failed}
    # Successes carry no signature; those imported after the last full analysis are new to it. So are
    # runs that succeed now but kept a signature from when they failed.
    ids.update(
        r[0]
        for r in db.execute(
            "SELECT id FROM runs WHERE status = 'success' AND (? IS NULL OR imported_at > ?) "
            "UNION SELECT r.id FROM runs r JOIN signatures s ON s.run_id = r.id WHERE r.status = 'success'",
            [stamp, stamp],
        )
    )
    return sorted(ids)


def analyze_run(run: dict[str, Any], messages: list[Message]) -> tuple[Failure | None, list[Detection], list[str]]:
    """Signature (None for a success), detections and error notes for one run; never raises.

    Every detector runs on every run: a success's findings are the contrast for the failures' ones.
    Each detection's ``detail`` records the detector's own proposal (``proposed``) and whether the
    detector reads successes on purpose (``on_success``).
    """
    ctx = RunContext(run, messages)
    notes: list[str] = []
    failure: Failure | None = None
    if ctx.failed:
        try:
            failure = build_signature(ctx)
        except Exception as exc:  # noqa: BLE001 - a bad transcript must not stop the batch: keep a plain signature
            notes.append(f"signature: {type(exc).__name__}: {exc}")
            failure = Failure(run_id=ctx.run_id, signature=f"{ctx.status}; evidence unreadable", kind="score")
    detections: list[Detection] = []
    for name, detector in DETECTORS.items():
        try:
            found = detector.fn(ctx)
        except Exception as exc:  # noqa: BLE001 - one detector's bug must not lose the others' evidence
            notes.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        for d in found:
            d.detail = {**d.detail, "proposed": d.category, **({"on_success": True} if detector.on_success else {})}
            if not ctx.failed and not detector.on_success:
                d.category = None
        detections.extend(found)
    return failure, detections, notes


def failure_outcome(
    run: dict[str, Any], messages: list[Message], failure: Failure, notes: list[str]
) -> tuple[str, str]:
    """The outcome cause and detail of a failure. Never raises: when the cause rules fail on a run, the
    signature's kind stands in and the error goes to ``notes`` (analyze reports it with the run)."""
    try:
        return outcome_cause(RunContext(run, messages), failure)
    except Exception as exc:  # noqa: BLE001 - a bad transcript must not stop the batch
        notes.append(f"cause: {type(exc).__name__}: {exc}")
        return "wrong_answer" if failure.kind == "final_message" else failure.kind, ""


def analyze(
    db: Database,
    run_ids: Iterable[str] | None = None,
    progress: Progress | None = None,
    *,
    force: bool = False,
    workers: int | None = None,
) -> dict[str, Any]:
    """Build and store signatures and detections for ``run_ids`` (default: every stale run; with
    ``force``, every run).

    Batches are analysed in ``workers`` processes (default: the usable cores once there are a few
    batches; 1 analyses in this process) and stored in order by this one, so the result is the same.

    Returns a summary: runs analysed, failures, successes, signatures by kind, the analysed failures by
    cause (after the contrast pass), detections by detector, and per-run errors (a run whose transcript
    cannot be read still gets a signature).
    """
    started = time.perf_counter()
    stamp = now()
    # The newest import this analysis covers: successes imported later are new to the next one.
    newest = db.execute("SELECT max(imported_at) FROM runs").fetchone()[0]
    full = run_ids is None
    if force and full:
        ids = [r[0] for r in db.execute("SELECT id FROM runs ORDER BY id")]
    else:
        ids = stale_runs(db) if full else sorted(set(run_ids))
    summary: dict[str, Any] = {
        "analyzed": 0,
        "failures": 0,
        "successes": 0,
        "signatures": Counter(),
        "causes": Counter(),
        "detections": Counter(),
        "errors": [],
    }
    conn = db.conn
    # Error lines successful runs show, per agent: a failure's detail must not be one of them.
    success_lines: dict[str, Counter] = {}
    failed: list[str] = []
    done = 0
    notes: list[str] = []
    work = partial(_analyze_batch, stamp=stamp)
    for batch, result in batch_results(db, ids, work, workers_for(workers, len(ids)), notes):
        summary["analyzed"] += result.analyzed
        summary["failures"] += len(result.failed)
        summary["successes"] += len(result.successes)
        summary["signatures"].update(result.kinds)
        summary["detections"].update(result.detected)
        summary["errors"].extend(result.errors)
        failed.extend(result.failed)
        for agent, lines in result.success_lines.items():
            success_lines.setdefault(agent, Counter()).update(lines)
        _store_batch(conn, batch, result)
        done += len(batch)
        if progress:
            progress(done, len(ids))
    if ids:
        _store_success_lines(db, success_lines, replace=full and len(ids) == _count_runs(db))
        # Rates change with every run added: the contrast pass always covers the whole workspace.
        summary["contrast"] = weigh(db)
        summary["causes"] = _cause_counts(db, failed)
    if full:
        set_setting(db, VERSION_KEY, ANALYZER_VERSION)
        set_setting(db, STAMP_KEY, newest)
    summary["signatures"] = dict(sorted(summary["signatures"].items()))
    summary["detections"] = dict(sorted(summary["detections"].items()))
    summary["causes"] = dict(sorted(summary["causes"].items(), key=lambda kv: (-kv[1], kv[0])))
    summary["notes"] = notes
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


@dataclass
class _Batch:
    """What one batch's analysis gives the writer: rows to store and its part of the summary."""

    analyzed: int = 0
    signatures: list[tuple] = field(default_factory=list)
    detections: list[tuple] = field(default_factory=list)
    successes: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    detected: Counter = field(default_factory=Counter)
    errors: list[dict[str, str]] = field(default_factory=list)
    success_lines: dict[str, Counter] = field(default_factory=dict)


def _analyze_batch(rows: list[tuple[dict[str, Any], bytes | None]], *, stamp: str) -> _Batch:
    """Analyse one batch of (run row, stored transcript) pairs; pure, so it runs in a worker process."""
    out = _Batch()
    for run, blob in rows:
        try:
            messages = decode_messages(blob)
        except (zlib.error, ValidationError, ValueError) as exc:
            out.errors.append({"run_id": run["id"], "error": f"transcript: {clip(str(exc), 300)}"})
            messages = []
        failure, found, notes = analyze_run(run, messages)
        out.analyzed += 1
        if failure is None:
            out.successes.append(run["id"])
            out.success_lines.setdefault(str(run.get("agent")), Counter()).update(
                success_details(RunContext(run, messages))
            )
        else:
            out.kinds[failure.kind] += 1
            out.failed.append(run["id"])
            cause, cause_detail = failure_outcome(run, messages, failure, notes)
            out.signatures.append(
                (run["id"], failure.signature, failure.kind, failure.raw, failure.message_index, stamp,
                 cause, cause_detail, cause, cause_detail)
            )  # fmt: skip
        for d in found:
            if failure is not None or d.detail.get("on_success"):
                out.detected[d.detector] += 1  # a success's other findings are contrast only
            detail = orjson.dumps(d.detail, default=str).decode() if d.detail else None
            out.detections.append((run["id"], d.detector, d.category, d.message_index, d.excerpt, detail))
        out.errors.extend({"run_id": run["id"], "error": note} for note in notes)
    return out


def _store_batch(conn: Connection, batch: list[str], result: _Batch) -> None:
    """Replace the stored analysis of ``batch`` with ``result`` in one write transaction."""
    marks = ", ".join("?" for _ in batch)
    with write_transaction(conn):
        # Runs deleted by a re-import since they were read get nothing (their rows would break the FK).
        alive = {r[0] for r in conn.execute(f"SELECT id FROM runs WHERE id IN ({marks})", batch)}
        signatures = [row for row in result.signatures if row[0] in alive]
        detections = [row for row in result.detections if row[0] in alive]
        successes = [run_id for run_id in result.successes if run_id in alive]
        # Findings imported from other tools (Scout scans) are the file's, not the analysis': kept.
        conn.execute(
            f"DELETE FROM detections WHERE run_id IN ({marks}) AND detector NOT LIKE ?",
            [*batch, IMPORTED_DETECTORS],
        )
        if successes:
            conn.execute(f"DELETE FROM signatures WHERE run_id IN ({', '.join('?' for _ in successes)})", successes)
        conn.executemany(
            "INSERT OR REPLACE INTO signatures (run_id, signature, kind, raw, message_index, computed_at, "
            "cause, detail, outcome_cause, outcome_detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            signatures,
        )
        conn.executemany(
            "INSERT OR IGNORE INTO detections (run_id, detector, category, message_index, excerpt, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            detections,
        )


def _cause_counts(db: Database, run_ids: list[str]) -> Counter:
    """Failures by their final cause (set by the contrast pass, so read back after it)."""
    counts: Counter = Counter()
    for start in range(0, len(run_ids), BATCH):
        chunk = run_ids[start : start + BATCH]
        counts.update(
            dict(
                db.execute(
                    f"SELECT coalesce(cause, 'unknown'), count(*) FROM signatures "
                    f"WHERE run_id IN ({', '.join('?' for _ in chunk)}) GROUP BY 1",
                    chunk,
                ).fetchall()
            )
        )
    return counts


def _count_runs(db: Database) -> int:
    return db.execute("SELECT count(*) FROM runs").fetchone()[0]


def _store_success_lines(db: Database, found: dict[str, Counter], *, replace: bool) -> None:
    """Merge this analysis's success error lines into the workspace setting (replace on a full pass)."""
    stored = {} if replace else (get_setting(db, SUCCESS_LINES_KEY) or {})
    for agent, counts in found.items():
        merged = Counter(stored.get(agent) or {})
        merged.update(counts)
        stored[agent] = dict(merged.most_common(SUCCESS_LINES_KEPT))
    set_setting(db, SUCCESS_LINES_KEY, stored)


def is_stale(db: Database) -> bool:
    """Whether any run still needs analysing."""
    return bool(stale_runs(db))


def run_detections(db: Database, run_id: str) -> list[dict[str, Any]]:
    """One run's stored detections, strongest first (unweighed ones last), then by message index and detector."""
    rows = db.execute(
        "SELECT detector, category, message_index, excerpt, detail, strength, fail_rate, success_rate "
        "FROM detections WHERE run_id = ? "
        "ORDER BY strength IS NULL, strength DESC, coalesce(message_index, -1), detector",
        [run_id],
    ).fetchall()
    return [
        {
            "detector": r[0],
            "category": r[1],
            "message_index": r[2],
            "excerpt": r[3],
            "detail": orjson.loads(r[4]) if r[4] else {},
            "strength": r[5],
            "fail_rate": r[6],
            "success_rate": r[7],
        }
        for r in rows
    ]


def run_signature(db: Database, run_id: str) -> dict[str, Any] | None:
    """One run's stored signature row, or None."""
    row = db.execute(
        "SELECT signature, kind, raw, message_index, computed_at, cause, detail, outcome_cause, outcome_detail "
        "FROM signatures WHERE run_id = ?",
        [run_id],
    ).fetchone()
    if row is None:
        return None
    names = ("signature", "kind", "raw", "message_index", "computed_at", "cause", "detail", "outcome_cause",
             "outcome_detail")  # fmt: skip
    return dict(zip(names, row, strict=True))
