"""Numbered schema migrations for the triage workspace.

Each migration is a function registered with :func:`migration`; they run in order, once, and each
applied one is recorded in the ``_migrations`` table. The schema changes only by adding a migration
here: never edit one that has shipped.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from triage.db.initial_schema import INITIAL_SCHEMA
from triage.db.transaction import write_transaction

if TYPE_CHECKING:  # annotations only: migrations run on the plain connection too (`triage.db.connect`)
    from triage.db.sqlite import Database

MIGRATIONS_TABLE = "_migrations"

Migration = Callable[["Database | sqlite3.Connection"], None]
_REGISTRY: list[tuple[int, str, Migration]] = []


def migration(number: int) -> Callable[[Migration], Migration]:
    """Register ``fn`` as migration ``number`` (numbers must be unique and increasing)."""

    def register(fn: Migration) -> Migration:
        if any(n == number for n, _, _ in _REGISTRY):
            raise ValueError(f"duplicate migration number {number}")
        _REGISTRY.append((number, fn.__name__, fn))
        _REGISTRY.sort(key=lambda item: item[0])
        return fn

    return register


def applied(db: Database | sqlite3.Connection) -> list[int]:
    """Numbers of the migrations already applied to ``db``."""
    exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    if not db.execute(exists, [MIGRATIONS_TABLE]).fetchone():
        return []
    return [number for (number,) in db.execute(f"SELECT number FROM [{MIGRATIONS_TABLE}] ORDER BY number")]


def migrate(db: Database | sqlite3.Connection) -> list[int]:
    """Apply every pending migration, each atomically with its ``_migrations`` row; return the numbers applied.

    Each migration runs in one write transaction (BEGIN IMMEDIATE) that first re-reads what is
    applied: of several processes opening a fresh workspace at once, one applies a migration while
    the others wait on the write lock, then find it done. A migration that fails rolls back whole,
    leaving the workspace at the previous version. Migrations must not use ``executescript`` (it
    commits on its own): run statements one by one with ``db.execute``.
    """
    if set(applied(db)) >= {number for number, _, _ in _REGISTRY}:
        return []  # the usual case: nothing to do, no write lock taken
    ran: list[int] = []
    for number, name, fn in _REGISTRY:
        with write_transaction(db) as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS [{MIGRATIONS_TABLE}] "
                "([number] INTEGER PRIMARY KEY, [name] TEXT, [applied_at] TEXT)"
            )
            if conn.execute(f"SELECT 1 FROM [{MIGRATIONS_TABLE}] WHERE number = ?", [number]).fetchone():
                continue
            fn(db)
            conn.execute(
                f"INSERT INTO [{MIGRATIONS_TABLE}] (number, name, applied_at) VALUES (?, ?, ?)",
                [number, name, _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")],
            )
        ran.append(number)
    return ran


def run_statements(db: Database | sqlite3.Connection, script: str) -> None:
    """Execute ``script`` statement by statement inside the caller's transaction (unlike executescript)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.execute(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:80]}")


def latest() -> int:
    """The highest migration number this version of triage knows."""
    return _REGISTRY[-1][0] if _REGISTRY else 0


@migration(1)
def m001_initial(db: Database) -> None:
    """Sources, tasks, runs, transcripts; failures, clusters, labels, suggestions, sign-offs."""
    run_statements(db, INITIAL_SCHEMA)


@migration(2)
def m002_label_members(db: Database) -> None:
    """Who a cluster decision labelled: the cluster's members when the decision was made (append-only).

    A cluster decision is one ``labels`` row; this table keeps its members at that moment, so the
    decision keeps applying to them when clustering changes later, and an exported decision can be
    applied in a workspace whose cluster ids differ. Also indexes ``labels.undoes`` (undo chains).
    """
    run_statements(
        db,
        """
        CREATE TABLE label_members (
            label_uid TEXT NOT NULL REFERENCES labels(uid),  -- a cluster decision (labels.action = 'cluster')
            run_id TEXT NOT NULL,               -- a member at decision time (no FK: labels outlive runs)
            PRIMARY KEY (label_uid, run_id)
        ) WITHOUT ROWID;
        CREATE INDEX label_members_run ON label_members(run_id);
        CREATE INDEX labels_undoes ON labels(undoes);
        CREATE TRIGGER label_members_no_update BEFORE UPDATE ON label_members
            BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END;
        CREATE TRIGGER label_members_no_delete BEFORE DELETE ON label_members
            BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END;
        """,
    )


