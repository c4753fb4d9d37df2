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
    run_statements(
        db,
        """
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,          -- absolute path of the imported file
            content_hash TEXT,                  -- sha256 of the file's bytes
            format TEXT,                        -- loader name (inspect, metr, swe-agent, ...)
            status TEXT NOT NULL,               -- ok | error
            error TEXT,                         -- precise error (file, place, expectation) when status = error
            log_status TEXT,                    -- the source's own status (Inspect: success/error/cancelled/started)
            size_bytes INTEGER,
            n_runs INTEGER NOT NULL DEFAULT 0,
            imported_at TEXT NOT NULL
        );

        CREATE TABLE tasks (
            id TEXT PRIMARY KEY,                -- task id as the source spells it
            family TEXT,                        -- task family (METR) or benchmark/repo
            human_minutes REAL,                 -- estimated or measured human time
            human_source TEXT,                  -- baseline | estimate | ...
            threshold REAL,                     -- success threshold for continuous scores
            metadata TEXT                       -- JSON: anything else the source records
        );

        CREATE TABLE runs (
            id TEXT PRIMARY KEY,                -- stable, readable: built from the source's identity
            source_id INTEGER REFERENCES sources(id) ON DELETE SET NULL,
            task_id TEXT REFERENCES tasks(id),
            sample_id TEXT,                     -- sample/instance id within the source
            epoch INTEGER,
            agent TEXT,                         -- agent or model alias used for grouping
            model TEXT,
            score REAL,                         -- numeric score (C=1, I=0, numbers as recorded)
            score_raw TEXT,                     -- JSON: the score(s) exactly as recorded
            success INTEGER,                    -- binarised success 0/1 (NULL = unknown)
            status TEXT NOT NULL,               -- success | failed | error | limit
            error TEXT,                         -- error message as recorded
            error_type TEXT,                    -- exception type or error source (fatal_error_from, exit_status)
            limit_type TEXT,                    -- message | token | time | context | working | cost | ...
            limit_value REAL,
            exit_status TEXT,                   -- SWE-agent / mini-swe-agent exit status
            submission TEXT,                    -- the final answer / patch, truncated
            target TEXT,                        -- the expected answer, when recorded
            started_at TEXT,
            completed_at TEXT,
            total_seconds REAL,
            working_seconds REAL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            total_tokens INTEGER,
            n_messages INTEGER NOT NULL DEFAULT 0,
            weight_equal REAL,                  -- METR equal_task_weight, when recorded
            weight_invsqrt REAL,                -- METR invsqrt_task_weight, when recorded
            metadata TEXT,                      -- JSON: extra fields of the source
            imported_at TEXT NOT NULL
        );
        CREATE INDEX runs_source ON runs(source_id);
        CREATE INDEX runs_task ON runs(task_id);
        CREATE INDEX runs_agent ON runs(agent);
        CREATE INDEX runs_status ON runs(status);

        -- One row per run that has messages. messages = zlib(orjson(list of Message dicts)).
        CREATE TABLE transcripts (
            run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            encoding TEXT NOT NULL DEFAULT 'zlib+json',
            n_messages INTEGER NOT NULL,
            messages BLOB NOT NULL
        );

        -- Why a run failed: one normalised signature per failed (or reviewed) run.
        CREATE TABLE signatures (
            run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            signature TEXT NOT NULL,            -- normalised text, equal across runs that failed alike
            kind TEXT,                          -- error | limit | tool_error | final_message | score
            raw TEXT,                           -- the raw evidence before normalisation
            message_index INTEGER,              -- where the evidence came from (NULL = run metadata)
            computed_at TEXT NOT NULL
        );

        -- Detector hits: named heuristics with evidence; a proposed category is never a label.
        CREATE TABLE detections (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            detector TEXT NOT NULL,
            category TEXT,                      -- proposed taxonomy category id
            message_index INTEGER,
            excerpt TEXT,
            detail TEXT,                        -- JSON
            UNIQUE(run_id, detector, message_index)
        );
        CREATE INDEX detections_run ON detections(run_id);

        CREATE TABLE clusters (
            id TEXT PRIMARY KEY,                -- stable id, kept while its exemplar survives
            exemplar_run_id TEXT,
            signature TEXT NOT NULL,
            size INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE cluster_members (
            run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
            similarity REAL,                    -- to the exemplar's signature, 0-100
            joined_at TEXT NOT NULL             -- when the run first joined this cluster
        );
        CREATE INDEX cluster_members_cluster ON cluster_members(cluster_id);

        -- Reviewer edits to clustering (merge, split, move); replayed after every re-clustering.
        CREATE TABLE cluster_edits (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,                 -- merge | split | move
            payload TEXT NOT NULL,              -- JSON
            reviewer TEXT,
            created_at TEXT NOT NULL
        );

        CREATE TABLE taxonomies (
            hash TEXT PRIMARY KEY,              -- sha256 of the taxonomy file's bytes
            name TEXT,
            path TEXT,
            content TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );

        -- Append-only label history. Every change (label, cluster decision, undo, adjudication) is a row.
        CREATE TABLE labels (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,           -- global id, so JSONL merges are idempotent
            run_id TEXT,                        -- set for run-level labels (no FK: labels outlive runs)
            cluster_id TEXT,                    -- set for cluster decisions
            category TEXT,                      -- NULL for an undo that restores 'unlabelled'
            effect TEXT,
            action TEXT NOT NULL,               -- label | cluster | undo | adjudicate
            reviewer TEXT NOT NULL,
            rationale TEXT,
            evidence_index INTEGER,
            evidence_excerpt TEXT,
            taxonomy_hash TEXT,
            suggestion_id INTEGER,              -- when a label accepts an LLM suggestion
            undoes TEXT,                        -- uid of the label row an undo reverts
            created_at TEXT NOT NULL
        );
        CREATE INDEX labels_run ON labels(run_id);
        CREATE INDEX labels_cluster ON labels(cluster_id);
        CREATE TRIGGER labels_no_update BEFORE UPDATE ON labels
            BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END;
        CREATE TRIGGER labels_no_delete BEFORE DELETE ON labels
            BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END;

        -- LLM suggestions: a second opinion, never a label.
        CREATE TABLE suggestions (
            id INTEGER PRIMARY KEY,
            cache_key TEXT NOT NULL UNIQUE,     -- run/cluster + taxonomy hash + model + prompt version
            run_id TEXT,
            cluster_id TEXT,
            model TEXT NOT NULL,
            base_url_host TEXT,
            prompt_version TEXT NOT NULL,
            taxonomy_hash TEXT,
            status TEXT NOT NULL,               -- ok | failed
            category TEXT,
            confidence REAL,
            rationale TEXT,
            message_indices TEXT,               -- JSON list
            raw TEXT,                           -- raw reply text (kept for failed suggestions)
            error TEXT,
            finish_reason TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            seconds REAL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX suggestions_run ON suggestions(run_id);
        CREATE INDEX suggestions_cluster ON suggestions(cluster_id);

        -- Manual checklist sign-offs, append-only.
        CREATE TABLE signoffs (
            id INTEGER PRIMARY KEY,
            item TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            note TEXT,
            checklist_hash TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TRIGGER signoffs_no_update BEFORE UPDATE ON signoffs
            BEGIN SELECT RAISE(ABORT, 'signoffs are append-only'); END;
        CREATE TRIGGER signoffs_no_delete BEFORE DELETE ON signoffs
            BEGIN SELECT RAISE(ABORT, 'signoffs are append-only'); END;

        -- Workspace settings (clustering threshold, tradeoff policy, ...).
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL                 -- JSON
        );
        """,
    )


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
