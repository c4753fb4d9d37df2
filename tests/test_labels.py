"""Labels on a real workspace: run labels, cluster decisions, overrides, undo/redo, append-only history,
reviewers and conflicts, adjudication, and the effective-label rule (bulk and one-run paths agree)."""

from __future__ import annotations

import random
import sqlite3

import pytest
from labels_support import add_cluster, add_runs, label_rows, move_run

from triage.db import open_db
from triage.labels import (
    LabelError,
    NothingToUndo,
    RationaleRequired,
    UnknownCategory,
    UnknownCluster,
    UnknownRun,
    add_label,
    adjudicate,
    cluster_decision,
    cluster_labels,
    conflicts,
    effective_labels,
    history,
    label_cluster,
    label_of,
    labels_by_reviewer,
    redo,
    reviewer_labels,
    undo,
)
from triage.labels.effective import _CACHE
from triage.models import Effect
from triage.taxonomy import load_taxonomy, parse_taxonomy

RUNS = [f"run-{i}" for i in range(6)]


@pytest.fixture
def ws(db):
    """Six failed runs; run-0..3 in cluster c1, run-4 in c2, run-5 unclustered."""
    add_runs(db, RUNS)
    add_cluster(db, "c1", RUNS[:4])
    add_cluster(db, "c2", RUNS[4:5])
    return db


def cat(db, run_id, reviewer=None):
    label = label_of(db, run_id, reviewer)
    return label.category if label else None


def fresh_effective(db, reviewer=None):
    _CACHE.clear()
    return effective_labels(db, reviewer)


# --- run labels --------------------------------------------------------------------------------------


def test_a_run_label_records_who_when_why_evidence_and_taxonomy(ws):
    label = add_label(
        ws, "run-0", "format_misuse", reviewer="ana", rationale=" bad JSON args ", evidence_index=3,
        evidence_excerpt="invalid JSON",
    )  # fmt: skip
    tax = load_taxonomy()
    assert label.effect is Effect.spurious and label.action == "label" and label.taxonomy_hash == tax.hash
    [row] = label_rows(ws)
    assert row["run_id"] == "run-0" and row["reviewer"] == "ana" and row["rationale"] == "bad JSON args"
    assert row["evidence_index"] == 3 and row["evidence_excerpt"] == "invalid JSON" and row["created_at"]
    assert [t["hash"] for t in ws["taxonomies"].rows] == [tax.hash]
    eff = effective_labels(ws)["run-0"]
    assert (eff.category, eff.effect, eff.source, eff.reviewer, eff.confirmed) == (
        "format_misuse", Effect.spurious, "run", "ana", True,
    )  # fmt: skip


def test_rationale_required_except_for_real_and_configurable(ws, tmp_path):
    with pytest.raises(RationaleRequired, match="refusal"):
        add_label(ws, "run-0", "refusal", reviewer="ana")
    with pytest.raises(RationaleRequired):
        add_label(ws, "run-0", "refusal", reviewer="ana", rationale="   ")
    add_label(ws, "run-0", "poor_planning", reviewer="ana")  # real: no rationale needed
    strict = parse_taxonomy(
        "name: strict\nrationale_required_for: [real]\ncategories:\n"
        "  - {id: weak, title: W, effect: real, description: d}\n"
        "  - {id: fixable, title: F, effect: spurious, description: d}\n"
    )
    with pytest.raises(RationaleRequired):
        add_label(ws, "run-1", "weak", reviewer="ana", taxonomy=strict)
    label = add_label(ws, "run-1", "fixable", reviewer="ana", taxonomy=strict)
    assert label.taxonomy_hash == strict.hash and label.rationale is None
    assert {t["name"] for t in ws["taxonomies"].rows} == {"triage-default", "strict"}


def test_bad_requests_are_rejected_and_write_nothing(ws):
    with pytest.raises(UnknownCategory, match="did you mean refusal"):
        add_label(ws, "run-0", "refusl", reviewer="ana", rationale="x")
    with pytest.raises(LabelError):  # the same error is also a LabelError
        add_label(ws, "run-0", "refusl", reviewer="ana", rationale="x")
    with pytest.raises(UnknownRun, match="did you mean run-0, run-1"):
        add_label(ws, "run", "poor_planning", reviewer="ana")
    with pytest.raises(UnknownRun, match="triage runs"):
        add_label(ws, "nope", "poor_planning", reviewer="ana")
    with pytest.raises(UnknownCluster):
        label_cluster(ws, "c9", "refusal", reviewer="ana", rationale="x")
    with pytest.raises(LabelError, match="outside run"):
        add_label(ws, "run-0", "poor_planning", reviewer="ana", evidence_index=10)
    with pytest.raises(LabelError, match="suggestion"):
        add_label(ws, "run-0", "poor_planning", reviewer="ana", suggestion_id=99)
    with pytest.raises(LabelError, match="reviewer"):
        add_label(ws, "run-0", "poor_planning", reviewer=" ")
    add_cluster(ws, "empty", [])
    with pytest.raises(UnknownCluster, match="no members"):
        label_cluster(ws, "empty", "refusal", reviewer="ana", rationale="x")
    assert label_rows(ws) == []


