"""Full-text search over the text of every run (SQLite FTS5): keep the index current, query it.

- :func:`update_index` brings ``search_text`` up to date incrementally: runs imported or re-imported
  since they were indexed (``runs.imported_at`` differs from ``search_docs.imported_at``) are
  (re-)indexed, runs no longer in the workspace are dropped. Untouched runs cost one joined query, and
  nothing when no import happened since the last update (a digest of the ``sources`` rows, which every
  import rewrites in the transaction that changes its runs).
  :func:`search` calls it first (the first search builds the index) and ``triage cluster`` keeps an
  existing index current, so no import step needs a hook.
- :func:`search` answers an FTS5 query (words, ``"phrases"``, ``OR``, ``NOT``, ``prefix*``) with
  filters (failed runs only, task, agent); a query FTS5 cannot parse is searched as its words instead.

A run's text is its messages' contents, tool calls (function name and arguments) and tool errors; a run
without a transcript contributes its recorded error, submission and target.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from triage.db import write_transaction
from triage.db.sqlite import Database
from triage.ingest.store import decode_messages
from triage.models import Message
from triage.settings import get_setting, set_setting

__all__ = ["SearchError", "SearchHit", "SearchResult", "index_exists", "run_text", "search", "update_index"]

BATCH = 200  # runs per write transaction while indexing: the write lock is never held long
MARK_START, MARK_END = "\ue000", "\ue001"  # snippet highlight markers (private use: never in the data)
SNIPPET_TOKENS = 16
# FTS5's snippet() weighs every hit in a document against every window, so its cost grows with the square
# of the hits: a run whose output repeats the searched word 300,000 times took hours. Above this many
# characters (a few thousand tokens at most) the snippet is cut around the first hit in Python instead.
SNIPPET_FTS_CHARS = 8_000
_SNIPPET_CHARS = 90  # each side of the first hit, in the Python snippet
_OPERATORS = {"AND", "OR", "NOT", "NEAR"}
INDEXED_SOURCES = "search.indexed_sources"  # setting: the sources' digest when the index was last made current


class SearchError(ValueError):
    """A query that cannot be searched (empty, or invalid even as plain words)."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def run_text(messages: Iterable[Message], error: str | None = None, submission: str | None = None,
             target: str | None = None) -> str:  # fmt: skip
    """The searchable text of a run: message contents, tool calls and tool errors, then the recorded
    error, submission and target."""
    parts: list[str] = []
    for message in messages:
        if message.content:
            parts.append(message.content)
        for call in message.tool_calls:
            parts.append(f"{call.function} {_text(call.arguments)}")
        if message.error:
            parts.append(message.error)
    parts.extend(text for text in (error, submission, target) if text)
    return "\n".join(parts)


def _stale(db: Database) -> tuple[list[str], list[int]]:
    stale = [
        r
        for (r,) in db.execute(
            "SELECT r.id FROM runs r LEFT JOIN search_docs d ON d.run_id = r.id "
            "WHERE d.run_id IS NULL OR d.imported_at IS NOT r.imported_at ORDER BY r.id"
        )
    ]
    gone = [
        d
        for (d,) in db.execute("SELECT d.doc FROM search_docs d LEFT JOIN runs r ON r.id = d.run_id WHERE r.id IS NULL")
    ]
    return stale, gone


def index_exists(db: Database) -> bool:
    """Whether any run has been indexed (a workspace nobody searched has no index to keep current)."""
    return db.execute("SELECT 1 FROM search_docs LIMIT 1").fetchone() is not None


def _sources_digest(db: Database) -> str:
    """A digest of every source's id, import time, status and content hash.

    A run's text (transcript, error, submission, target) changes only when its file is imported, which
    rewrites the file's ``sources`` row in the same transaction, and runs are removed only by re-importing
    their file: the same digest means no run's text changed. (Re-binarising and variant links change
    outcome, agent and variant, which the search reads live from ``runs``.) One row per file, so a million
    runs in a thousand files cost a thousand rows here instead of a join of two million.
    """
    digest = hashlib.sha256()
    for row in db.execute("SELECT id, imported_at, status, content_hash FROM sources ORDER BY id"):
        digest.update(orjson.dumps(row))
    return digest.hexdigest()


