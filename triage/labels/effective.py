"""Effective labels: the one label each run counts as, resolved from the append-only history.

The rule (also in docs/labels.md):

1. Only *active* rows count: a row is inactive when an active ``undo`` row undoes it (so undoing an
   undo brings the original back).
2. Per reviewer, a run's label is the reviewer's latest active run-level label; failing that, the
   latest active cluster decision of that reviewer that covers the run. A decision covers the runs that
   were members when it was made (*confirmed*) and the runs that are members of its cluster now but
   joined later (*inherited, unconfirmed*).
3. Across reviewers, the latest active adjudication of the run wins. Without one, if the reviewers'
   categories differ the run is *in conflict* (listed by :func:`conflicts`) and its effective label is
   the most recent of the reviewers' labels; otherwise it is the most recent of the agreeing labels.

"Latest" orders one reviewer's rows by ``created_at`` then row id (insertion order); "most recent"
across reviewers orders by ``created_at`` then uid, the same in every workspace. Everything is computed in one
pass over the label rows plus the decisions' members, so the whole workspace resolves in a fraction of
a second; :func:`label_of` resolves one run with indexed queries, using the same code.
"""

from __future__ import annotations

import gc
import weakref
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal, NamedTuple

from triage.db.sqlite import Database
from triage.labels.store import (
    COLS,
    I_ACTION,
    I_CAT,
    I_CLUSTER,
    I_CREATED,
    I_EFFECT,
    I_ID,
    I_RATIONALE,
    I_REVIEWER,
    I_RUN,
    I_UID,
    I_UNDOES,
    db_version,
    inactive_uids,
    run_rows,
)
from triage.models import Effect

__all__ = [
    "Conflict",
    "EffectiveLabel",
    "ReviewerLabel",
    "after_write",
    "conflicts",
    "db_version",
    "effective_labels",
    "label_of",
    "labels_by_reviewer",
    "reviewer_labels",
]

Source = Literal["run", "cluster", "adjudication"]
_EFFECTS: dict[str | None, Effect | None] = {e.value: e for e in Effect}
_SEP = "\x1f"  # joins run ids in group_concat: one row per decision/cluster is far cheaper to fetch


class EffectiveLabel(NamedTuple):
    """The label a run counts as (a named tuple: 100,000 of them are built in one call).

    ``confirmed`` is False for a run that joined a cluster after the decision that labels it
    ("inherited, unconfirmed"); ``conflict`` is True when reviewers disagree and no adjudication
    settled it; ``cluster_id`` names the deciding cluster when ``source`` is 'cluster'.
    """

    run_id: str
    category: str
    effect: Effect | None
    source: Source
    reviewer: str
    uid: str
    confirmed: bool
    rationale: str | None
    created_at: str
    cluster_id: str | None = None
    conflict: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = self._asdict()
        data["effect"] = self.effect.value if self.effect is not None else None
        return data


class ReviewerLabel(NamedTuple):
    """One reviewer's label of one run (the per-reviewer step of the rule)."""

    run_id: str
    reviewer: str
    category: str
    effect: Effect | None
    source: Source
    confirmed: bool
    uid: str
    created_at: str
    rationale: str | None = None
    cluster_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = self._asdict()
        data["effect"] = self.effect.value if self.effect is not None else None
        return data


@dataclass(slots=True)
class Conflict:
    """A run whose reviewers disagree, with each reviewer's label and the value used until adjudicated."""

    run_id: str
    labels: tuple[ReviewerLabel, ...]
    effective: EffectiveLabel
    same_effect: bool  # the categories differ but the effects agree: scores are not affected

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "categories": sorted({lab.category for lab in self.labels}),
            "same_effect": self.same_effect,
            "effective": self.effective.to_dict(),
            "labels": [lab.to_dict() for lab in self.labels],
        }


# A per-reviewer state is the tail of an EffectiveLabel (every field after run_id), so building the
# result is one tuple concatenation per run. Indices into a tail:
T_CAT, T_REVIEWER, T_UID, T_CREATED = 0, 3, 4, 7