# --- cluster decisions and overrides -----------------------------------------------------------------


def test_a_cluster_decision_labels_every_member(ws):
    decision = label_cluster(ws, "c1", "tooling_bug", reviewer="ana", rationale="bash tool returns nothing")
    assert decision.action == "cluster" and decision.cluster_id == "c1" and decision.run_id is None
    assert len(label_rows(ws)) == 1  # one row for the whole cluster ...
    members = {r for (r,) in ws.execute("SELECT run_id FROM label_members WHERE label_uid = ?", [decision.uid])}
    assert members == set(RUNS[:4])  # ... plus who it labelled
    labels = effective_labels(ws)
    assert set(labels) == set(RUNS[:4])
    for run_id in RUNS[:4]:
        assert labels[run_id].category == "tooling_bug" and labels[run_id].source == "cluster"
        assert labels[run_id].confirmed and labels[run_id].cluster_id == "c1" and labels[run_id].uid == decision.uid
    assert cluster_decision(ws, "c1").uid == decision.uid and cluster_decision(ws, "c2") is None
    assert set(cluster_labels(ws)) == {"c1"}


def test_a_decision_over_given_members_labels_exactly_them(ws):
    seen_in_transaction = []

    def members(db):
        seen_in_transaction.append(db.conn.in_transaction)
        return ["run-1", "run-4", "run-5"]  # across clusters, and an unclustered run

    decision = label_cluster(ws, "group:x", "tooling_bug", reviewer="ana", rationale="tool", members=members)
    assert seen_in_transaction == [True]  # read inside the write transaction: the snapshot is who it labels
    snapshot = {r for (r,) in ws.execute("SELECT run_id FROM label_members WHERE label_uid = ?", [decision.uid])}
    assert snapshot == {"run-1", "run-4", "run-5"} and decision.cluster_id == "group:x"
    labels = fresh_effective(ws)
    assert set(labels) == snapshot and {lab.cluster_id for lab in labels.values()} == {"group:x"}
    assert cluster_decision(ws, "group:x").uid == decision.uid
    undo(ws, cluster_id="group:x", reviewer="ana")
    assert fresh_effective(ws) == {}
    with pytest.raises(UnknownCluster, match="no members"):  # an empty list is refused, nothing written
        label_cluster(ws, "group:y", "tooling_bug", reviewer="ana", rationale="tool", members=lambda db: [])
    assert len(label_rows(ws)) == 2  # the decision and its undo


def test_a_run_label_overrides_the_cluster_decision_and_both_are_kept(ws):
    label_cluster(ws, "c1", "tooling_bug", reviewer="ana", rationale="tool")
    add_label(ws, "run-2", "incorrect_reasoning", reviewer="ana")
    # A later decision on the cluster does not override the run's own label either.
    label_cluster(ws, "c1", "format_misuse", reviewer="ana", rationale="format after all")
    labels = effective_labels(ws)
    assert labels["run-2"].category == "incorrect_reasoning" and labels["run-2"].source == "run"
    assert {labels[r].category for r in ("run-0", "run-1", "run-3")} == {"format_misuse"}
    assert [h.action for h in history(ws, "run-2")] == ["cluster", "label", "cluster"]


def test_runs_that_join_later_inherit_unconfirmed_until_confirmed(ws):
    label_cluster(ws, "c1", "gave_up", reviewer="ana", rationale="stops early")
    add_cluster(ws, "c1", ["run-5"])  # clustering adds a new member after the decision
    late = effective_labels(ws)["run-5"]
    assert late.category == "gave_up" and late.source == "cluster" and late.confirmed is False
    assert effective_labels(ws)["run-0"].confirmed is True
    assert label_of(ws, "run-5") == late
    add_label(ws, "run-5", "gave_up", reviewer="ana", rationale="checked: it gave up too")
    assert effective_labels(ws)["run-5"].confirmed is True