@migration(3)
def m003_causes(db: Database) -> None:
    """A cause and its distinguishing detail per failure; how discriminative each detection is.

    ``signatures.cause`` is a short cause id (``host_unreachable``, ``patch_edits_tests``,
    ``wrong_answer``, ``error:<class>``...) and ``signatures.detail`` the normalised evidence that
    distinguishes it, nearest to where the run went wrong. ``detections.fail_rate`` and
    ``success_rate`` are the detector's firing rates among failed and successful runs of the same task
    (or agent) and ``strength`` how far the evidence separates them; weak evidence proposes nothing.
    """
    db.execute("ALTER TABLE signatures ADD COLUMN cause TEXT")
    db.execute("ALTER TABLE signatures ADD COLUMN detail TEXT")
    # What the outcome alone says (cause and detail before detector evidence): the fallback when the
    # contrast with successes later finds a detector's evidence weak.
    db.execute("ALTER TABLE signatures ADD COLUMN outcome_cause TEXT")
    db.execute("ALTER TABLE signatures ADD COLUMN outcome_detail TEXT")
    db.execute("ALTER TABLE detections ADD COLUMN strength REAL")
    db.execute("ALTER TABLE detections ADD COLUMN fail_rate REAL")
    db.execute("ALTER TABLE detections ADD COLUMN success_rate REAL")
    db.execute("CREATE INDEX signatures_cause ON signatures(cause)")


@migration(4)
def m004_cause_tree_and_search(db: Database) -> None:
    """The cluster tree (leaf clusters under cause groups), search-defined groups, full-text search.

    ``clusters.cause`` puts each leaf cluster under its cause group and ``clusters.detail`` names it.
    ``run_groups`` / ``run_group_members`` hold groups a reviewer made from a search. ``search_docs``
    holds every run's searchable text and which import of the run it came from (so the index is brought
    up to date incrementally); ``search_text`` is the FTS5 index over it.
    """
    db.execute("ALTER TABLE clusters ADD COLUMN cause TEXT")
    db.execute("ALTER TABLE clusters ADD COLUMN detail TEXT")
    db.execute("CREATE INDEX clusters_cause ON clusters(cause)")
    db.execute(
        "CREATE TABLE run_groups (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, query TEXT, "
        "filters TEXT, reviewer TEXT, created_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE run_group_members (group_id TEXT NOT NULL REFERENCES run_groups(id) ON DELETE CASCADE, "
        "run_id TEXT NOT NULL, PRIMARY KEY (group_id, run_id)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX run_group_members_run ON run_group_members(run_id)")
    db.execute(
        "CREATE TABLE search_docs (doc INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, imported_at TEXT, "
        "body TEXT NOT NULL DEFAULT '')"
    )
    # External content: the text is stored once, in search_docs, and FTS5 reads it back for snippets.
    db.execute(
        "CREATE VIRTUAL TABLE search_text USING fts5(body, content = 'search_docs', content_rowid = 'doc', "
        "tokenize = 'unicode61 remove_diacritics 2')"
    )