def _tail(row: tuple, source: str, confirmed: bool) -> tuple:
    return (
        row[I_CAT], _EFFECTS.get(row[I_EFFECT]), source, row[I_REVIEWER], row[I_UID], confirmed,
        row[I_RATIONALE], row[I_CREATED], row[I_CLUSTER] if source == "cluster" else None, False,
    )  # fmt: skip


class _Inputs(NamedTuple):
    undo_pairs: list[tuple[str, str]]
    rows: list[tuple]  # non-undo label rows, chronological
    # Run ids joined by _SEP (one string per decision or cluster: far cheaper to fetch than pairs).
    snapshots: dict[str, str]  # decision uid -> its members at decision time
    members: dict[str, str]  # cluster id -> its current members


class _Resolved(NamedTuple):
    per_reviewer: dict[str, dict[str, tuple]]  # reviewer -> run -> tail
    adjudications: dict[str, tuple]  # run -> tail


# "Most recent" across reviewers: by time, ties broken by uid (the same in every workspace).
_RECENT = itemgetter(T_CREATED, T_UID)


@contextmanager
def _no_gc() -> Iterator[None]:
    # Building ~10^5 small tuples triggers many useless cyclic-GC passes; none of them form cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _resolve(inputs: _Inputs, reviewer: str | None) -> _Resolved:
    """Steps 1-2 of the rule: each reviewer's state of each run, and each run's latest adjudication."""
    inactive = inactive_uids(inputs.undo_pairs)
    decisions: dict[str, list[tuple]] = defaultdict(list)
    run_level: dict[str, list[tuple]] = defaultdict(list)
    adjudications: dict[str, tuple] = {}
    for row in inputs.rows:
        if row[I_UID] in inactive:
            continue
        action = row[I_ACTION]
        if action == "label":
            run_level[row[I_REVIEWER]].append(row)
        elif action == "cluster":
            decisions[row[I_REVIEWER]].append(row)
        elif action == "adjudicate" and reviewer is None:
            adjudications[row[I_RUN]] = _tail(row, "adjudication", True)  # chronological: last wins
    per_reviewer: dict[str, dict[str, tuple]] = {}
    snapshots, members = inputs.snapshots, inputs.members
    for who in sorted(decisions.keys() | run_level.keys()):
        states: dict[str, tuple] = {}
        for decision in decisions.get(who, ()):  # chronological: a later covering decision replaces
            joined = snapshots.get(decision[I_UID], "")
            snapshot = joined.split(_SEP) if joined else []
            states.update(dict.fromkeys(snapshot, _tail(decision, "cluster", True)))
            current = members.get(decision[I_CLUSTER])
            if current and current != joined:  # equal strings: nobody joined later (the common case)
                joined_later = set(current.split(_SEP)).difference(snapshot)
                if joined_later:
                    states.update(dict.fromkeys(joined_later, _tail(decision, "cluster", False)))
        for row in run_level.get(who, ()):  # a run-level label overrides any cluster decision
            states[row[I_RUN]] = _tail(row, "run", True)
        per_reviewer[who] = states
    return _Resolved(per_reviewer, adjudications)


def _shared(per_reviewer: dict[str, dict[str, tuple]]) -> dict[str, list[tuple]]:
    """Runs labelled by two or more reviewers, with each reviewer's tail (set operations do the finding)."""
    seen: set[str] = set()
    shared: set[str] = set()
    for states in per_reviewer.values():
        shared.update(seen.intersection(states))
        seen.update(states)
    out: dict[str, list[tuple]] = {run_id: [] for run_id in shared}
    if shared:
        for states in per_reviewer.values():
            for run_id in shared.intersection(states):
                out[run_id].append(states[run_id])
    return out