def test_a_run_that_leaves_keeps_the_decision_it_was_part_of_until_its_new_cluster_is_decided(ws):
    label_cluster(ws, "c1", "gave_up", reviewer="ana", rationale="stops early")
    move_run(ws, "run-0", "c2")  # re-clustering moves it out
    assert label_of(ws, "run-0").category == "gave_up" and label_of(ws, "run-0").confirmed
    label_cluster(ws, "c2", "repeated_actions", reviewer="ana", rationale="loops")
    assert label_of(ws, "run-0").category == "repeated_actions"
    assert label_of(ws, "run-4").category == "repeated_actions"


def test_labels_outlive_runs(ws):
    label_cluster(ws, "c1", "gave_up", reviewer="ana", rationale="stops early")
    with ws.conn:
        ws.execute("DELETE FROM runs WHERE id = 'run-1'")  # e.g. its source file was re-imported
    assert effective_labels(ws)["run-1"].category == "gave_up"
    add_runs(ws, ["run-1"])
    assert label_of(ws, "run-1").category == "gave_up"


# --- undo / redo -------------------------------------------------------------------------------------


def test_undo_restores_the_previous_state_by_adding_rows(ws):
    label_cluster(ws, "c1", "tooling_bug", reviewer="ana", rationale="tool")
    first = add_label(ws, "run-0", "poor_planning", reviewer="ana")
    add_label(ws, "run-0", "missing_skill", reviewer="ana")
    before = label_rows(ws)
    row = undo(ws, run_id="run-0", reviewer="ana")
    assert row.action == "undo" and row.category == "poor_planning"  # the state it leads back to
    after = label_rows(ws)
    assert after[: len(before)] == before and len(after) == len(before) + 1  # nothing changed, one row added
    assert cat(ws, "run-0") == "poor_planning"
    row = undo(ws, run_id="run-0", reviewer="ana")  # a second undo steps further back
    assert row.undoes == first.uid and row.category is None
    assert label_of(ws, "run-0").source == "cluster"  # back to the cluster decision
    with pytest.raises(NothingToUndo, match="--cluster c1"):
        undo(ws, run_id="run-0", reviewer="ana")
    undo(ws, cluster_id="c1", reviewer="ana")
    assert label_of(ws, "run-0") is None and effective_labels(ws) == {}
    assert len(label_rows(ws)) == 6


def test_undo_of_a_cluster_decision_restores_the_previous_decision(ws):
    label_cluster(ws, "c1", "tooling_bug", reviewer="ana", rationale="tool")
    label_cluster(ws, "c1", "format_misuse", reviewer="ana", rationale="format")
    row = undo(ws, cluster_id="c1", reviewer="ana")
    assert row.cluster_id == "c1" and row.category == "tooling_bug"
    assert {lab.category for lab in effective_labels(ws).values()} == {"tooling_bug"}
    assert cluster_decision(ws, "c1").category == "tooling_bug"


def test_undo_of_an_undo_reapplies_and_redo_follows_the_undo_stack(ws):
    l1 = add_label(ws, "run-0", "poor_planning", reviewer="ana")
    l2 = add_label(ws, "run-0", "missing_skill", reviewer="ana")
    u1 = undo(ws, run_id="run-0", reviewer="ana")  # -> poor_planning
    u2 = undo(ws, run_id="run-0", reviewer="ana")  # -> unlabelled
    assert (u1.undoes, u2.undoes) == (l2.uid, l1.uid) and cat(ws, "run-0") is None
    r1 = undo(ws, run_id="run-0", reviewer="ana", uid=u2.uid)  # undo the undo: poor_planning is back
    assert r1.undoes == u2.uid and r1.category == "poor_planning" and cat(ws, "run-0") == "poor_planning"
    r2 = redo(ws, run_id="run-0", reviewer="ana")  # redo the remaining undo: missing_skill is back
    assert r2.undoes == u1.uid and cat(ws, "run-0") == "missing_skill"
    with pytest.raises(NothingToUndo, match="nothing to redo"):
        redo(ws, run_id="run-0", reviewer="ana")
    # Undo after the redos walks back again through the re-applied labels.
    undo(ws, run_id="run-0", reviewer="ana")
    assert cat(ws, "run-0") == "poor_planning"
    # A new label clears the redo stack, as in an editor.
    add_label(ws, "run-0", "incorrect_reasoning", reviewer="ana")
    with pytest.raises(NothingToUndo):
        redo(ws, run_id="run-0", reviewer="ana")
    assert cat(ws, "run-0") == "incorrect_reasoning"
    assert effective_labels(ws) == fresh_effective(ws)


