"""Write transactions on the workspace: :func:`write_transaction` and the connection class it relies on.

Every write to a workspace goes through :func:`write_transaction`. It starts with ``BEGIN IMMEDIATE``,
so the write lock is taken up front (waiting on the busy timeout while another process holds it)
instead of a deferred ``BEGIN`` that reads, then fails at once with "database is locked" when it
tries to upgrade to a write. Connections are opened with ``isolation_level=None`` (see
:func:`triage.db.open_db`), so Python's sqlite3 never opens a deferred transaction behind our back.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: a plain connection needs no sqlite-utils (a fast `triage info`)
    from triage.db.sqlite import Database

__all__ = ["Connection", "connection_of", "write_transaction", "TransactionMisuse"]

_savepoints = itertools.count(1)


class TransactionMisuse(RuntimeError):
    """A commit or a foreign transaction inside a write_transaction block (a bug in the caller)."""


class Connection(sqlite3.Connection):
    """A sqlite3 connection that knows whether a :func:`write_transaction` is open on it.

    ``commit()`` (and ``with conn:``, which calls it) inside a write transaction would end it early
    and silently split one change into several; here it raises instead.
    """

    write_depth = 0

    def commit(self) -> None:
        if self.write_depth:
            raise TransactionMisuse("commit() inside write_transaction(): the block commits on exit")
        super().commit()

    def rollback(self) -> None:
        if self.write_depth:
            raise TransactionMisuse("rollback() inside write_transaction(): raise an exception instead")
        super().rollback()


def connection_of(db: Database | sqlite3.Connection) -> sqlite3.Connection:
    """The sqlite3 connection of either workspace handle."""
    return db if isinstance(db, sqlite3.Connection) else db.conn


@contextmanager
def write_transaction(db: Database | sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block as one write transaction: ``BEGIN IMMEDIATE``, COMMIT on success, ROLLBACK on error.

    Yields the connection. Nesting is safe: an inner block joins the outer transaction as a
    SAVEPOINT (its error rolls back only its own changes, then propagates; the outer block decides).
    Opening one while some other transaction is open on the connection (a plain ``BEGIN``, which
    may hold only a read snapshot that cannot be upgraded without "database is locked") raises
    :class:`TransactionMisuse`.
    """
    conn = connection_of(db)
    depth = getattr(conn, "write_depth", None)
    if conn.in_transaction:
        if depth == 0:
            raise TransactionMisuse(
                "write_transaction() inside a transaction it did not open; use write_transaction() for the outer one"
            )
        name = f"triage_sp_{next(_savepoints)}"
        conn.execute(f"SAVEPOINT {name}")
        _enter(conn)
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # a RAISE(ROLLBACK) or I/O error may already have ended it
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            raise
        else:
            conn.execute(f"RELEASE {name}")
        finally:
            _leave(conn)
        return
    conn.execute("BEGIN IMMEDIATE")
    _enter(conn)
    try:
        yield conn
    except BaseException:
        _leave(conn)
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    _leave(conn)
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _enter(conn: sqlite3.Connection) -> None:
    if isinstance(conn, Connection):
        conn.write_depth += 1


def _leave(conn: sqlite3.Connection) -> None:
    if isinstance(conn, Connection):
        conn.write_depth -= 1