def _combine(resolved: _Resolved) -> dict[str, tuple]:
    """Step 3 of the rule: run -> tail of its effective label."""
    per_reviewer, adjudications = resolved
    if len(per_reviewer) == 1:
        chosen = dict(next(iter(per_reviewer.values())))
    else:
        chosen = {}
        for states in per_reviewer.values():
            chosen.update(states)
        for run_id, tails in _shared(per_reviewer).items():
            best = max(tails, key=_RECENT)
            category = best[T_CAT]
            for tail in tails:
                if tail[T_CAT] != category:
                    best = (*best[:-1], True)  # reviewers disagree: flag the conflict
                    break
            chosen[run_id] = best
    chosen.update(adjudications)
    return chosen


def _workspace_inputs(db: Database, reviewer: str | None) -> _Inputs:
    conn = db.conn
    undo_pairs = conn.execute("SELECT uid, undoes FROM labels WHERE undoes IS NOT NULL").fetchall()
    where = "action != 'undo'" + (" AND reviewer = ?" if reviewer is not None else "")
    params = [reviewer] if reviewer is not None else []
    rows = conn.execute(f"SELECT {COLS} FROM labels WHERE {where}", params).fetchall()
    rows.sort(key=itemgetter(I_CREATED, I_ID))
    snapshots: dict[str, str] = {}
    members: dict[str, str] = {}
    if any(row[I_ACTION] == "cluster" for row in rows):
        # One row per decision / per cluster: fetching 10^5 (uid, run) pairs one by one costs far more.
        # (label_members is stored in (label_uid, run_id) order, so a snapshot's ids come out sorted.)
        snapshots = dict(
            conn.execute("SELECT label_uid, group_concat(run_id, char(31)) FROM label_members GROUP BY label_uid")
        )
        members = dict(
            conn.execute("SELECT cluster_id, group_concat(run_id, char(31)) FROM cluster_members GROUP BY cluster_id")
        )
    return _Inputs(undo_pairs, rows, snapshots, members)


# effective_labels() results per Database object and reviewer view, valid while the workspace is
# unchanged (the TUI asks after every keystroke). "Unchanged" = same PRAGMA data_version (no commit by
# another connection) and same total_changes on this connection (no write through it). Writes made
# through triage.labels patch the affected runs in place (see after_write) instead of dropping it.
_CACHE: weakref.WeakKeyDictionary[Database, dict[str | None, tuple[tuple, dict[str, EffectiveLabel]]]]
_CACHE = weakref.WeakKeyDictionary()
# Above this many affected runs, recomputing everything is cheaper than patching run by run.
PATCH_LIMIT = 300


def after_write(db: Database, before: tuple[int, int], affected: Iterable[str] | None) -> None:
    """Bring cached effective labels up to date after a label write that changed only ``affected`` runs.

    ``before`` is :func:`db_version` just before the write. A view whose cache was current then is
    patched with :func:`label_of` for each affected run; anything else is dropped.
    """
    views = _CACHE.get(db)
    if not views:
        return
    after = db_version(db)
    runs = None if affected is None else set(affected)
    if runs is None or len(runs) > PATCH_LIMIT or after[0] != before[0] or db.conn.in_transaction:
        # Unknown extent, too many runs, another connection committed meanwhile, or the caller's
        # transaction may still roll back (total_changes would not go back down).
        _CACHE.pop(db, None)
        return
    for reviewer, (version, out) in list(views.items()):
        if version != before:
            del views[reviewer]
            continue
        for run_id in runs:
            label = label_of(db, run_id, reviewer)
            if label is None:
                out.pop(run_id, None)
            else:
                out[run_id] = label
        views[reviewer] = (after, out)


def effective_labels(db: Database, reviewer: str | None = None) -> dict[str, EffectiveLabel]:
    """Every labelled run's effective label, keyed by run id (see the module docstring for the rule).

    With ``reviewer``, that reviewer's own view: only their run labels and cluster decisions (step 2),
    no adjudications and no conflicts. Runs no longer in the workspace keep their labels and appear too.
    The result is cached until the workspace changes (a fresh dict is returned each time).
    """
    version = db_version(db)
    views = _CACHE.setdefault(db, {})
    cached = views.get(reviewer)
    if cached is not None and cached[0] == version:
        return dict(cached[1])
    with _no_gc():
        chosen = _combine(_resolve(_workspace_inputs(db, reviewer), reviewer))
        new = tuple.__new__
        out = {run_id: new(EffectiveLabel, (run_id, *tail)) for run_id, tail in chosen.items()}
    if not db.conn.in_transaction:  # uncommitted rows may be rolled back without changing the version
        views[reviewer] = (version, out)
    return dict(out)