def test_undo_and_redo_of_a_cluster_decision_and_undoing_a_redo(ws):
    decision = label_cluster(ws, "c1", "tooling_bug", reviewer="ana", rationale="tool")
    undo(ws, cluster_id="c1", reviewer="ana")
    assert effective_labels(ws) == {}
    redone = redo(ws, cluster_id="c1", reviewer="ana")
    assert redone.category == "tooling_bug" and len(effective_labels(ws)) == 4
    undo(ws, cluster_id="c1", reviewer="ana", uid=redone.uid)  # undo the redo: undone again
    assert effective_labels(ws) == {}
    assert [h.action for h in history(ws, "run-3")] == ["cluster", "undo", "undo", "undo"]
    assert history(ws, "run-3")[0].uid == decision.uid


def test_a_reviewer_cannot_undo_someone_elses_label(ws):
    label = add_label(ws, "run-0", "poor_planning", reviewer="ana")
    with pytest.raises(NothingToUndo):
        undo(ws, run_id="run-0", reviewer="ben")
    with pytest.raises(NothingToUndo):
        undo(ws, run_id="run-0", reviewer="ben", uid=label.uid)
    with pytest.raises(NothingToUndo, match="no label row"):
        undo(ws, reviewer="ana", uid="nope")
    with pytest.raises(LabelError, match="exactly one"):
        undo(ws, reviewer="ana")


# --- append-only ------------------------------------------------------------------------------------