@migration(5)
def m005_variants(db: Database) -> None:
    """Re-runs as named variants of the original runs, and the writebacks made into Inspect logs.

    ``sources.variant`` / ``runs.variant`` name the variant a log was imported as (``--variant`` or
    the log's own metadata; NULL: an original run); ``runs.rerun_of`` links a re-run to the original
    run of the same task, sample and epoch (or task and ordinal). ``writebacks`` records each log
    written by ``triage writeback``, so a log rewritten in place is recognised as ours, not as changed.
    """
    db.execute("ALTER TABLE sources ADD COLUMN variant TEXT")
    db.execute("ALTER TABLE runs ADD COLUMN variant TEXT")
    db.execute("ALTER TABLE runs ADD COLUMN rerun_of TEXT")
    db.execute("CREATE INDEX runs_rerun_of ON runs(rerun_of)")
    db.execute("CREATE INDEX runs_variant ON runs(variant)")
    db.execute(
        """
        CREATE TABLE writebacks (
            id INTEGER PRIMARY KEY,
            source_id INTEGER REFERENCES sources(id) ON DELETE CASCADE,
            out_path TEXT NOT NULL,             -- the log written
            in_place INTEGER NOT NULL,          -- 1: the original was replaced (a backup kept)
            backup_path TEXT,                   -- the original's copy, for --in-place
            content_hash TEXT NOT NULL,         -- sha256 of the written file
            n_annotated INTEGER NOT NULL,       -- samples given metadata["triage"]
            n_invalidated INTEGER NOT NULL,
            n_edited INTEGER NOT NULL,          -- scores edited (scoring_error, cheat)
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX writebacks_source ON writebacks(source_id)")


@migration(6)
def m006_scoring_index(db: Database) -> None:
    """A covering index for scoring: ``triage score`` reads every run's task, agent and outcome from the
    index, grouped by task and agent, instead of scanning the table (whose rows hold kilobytes each)."""
    db.execute("CREATE INDEX runs_scoring ON runs(task_id, agent, success)")


@migration(7)
def m007_file_hash(db: Database) -> None:
    """The file's own sha256 beside ``content_hash`` (which includes the import options, such as ``--agent``):
    `triage writeback` checks a log is unchanged since import against the file's bytes alone."""
    db.execute("ALTER TABLE sources ADD COLUMN file_hash TEXT")


@migration(8)
def m008_run_indexes(db: Database) -> None:
    """Runs' indexes for a million runs: ``runs_task`` goes (``runs_scoring`` leads with the task, so it serves
    the same lookups; one index fewer to update per imported run), and the agent index also holds the status,
    so counts per agent and outcome (`triage info`, the TUI overview) read the index, not the wide rows."""
    db.execute("DROP INDEX runs_task")
    db.execute("DROP INDEX runs_agent")
    db.execute("CREATE INDEX runs_agent_status ON runs(agent, status)")


@migration(9)
def m009_partial_rerun_indexes(db: Database) -> None:
    """The re-run indexes hold only the runs that have a value: most runs are originals (NULL ``variant`` and
    ``rerun_of``), and every query asks ``IS NOT NULL``, so an import no longer adds two index entries per run."""
    db.execute("DROP INDEX runs_rerun_of")
    db.execute("DROP INDEX runs_variant")
    db.execute("CREATE INDEX runs_rerun_of ON runs(rerun_of) WHERE rerun_of IS NOT NULL")
    db.execute("CREATE INDEX runs_variant ON runs(variant) WHERE variant IS NOT NULL")


@migration(10)
def m010_audit_index(db: Database) -> None:
    """The agent index also holds each run's task and score: `triage audit` counts runs per agent, outcome and
    task (and finds continuous scores) in one scan of the index instead of reading every wide row (10 s at a
    million runs). Counts per agent and outcome still read the index's first two columns."""
    db.execute("DROP INDEX runs_agent_status")
    db.execute("CREATE INDEX runs_agent_status ON runs(agent, status, task_id, score)")


@migration(11)
def m011_detections_cover(db: Database) -> None:
    """The detections' run index also holds the detector and category: the counts per cluster that
    `triage clusters` and the TUI show read the index alone instead of a table row per detection (whose
    excerpt and detail make it large): 0.85 s -> 0.5 s for the ten largest clusters of a million runs."""
    db.execute("DROP INDEX detections_run")
    db.execute("CREATE INDEX detections_run ON detections(run_id, detector, category)")
