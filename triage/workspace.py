"""What a workspace holds: counts for `triage info`, the demo summary and the TUI overview."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import orjson

from triage.db import applied

if TYPE_CHECKING:
    from triage.db.sqlite import Database


def _scalar(db: Database | sqlite3.Connection, sql: str, params: list[Any] | None = None) -> int:
    row = db.execute(sql, params or []).fetchone()
    return int(row[0] or 0) if row else 0


def summary(db: Database | sqlite3.Connection) -> dict[str, Any]:
    """Counts of everything in the workspace, as `triage info --json` prints them (from either handle)."""
    runs_by_status = dict(db.execute("SELECT status, count(*) FROM runs GROUP BY status ORDER BY status"))
    agents = {
        agent or "(unknown)": {"runs": n, "failures": f}
        for agent, n, f in db.execute(
            "SELECT agent, count(*), sum(status != 'success') FROM runs GROUP BY agent ORDER BY agent"
        )
    }
    formats = {
        fmt or "(unknown)": n
        for fmt, n in db.execute("SELECT format, count(*) FROM sources GROUP BY format ORDER BY format")
    }
    failures = _scalar(db, "SELECT count(*) FROM runs WHERE status != 'success'")
    return {
        "schema_version": max(applied(db), default=0),
        "sources": _scalar(db, "SELECT count(*) FROM sources"),
        "sources_failed": _scalar(db, "SELECT count(*) FROM sources WHERE status = 'error'"),
        "formats": formats,
        "tasks": _scalar(db, "SELECT count(*) FROM tasks"),
        "runs": _scalar(db, "SELECT count(*) FROM runs"),
        "runs_by_status": runs_by_status,
        "transcripts": _scalar(db, "SELECT count(*) FROM transcripts"),
        "agents": agents,
        "failures": failures,
        "signatures": _scalar(db, "SELECT count(*) FROM signatures"),
        "detections": _scalar(db, "SELECT count(*) FROM detections"),
        "clusters": _scalar(db, "SELECT count(*) FROM clusters WHERE size > 0"),
        "label_rows": _scalar(db, "SELECT count(*) FROM labels"),
        "labelled_runs": _labelled_runs(db),
        "suggestions": _scalar(db, "SELECT count(*) FROM suggestions"),
        "signoffs": _scalar(db, "SELECT count(*) FROM signoffs"),
    }


def _labelled_runs(db: Database | sqlite3.Connection) -> int:
    """Runs with an effective label (run labels, cluster decisions, adjudications, undo: triage.labels' rule)."""
    if not db.execute("SELECT EXISTS (SELECT 1 FROM labels)").fetchone()[0]:
        return 0  # no label history (and the labels package, taxonomy included, stays unloaded)
    from triage.db.sqlite import Database
    from triage.labels import effective_labels

    labelled = effective_labels(db if isinstance(db, Database) else Database(db))
    # Labels of runs since removed by a re-import do not count. One join in SQLite, not a pass over every run
    # in Python (a million runs: 0.07 s instead of 0.4 s).
    ids = orjson.dumps(list(labelled))
    return int(db.execute("SELECT count(*) FROM json_each(?) j JOIN runs r ON r.id = j.value", [ids]).fetchone()[0])
