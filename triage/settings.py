"""Workspace settings: :func:`get_setting` and :func:`set_setting` over the ``settings`` table.

Values are stored as JSON text (clustering threshold and scorer, tradeoff policy, bucket edges, prompt
budget, the analysis version, the demo flag). Every module reads and writes settings through here.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import orjson

from triage.db import write_transaction
from triage.db.transaction import connection_of

if TYPE_CHECKING:
    from triage.db.sqlite import Database

__all__ = ["get_setting", "set_setting"]


def get_setting(db: Database | sqlite3.Connection, key: str, default: Any = None) -> Any:
    """The setting ``key`` decoded from JSON; ``default`` when unset or when there is no settings table.

    A value that is not JSON (written by hand with sqlite3) is returned as the stored text.
    """
    try:
        row = connection_of(db).execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return default  # not a migrated workspace (e.g. a file checked before replacing it)
        raise
    if row is None:
        return default
    try:
        return orjson.loads(row[0])
    except (orjson.JSONDecodeError, TypeError):
        return row[0]


def set_setting(db: Database | sqlite3.Connection, key: str, value: Any) -> None:
    """Store ``value`` (as JSON) under ``key``, in its own write transaction (or the caller's)."""
    with write_transaction(db) as conn:
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, orjson.dumps(value).decode()],
        )