def test_label_history_is_append_only(ws):
    decision = label_cluster(ws, "c1", "tooling_bug", reviewer="ana", rationale="tool")
    add_label(ws, "run-0", "poor_planning", reviewer="ana")
    for sql in (
        "UPDATE labels SET category = 'refusal'",
        "DELETE FROM labels",
        "UPDATE label_members SET run_id = 'run-5'",
        "DELETE FROM label_members",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"), ws.conn:
            ws.execute(sql)
    assert len(label_rows(ws)) == 2
    assert ws.execute("SELECT count(*) FROM label_members WHERE label_uid = ?", [decision.uid]).fetchone()[0] == 4


# --- reviewers, conflicts, adjudication ------------------------------------------------------------------


def test_two_reviewers_disagree_and_an_adjudication_settles_it(ws):
    add_label(ws, "run-0", "poor_planning", reviewer="ana")
    label_cluster(ws, "c1", "gave_up", reviewer="ben", rationale="gives up")
    add_label(ws, "run-1", "gave_up", reviewer="ana", rationale="agree")
    found = {c.run_id: c for c in conflicts(ws)}
    assert set(found) == {"run-0"}  # run-1: same category; run-2/3: only ben
    conflict = found["run-0"]
    assert [(lab.reviewer, lab.category, lab.source) for lab in conflict.labels] == [
        ("ana", "poor_planning", "run"), ("ben", "gave_up", "cluster"),
    ]  # fmt: skip
    assert conflict.same_effect is False and conflict.effective.category == "gave_up"  # the most recent
    labels = effective_labels(ws)
    assert labels["run-0"].conflict and labels["run-0"].category == "gave_up"
    assert not labels["run-1"].conflict
    # Each reviewer's own view.
    assert effective_labels(ws, reviewer="ana")["run-0"].category == "poor_planning"
    assert set(effective_labels(ws, reviewer="ana")) == {"run-0", "run-1"}
    assert [lab.reviewer for lab in reviewer_labels(ws, "run-0")] == ["ana", "ben"]

    with pytest.raises(RationaleRequired):
        adjudicate(ws, "run-0", "poor_planning", reviewer="lead", rationale=None)
    adjudicate(ws, "run-0", "poor_planning", reviewer="lead", rationale="plan was hopeless")
    assert conflicts(ws) == []
    settled = effective_labels(ws)["run-0"]
    assert (settled.category, settled.source, settled.reviewer, settled.conflict) == (
        "poor_planning", "adjudication", "lead", False,
    )  # fmt: skip
    assert "lead" not in {lab.reviewer for lab in effective_labels(ws, reviewer="ana").values()}
    undo(ws, run_id="run-0", reviewer="lead")  # undoing the adjudication re-opens the conflict
    assert [c.run_id for c in conflicts(ws)] == ["run-0"]


def test_same_effect_conflict_is_flagged(ws):
    add_label(ws, "run-4", "gave_up", reviewer="ana", rationale="a")
    add_label(ws, "run-4", "repeated_actions", reviewer="ben", rationale="b")
    [conflict] = conflicts(ws)
    assert conflict.same_effect and conflict.to_dict()["categories"] == ["gave_up", "repeated_actions"]
    assert conflicts(ws, run_ids=["run-0"]) == []


# --- the bulk and one-run paths, and the cache --------------------------------------------------------


def test_random_histories_bulk_one_run_and_cached_paths_agree(ws):
    """Random operations by three reviewers; after each, every path gives the same answer."""
    rng = random.Random(7)
    tax = load_taxonomy()
    ids = tax.ids
    add_cluster(ws, "c3", [])
    for step in range(120):
        who = rng.choice(["ana", "ben", "cy"])
        op = rng.random()
        try:
            if op < 0.35:
                add_label(ws, rng.choice(RUNS), rng.choice(ids), reviewer=who, rationale="r")
            elif op < 0.55:
                label_cluster(ws, rng.choice(["c1", "c2"]), rng.choice(ids), reviewer=who, rationale="r")
            elif op < 0.7:
                undo(ws, run_id=rng.choice(RUNS), reviewer=who)
            elif op < 0.8:
                undo(ws, cluster_id=rng.choice(["c1", "c2"]), reviewer=who)
            elif op < 0.87:
                redo(ws, run_id=rng.choice(RUNS), reviewer=who)
            elif op < 0.92:
                adjudicate(ws, rng.choice(RUNS), rng.choice(ids), reviewer="lead", rationale="settled")
            else:
                move_run(ws, rng.choice(RUNS), rng.choice(["c1", "c2", "c3"]))
        except NothingToUndo:
            pass
        cached = effective_labels(ws)  # patched in place after label writes
        fresh = fresh_effective(ws)
        assert cached == fresh, f"step {step}"
        for run_id in RUNS:
            assert label_of(ws, run_id) == fresh.get(run_id), f"step {step} {run_id}"
        by_reviewer = labels_by_reviewer(ws)  # every view from one pass (what agreement and the audit read)
        for who in ("ana", "ben", "cy", "lead"):
            mine = fresh_effective(ws, who)
            assert by_reviewer.get(who, {}) == mine, f"step {step} {who}"
            for run_id in RUNS:
                assert label_of(ws, run_id, who) == mine.get(run_id)
        assert set(by_reviewer) <= {"ana", "ben", "cy"}  # adjudications are no reviewer's own view
        flagged = {r for r, lab in fresh.items() if lab.conflict}
        assert flagged == {c.run_id for c in conflicts(ws)}


def test_cache_sees_writes_from_another_connection(ws, db_path):
    add_label(ws, "run-0", "poor_planning", reviewer="ana")
    assert set(effective_labels(ws)) == {"run-0"}
    other = open_db(db_path)
    try:
        add_label(other, "run-1", "missing_skill", reviewer="ben")
        add_cluster(other, "c2", ["run-5"])
    finally:
        other.conn.close()
    assert set(effective_labels(ws)) == {"run-0", "run-1"}
    with ws.conn:  # a write that is not a label (clustering) invalidates too
        ws.execute("UPDATE cluster_members SET cluster_id = 'c2' WHERE run_id = 'run-0'")
    label_cluster(ws, "c2", "gave_up", reviewer="ana", rationale="x")
    assert effective_labels(ws) == fresh_effective(ws)


# --- history ---------------------------------------------------------------------------------------


def test_history_shows_run_rows_and_the_cluster_decisions_that_applied(ws):
    label_cluster(ws, "c2", "tooling_bug", reviewer="ana", rationale="other cluster")
    label_cluster(ws, "c1", "gave_up", reviewer="ana", rationale="gives up")
    add_label(ws, "run-0", "poor_planning", reviewer="ben")
    undo(ws, run_id="run-0", reviewer="ben")
    rows = history(ws, "run-0")
    expected = [("cluster", "gave_up"), ("label", "poor_planning"), ("undo", None)]
    assert [(r.action, r.category) for r in rows] == expected
    assert rows == sorted(rows, key=lambda r: r.created_at)
    assert history(ws, "run-5") == []
    add_cluster(ws, "c1", ["run-5"])  # a later member sees the decision that now applies to it
    assert [r.category for r in history(ws, "run-5")] == ["gave_up"]