def labels_by_reviewer(db: Database) -> dict[str, dict[str, EffectiveLabel]]:
    """Every reviewer's own view, as ``effective_labels(db, reviewer=...)`` gives it, from one read of the labels.

    Step 2 of the rule resolves each reviewer's runs on their own, so one pass over all reviewers' rows gives
    each view (N reviewers: one read of the labels and memberships instead of N). Reviewers whose every label
    was undone are absent.
    """
    with _no_gc():
        per_reviewer, _ = _resolve(_workspace_inputs(db, None), None)
        new = tuple.__new__
        return {
            who: {run_id: new(EffectiveLabel, (run_id, *tail)) for run_id, tail in states.items()}
            for who, states in per_reviewer.items()
            if states
        }


def _run_inputs(db: Database, run_id: str, reviewer: str | None) -> _Inputs:
    rows = run_rows(db, run_id)
    undo_pairs = [(r[I_UID], r[I_UNDOES]) for r in rows if r[I_ACTION] == "undo"]
    base = [r for r in rows if r[I_ACTION] != "undo" and (reviewer is None or r[I_REVIEWER] == reviewer)]
    snapshots = {uid: run_id for (uid,) in db.execute("SELECT label_uid FROM label_members WHERE run_id = ?", [run_id])}
    current = db.execute("SELECT cluster_id FROM cluster_members WHERE run_id = ?", [run_id]).fetchone()
    return _Inputs(undo_pairs, base, snapshots, {current[0]: run_id} if current else {})


def label_of(db: Database, run_id: str, reviewer: str | None = None) -> EffectiveLabel | None:
    """One run's effective label (None if unlabelled), with a few indexed queries: cheap for the TUI."""
    tail = _combine(_resolve(_run_inputs(db, run_id, reviewer), reviewer)).get(run_id)
    return EffectiveLabel(run_id, *tail) if tail is not None else None


def _reviewer_label(run_id: str, tail: tuple) -> ReviewerLabel:
    category, effect, source, who, uid, confirmed, rationale, created_at, cluster_id, _ = tail
    return ReviewerLabel(run_id, who, category, effect, source, confirmed, uid, created_at, rationale, cluster_id)


def reviewer_labels(db: Database, run_id: str) -> list[ReviewerLabel]:
    """Each reviewer's current label of one run (oldest first), e.g. to show a disagreement."""
    resolved = _resolve(_run_inputs(db, run_id, None), None)
    labels = [_reviewer_label(run_id, s[run_id]) for s in resolved.per_reviewer.values() if run_id in s]
    return sorted(labels, key=lambda lab: (lab.created_at, lab.reviewer))


def conflicts(db: Database, run_ids: Iterable[str] | None = None) -> list[Conflict]:
    """Runs whose reviewers' current labels name different categories and that no adjudication settled.

    Sorted by run id; ``run_ids`` restricts the answer to those runs.
    """
    out: list[Conflict] = []
    with _no_gc():
        per_reviewer, adjudications = _resolve(_workspace_inputs(db, None), None)
        shared = _shared(per_reviewer)
        wanted = set(run_ids) if run_ids is not None else None
        for run_id in sorted(shared):
            if run_id in adjudications or (wanted is not None and run_id not in wanted):
                continue
            tails = shared[run_id]
            if len({tail[T_CAT] for tail in tails}) < 2:
                continue
            tails.sort(key=_RECENT)
            labels = tuple(_reviewer_label(run_id, tail) for tail in tails)
            effective = EffectiveLabel(run_id, *tails[-1][:-1], True)
            out.append(Conflict(run_id, labels, effective, len({lab.effect for lab in labels}) == 1))
    return out