def update_index(db: Database, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Index runs new or re-imported since they were indexed; drop removed runs. Returns counts and seconds."""
    started = time.perf_counter()
    # Read before the scan: an import committed after this point changes the digest, so the next update rescans.
    sources = _sources_digest(db)
    if get_setting(db, INDEXED_SOURCES) == sources:
        return {"indexed": 0, "removed": 0, "seconds": round(time.perf_counter() - started, 3)}
    stale, gone = _stale(db)
    if gone:
        with write_transaction(db):
            # External content: the index forgets a row given the text it indexed.
            for start in range(0, len(gone), BATCH):
                part = gone[start : start + BATCH]
                db.conn.execute(
                    "INSERT INTO search_text (search_text, rowid, body) SELECT 'delete', doc, body FROM search_docs "
                    f"WHERE doc IN ({','.join('?' * len(part))})",
                    part,
                )
            db.conn.executemany("DELETE FROM search_docs WHERE doc = ?", [(d,) for d in gone])
    done = 0
    for start in range(0, len(stale), BATCH):
        part = stale[start : start + BATCH]
        marks = ",".join("?" * len(part))
        with write_transaction(db):  # read the run and write its text in one snapshot
            rows = db.execute(
                "SELECT r.id, r.imported_at, r.error, r.submission, r.target, t.messages, d.doc, d.body FROM runs r "
                "LEFT JOIN transcripts t ON t.run_id = r.id LEFT JOIN search_docs d ON d.run_id = r.id "
                f"WHERE r.id IN ({marks})",
                part,
            ).fetchall()
            for run_id, imported_at, error, submission, target, blob, doc, old in rows:
                messages = decode_messages(blob) if blob else []
                body = run_text(messages, error, submission, target)
                if doc is not None:
                    db.conn.execute("INSERT INTO search_text (search_text, rowid, body) VALUES ('delete', ?, ?)",
                                    [doc, old])  # fmt: skip
                    db.conn.execute(
                        "UPDATE search_docs SET imported_at = ?, body = ? WHERE doc = ?", [imported_at, body, doc]
                    )
                else:
                    doc = db.conn.execute(
                        "INSERT INTO search_docs (run_id, imported_at, body) VALUES (?, ?, ?)",
                        [run_id, imported_at, body],
                    ).lastrowid
                db.conn.execute("INSERT INTO search_text (rowid, body) VALUES (?, ?)", [doc, body])
        done += len(part)
        if progress:
            progress(done, len(stale))
    set_setting(db, INDEXED_SOURCES, sources)
    return {"indexed": len(stale), "removed": len(gone), "seconds": round(time.perf_counter() - started, 3)}


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One matching run; ``snippet`` marks matched words with :data:`MARK_START` / :data:`MARK_END`."""

    run_id: str
    task: str | None
    agent: str | None
    status: str
    score: float | None
    snippet: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["snippet"] = self.snippet.replace(MARK_START, "«").replace(MARK_END, "»")
        return data


@dataclass
class SearchResult:
    """The runs matching a query: ``total`` of them, the best ``hits`` (limit), and the query FTS5 ran."""

    query: str
    fts_query: str
    total: int
    hits: list[SearchHit] = field(default_factory=list)
    run_ids: list[str] | None = None  # every match (when asked for), best first

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "fts_query": self.fts_query, "total": self.total,
                "hits": [h.to_dict() for h in self.hits]}  # fmt: skip


_WORD = re.compile(r"\w+", re.UNICODE)


def as_words(query: str) -> str:
    """``query`` as FTS5 phrases, one per word (what a query FTS5 cannot parse is searched as)."""
    words = _WORD.findall(query)
    if not words:
        raise SearchError(f"nothing to search for in {query!r} (no letters or digits)")
    return " ".join(f'"{w}"' for w in words)


