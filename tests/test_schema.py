"""The migrated workspace schema: tables, columns, keys, bookkeeping, pragmas and versioning."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from triage.db import BUSY_TIMEOUT_MS, WorkspaceError, applied, connect, latest, migrate, open_db
from triage.db.migrations import _REGISTRY, MIGRATIONS_TABLE
from triage.ingest import RUN_COLUMNS

ROOT = Path(__file__).resolve().parent.parent

# What the migrations create (file_hash: migration 7). Later migrations may add tables and columns; these must stay.
EXPECTED: dict[str, set[str]] = {
    "sources": {"id", "path", "content_hash", "file_hash", "format", "status", "error", "log_status", "size_bytes",
                "n_runs", "imported_at"},
    "tasks": {"id", "family", "human_minutes", "human_source", "threshold", "metadata"},
    "runs": {"id", "source_id", "task_id", "sample_id", "epoch", "agent", "model", "score", "score_raw", "success",
             "status", "error", "error_type", "limit_type", "limit_value", "exit_status", "submission", "target",
             "started_at", "completed_at", "total_seconds", "working_seconds", "input_tokens", "output_tokens",
             "total_tokens", "n_messages", "weight_equal", "weight_invsqrt", "metadata", "imported_at"},
    "transcripts": {"run_id", "encoding", "n_messages", "messages"},
    "signatures": {"run_id", "signature", "kind", "raw", "message_index", "computed_at"},
    "detections": {"id", "run_id", "detector", "category", "message_index", "excerpt", "detail"},
    "clusters": {"id", "exemplar_run_id", "signature", "size", "created_at", "updated_at"},
    "cluster_members": {"run_id", "cluster_id", "similarity", "joined_at"},
    "cluster_edits": {"id", "kind", "payload", "reviewer", "created_at"},
    "taxonomies": {"hash", "name", "path", "content", "recorded_at"},
    "labels": {"id", "uid", "run_id", "cluster_id", "category", "effect", "action", "reviewer", "rationale",
               "evidence_index", "evidence_excerpt", "taxonomy_hash", "suggestion_id", "undoes", "created_at"},
    "label_members": {"label_uid", "run_id"},
    "suggestions": {"id", "cache_key", "run_id", "cluster_id", "model", "base_url_host", "prompt_version",
                    "taxonomy_hash", "status", "category", "confidence", "rationale", "message_indices", "raw",
                    "error", "finish_reason", "prompt_tokens", "completion_tokens", "seconds", "created_at"},
    "signoffs": {"id", "item", "reviewer", "note", "checklist_hash", "created_at"},
    "settings": {"key", "value"},
    MIGRATIONS_TABLE: {"number", "name", "applied_at"},
}  # fmt: skip

PRIMARY_KEYS = {
    "sources": ["id"], "tasks": ["id"], "runs": ["id"], "transcripts": ["run_id"], "signatures": ["run_id"],
    "clusters": ["id"], "cluster_members": ["run_id"], "labels": ["id"], "label_members": ["label_uid", "run_id"],
    "taxonomies": ["hash"], "settings": ["key"], MIGRATIONS_TABLE: ["number"],
}  # fmt: skip


def _columns(db, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info([{table}])")}


def test_every_expected_table_and_column_exists(db):
    tables = set(db.table_names())
    missing_tables = set(EXPECTED) - tables
    assert not missing_tables, f"tables missing from the migrated schema: {sorted(missing_tables)}"
    for table, columns in EXPECTED.items():
        missing = columns - _columns(db, table)
        assert not missing, f"{table}: columns missing: {sorted(missing)}"


def test_primary_keys(db):
    for table, pk in PRIMARY_KEYS.items():
        info = sorted((row[5], row[1]) for row in db.execute(f"PRAGMA table_info([{table}])") if row[5])
        assert [name for _, name in info] == pk, table


def test_ingest_writes_only_columns_the_schema_has(db):
    # ingest.py inserts runs by column name: a renamed column would only fail at import time.
    assert set(RUN_COLUMNS) <= _columns(db, "runs")


def test_runs_cascade_to_derived_tables_but_not_labels(db):
    now = "2025-01-01T00:00:00+00:00"
    db.execute("INSERT INTO sources (path, status, imported_at) VALUES ('/x.eval', 'ok', ?)", [now])
    db.execute("INSERT INTO tasks (id) VALUES ('t')")
    db.execute(
        "INSERT INTO runs (id, source_id, task_id, status, imported_at) VALUES ('r1', 1, 't', 'failed', ?)", [now]
    )
    db.execute("INSERT INTO transcripts (run_id, n_messages, messages) VALUES ('r1', 0, x'')")
    db.execute("INSERT INTO signatures (run_id, signature, computed_at) VALUES ('r1', 'sig', ?)", [now])
    db.execute("INSERT INTO detections (run_id, detector) VALUES ('r1', 'loop')")
    db.execute("INSERT INTO clusters (id, signature, created_at, updated_at) VALUES ('c1', 'sig', ?, ?)", [now, now])
    db.execute("INSERT INTO cluster_members (run_id, cluster_id, joined_at) VALUES ('r1', 'c1', ?)", [now])
    db.execute(
        "INSERT INTO labels (uid, run_id, category, action, reviewer, created_at) "
        "VALUES ('u1', 'r1', 'gave_up', 'label', 'ann', ?)",
        [now],
    )
    db.conn.commit()
    db.execute("DELETE FROM runs WHERE id = 'r1'")
    db.conn.commit()
    for table in ("transcripts", "signatures", "detections", "cluster_members"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    # Labels outlive runs (a re-import may bring the run back).
    assert db.execute("SELECT count(*) FROM labels").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO runs (id, source_id, status, imported_at) VALUES ('r2', 99, 'failed', ?)", [now])


@pytest.mark.parametrize("statement", ["UPDATE labels SET category = 'refusal'", "DELETE FROM labels"])
def test_labels_are_append_only(db, statement):
    db.execute(
        "INSERT INTO labels (uid, run_id, category, action, reviewer, created_at) "
        "VALUES ('u1', 'r1', 'gave_up', 'label', 'ann', '2025-01-01')"
    )
    db.conn.commit()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute(statement)


@pytest.mark.parametrize("statement", ["UPDATE signoffs SET note = 'x'", "DELETE FROM signoffs"])
def test_signoffs_are_append_only(db, statement):
    db.execute("INSERT INTO signoffs (item, reviewer, created_at) VALUES ('i', 'ann', '2025-01-01')")
    db.conn.commit()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute(statement)


def test_migrations_are_recorded(db):
    rows = list(db.execute(f"SELECT number, name, applied_at FROM {MIGRATIONS_TABLE} ORDER BY number"))
    assert [(n, name) for n, name, _ in rows] == [(n, fn.__name__) for n, _, fn in _REGISTRY]
    assert [n for n, _, _ in rows] == list(range(1, latest() + 1)), "migration numbers must be 1, 2, 3, ..."
    assert all(re.match(r"\d{4}-\d\d-\d\dT", applied_at) for _, _, applied_at in rows)
    assert applied(db) == [n for n, _, _ in rows]


def test_reopening_is_a_no_op(db_path):
    first = open_db(db_path)
    stamps = list(first.execute(f"SELECT number, applied_at FROM {MIGRATIONS_TABLE}"))
    schema = list(first.execute("SELECT name, sql FROM sqlite_master ORDER BY name"))
    first.conn.close()
    again = open_db(db_path)
    assert migrate(again) == []
    assert list(again.execute(f"SELECT number, applied_at FROM {MIGRATIONS_TABLE}")) == stamps
    assert list(again.execute("SELECT name, sql FROM sqlite_master ORDER BY name")) == schema
    again.conn.close()


def test_pragmas(db, db_path):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    assert BUSY_TIMEOUT_MS >= 1000
    # WAL is a property of the file: a plain sqlite3 connection sees it too.
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_the_plain_connection_is_the_same_workspace(tmp_path):
    """`connect` (no sqlite-utils, for `triage info`) creates, migrates and configures as `open_db` does."""
    plain = connect(tmp_path / "plain.db")
    handle = open_db(tmp_path / "handle.db")
    for pragma in ("journal_mode", "foreign_keys", "busy_timeout", "recursive_triggers", "synchronous"):
        assert plain.execute(f"PRAGMA {pragma}").fetchone() == handle.execute(f"PRAGMA {pragma}").fetchone(), pragma
    schema = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
    assert list(plain.execute(schema)) == list(handle.execute(schema))
    assert applied(plain) == applied(handle) == list(range(1, latest() + 1))
    with pytest.raises(WorkspaceError, match="no workspace"):
        connect(tmp_path / "missing.db", create=False)


def test_a_plain_connection_loads_no_sqlite_utils(db_path):
    open_db(db_path).conn.close()
    code = "import sys\nfrom triage.db import connect\nconnect(sys.argv[1])\nprint('sqlite_utils' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code, str(db_path)], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_newer_schema_is_refused_with_a_clear_error(db_path):
    db = open_db(db_path)
    db.execute(
        f"INSERT INTO {MIGRATIONS_TABLE} (number, name, applied_at) VALUES (?, 'from_the_future', '2099-01-01')",
        [latest() + 1],
    )
    db.conn.commit()
    db.conn.close()
    with pytest.raises(WorkspaceError) as info:
        open_db(db_path)
    with pytest.raises(WorkspaceError, match="newer"):
        connect(db_path)
    message = str(info.value)
    assert str(db_path) in message
    assert f"schema version {latest() + 1}" in message and "newer" in message and "upgrade" in message


def test_not_a_database_is_a_workspace_error(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("this is not SQLite " * 100)
    with pytest.raises(WorkspaceError, match="not a triage workspace"):
        open_db(path)


def test_missing_workspace_without_create(tmp_path):
    path = tmp_path / "nowhere" / "triage.db"
    with pytest.raises(WorkspaceError, match="no workspace"):
        open_db(path, create=False)
    assert not path.exists() and not path.parent.exists()


def _documented(doc: str) -> dict[str, set[str]]:
    """Tables (``### `name` `` headings) and the columns listed in their tables (``| `col` |`` rows)."""
    found: dict[str, set[str]] = {}
    current = None
    for line in doc.splitlines():
        heading = re.match(r"^###\s+`([A-Za-z_]+)`", line)
        if heading:
            current = heading.group(1)
            found[current] = set()
        elif current and (row := re.match(r"^\|\s*`([A-Za-z_]+)`\s*\|", line)):
            found[current].add(row.group(1))
        elif line.startswith("## "):
            current = None
    return found


def test_schema_doc_describes_every_table_and_column(db):
    """docs/schema.md must keep up with the migrations: every table and column is documented."""
    documented = _documented((ROOT / "docs" / "schema.md").read_text(encoding="utf-8"))
    for table in db.table_names():
        if table.startswith("sqlite_"):
            continue
        assert table in documented, f"docs/schema.md has no section for table {table!r}"
        missing = _columns(db, table) - documented[table]
        assert not missing, f"docs/schema.md, table {table!r}: undocumented columns {sorted(missing)}"
    stale = set(documented) - set(db.table_names())
    assert not stale, f"docs/schema.md documents tables that do not exist: {sorted(stale)}"


def test_rerun_indexes_hold_only_reruns_and_serve_their_queries(db):
    """Migration 9: originals add no entry to the re-run indexes, and `IS NOT NULL` queries still use them."""
    for index, column in (("runs_variant", "variant"), ("runs_rerun_of", "rerun_of")):
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [index]).fetchone()[0]
        assert sql.endswith(f"WHERE {column} IS NOT NULL"), sql
        plan = " ".join(
            row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN SELECT id FROM runs WHERE {column} IS NOT NULL")
        )
        assert index in plan, plan
