"""The workspace database: opening it with the right pragmas and bringing its schema up to date."""

from __future__ import annotations

import datetime as _dt
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from triage.db.migrations import applied, latest, migrate
from triage.db.transaction import Connection, TransactionMisuse, write_transaction

if TYPE_CHECKING:
    from triage.db.sqlite import Database

__all__ = [
    "open_db",
    "connect",
    "now",
    "applied",
    "latest",
    "migrate",
    "WorkspaceError",
    "write_transaction",
    "TransactionMisuse",
]

BUSY_TIMEOUT_MS = 10_000


class WorkspaceError(Exception):
    """The workspace cannot be opened (missing, unreadable, or newer than this triage)."""


def now() -> str:
    """The current UTC time as an ISO-8601 string, the format every timestamp column uses."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def open_db(path: str | Path, *, create: bool = True, migrate_schema: bool = True) -> Database:
    """Open (and by default create and migrate) the workspace database at ``path``: :func:`connect`, with
    the sqlite-utils handle every module uses around it."""
    from triage.db.sqlite import Database

    return Database(connect(path, create=create, migrate_schema=migrate_schema))


def connect(path: str | Path, *, create: bool = True, migrate_schema: bool = True) -> Connection:
    """The workspace's plain sqlite3 connection, opened, configured and migrated as :func:`open_db` does.

    For commands that only run SQL (`triage info`): sqlite-utils takes longer to import than the rest.
    WAL lets the TUI read while an import or clustering writes; the busy timeout makes a second
    writer wait instead of failing at once. ``isolation_level=None``: sqlite3 never opens a deferred
    transaction on its own; every write goes through :func:`write_transaction` (BEGIN IMMEDIATE).
    """
    path = Path(path)
    if not create and not path.exists():
        raise WorkspaceError(f"{path}: no workspace here (run `triage init` or `triage import` first)")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            str(path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            isolation_level=None,
            factory=Connection,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA recursive_triggers = ON")  # as sqlite-utils sets it, for the same triggers either way
        conn.execute("PRAGMA synchronous = NORMAL")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":  # set once: a file already in WAL is not written
            conn.execute("PRAGMA journal_mode = wal")
    except sqlite3.DatabaseError as exc:
        raise WorkspaceError(f"{path}: not a triage workspace ({exc})") from exc
    if migrate_schema:
        done = applied(conn)
        if done and max(done) > latest():
            raise WorkspaceError(
                f"{path}: schema version {max(done)} is newer than this triage ({latest()}); upgrade triage"
            )
        migrate(conn)
    return conn