def _terms(fts: str) -> re.Pattern[str]:
    """A pattern for the words of an FTS5 query (``word*`` as a prefix), to find them in a document."""
    alternatives = []
    for word, star in re.findall(r"(\w+)(\*?)", fts):
        if word in _OPERATORS:
            continue
        alternatives.append(re.escape(word) + (r"\w*" if star else r"(?!\w)"))
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives or ["(?!)"]) + ")", re.IGNORECASE)


def long_snippet(body: str, fts: str) -> str:
    """A snippet of a long document, in time linear in its length: the text around the first word of the
    query it holds, the query's words marked, as FTS5's ``snippet()`` marks them."""
    pattern = _terms(fts)
    first = pattern.search(body)
    at = first.start() if first else 0
    start, end = max(0, at - _SNIPPET_CHARS), min(len(body), at + 2 * _SNIPPET_CHARS)
    window = " ".join(body[start:end].split())
    marked = pattern.sub(lambda m: f"{MARK_START}{m.group()}{MARK_END}", window)
    return ("…" if start else "") + marked + ("…" if end < len(body) else "")


def _filters(failed: bool, task: str | None, agent: str | None) -> tuple[str, list[Any]]:
    where, params = "", []
    if failed:
        where += " AND r.status != 'success'"
    if task is not None:
        where += " AND r.task_id = ?"
        params.append(task)
    if agent is not None:
        where += " AND r.agent = ?"
        params.append(agent)
    return where, params


def search(
    db: Database,
    query: str,
    *,
    failed: bool = False,
    task: str | None = None,
    agent: str | None = None,
    limit: int | None = 20,
    all_ids: bool = False,
    update: bool = True,
) -> SearchResult:
    """Runs whose text matches ``query``, best first (FTS5 rank); see the module docstring.

    ``all_ids`` also returns every matching run id (to make a group of them); ``update=False`` skips
    bringing the index up to date first.
    """
    if not query.strip():
        raise SearchError("empty query")
    if update:
        update_index(db)
    where, params = _filters(failed, task, agent)
    base = (
        "FROM search_text JOIN search_docs d ON d.doc = search_text.rowid JOIN runs r ON r.id = d.run_id "
        f"WHERE search_text MATCH ?{where}"
    )
    fts = query
    try:
        total = db.execute(f"SELECT count(*) {base}", [fts, *params]).fetchone()[0]
    except sqlite3.OperationalError:  # FTS5 syntax the query did not mean ("zz-injection" reads as a column)
        fts = as_words(query)
        total = db.execute(f"SELECT count(*) {base}", [fts, *params]).fetchone()[0]
    hits: list[SearchHit] = []
    if limit is None or limit > 0:
        sql = (
            "SELECT r.id, r.task_id, r.agent, r.status, r.score, "
            f"CASE WHEN length(d.body) <= {SNIPPET_FTS_CHARS} "
            f"THEN snippet(search_text, 0, '{MARK_START}', '{MARK_END}', '…', {SNIPPET_TOKENS}) END, d.doc "
            f"{base} ORDER BY rank, r.id" + (" LIMIT ?" if limit is not None else "")
        )
        args = [fts, *params] + ([limit] if limit is not None else [])
        for *row, snippet, doc in db.execute(sql, args).fetchall():
            if snippet is None:  # a long document: see SNIPPET_FTS_CHARS
                (body,) = db.execute("SELECT body FROM search_docs WHERE doc = ?", [doc]).fetchone()
                snippet = long_snippet(body, fts)
            hits.append(SearchHit(*row, snippet))
    run_ids = None
    if all_ids:
        run_ids = [r for (r,) in db.execute(f"SELECT r.id {base} ORDER BY rank, r.id", [fts, *params])]
    return SearchResult(query, fts, int(total), hits, run_ids)
