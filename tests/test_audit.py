"""The protocol audit: computed verdicts with evidence, manual sign-offs, checklist validation."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from labels_support import add_cluster
from typer.testing import CliRunner

from triage.audit import ChecklistError, checks, load_checklist, run_audit, signoff
from triage.cli import app
from triage.db import now
from triage.labels import add_label, effective_labels, label_cluster


def _run(db, run_id, agent, task, status, success=None):
    db["runs"].insert(
        {"id": run_id, "agent": agent, "task_id": task, "status": status, "success": success,
         "n_messages": 0, "imported_at": now()}, pk="id",
    )  # fmt: skip


@pytest.fixture
def ws(db):
    db["tasks"].insert_all([{"id": "t1", "family": "f", "human_minutes": 5}, {"id": "t2", "family": "f"}], pk="id")
    for i in range(8):
        _run(db, f"a-t1-{i}", "A", "t1", "success" if i < 4 else "failed", int(i < 4))
        _run(db, f"a-t2-{i}", "A", "t2", "limit" if i < 3 else "failed", 0)
    return db


def by_id(results):
    return {r.id: r for r in results}


def test_every_item_has_a_verdict_and_evidence(ws):
    results = by_id(run_audit(ws))
    assert set(results) == {i.id for i in load_checklist().items}
    assert all(r.verdict in {"pass", "warn", "fail", "todo"} and r.summary for r in results.values())
    # 3 of A's 16 runs ended on a limit: 18.75% is above the warn threshold (10%), below fail (25%).
    assert results["budget_binding"].value == pytest.approx(3 / 16)
    assert results["budget_binding"].verdict == "warn"
    assert results["unsolved_tasks"].evidence["tasks"] == ["t2"]
    assert results["task_metadata"].evidence["no_human_minutes"] == ["t2"]
    # Nothing reviewed yet: failures_reviewed fails; manual items are todo.
    assert results["failures_reviewed"].verdict == "fail" and results["failures_reviewed"].value == 0
    assert results["failures_reviewed"].summary.endswith("none reviewed yet")
    assert results["scaffold_frozen"].verdict == "todo"
    # No agent has an invalid run: no agent is named as the worst.
    assert results["invalid_runs"].summary.endswith("0.0% for every agent (1)")
    assert results["budget_binding"].summary.endswith(": A 18.8%")


def test_labels_move_the_verdicts(ws):
    failures = [r[0] for r in ws.execute("SELECT id FROM runs WHERE status != 'success' ORDER BY id")]
    for run in failures:
        add_label(ws, run, "poor_planning", reviewer="alice")
    add_label(ws, failures[0], "gave_up", reviewer="bob", rationale="stopped after one try")
    results = by_id(run_audit(ws))
    assert results["failures_reviewed"].verdict == "pass" and results["failures_reviewed"].value == 1.0
    assert results["reviewer_agreement"].value == pytest.approx(1.0)  # the one doubly-labelled run disagrees
    assert results["reviewer_agreement"].verdict == "fail"


def test_signoff_is_recorded_and_append_only(ws):
    signoff(ws, "scaffold_frozen", reviewer="alice", note="dev set tasks listed in dev.txt")
    result = by_id(run_audit(ws))["scaffold_frozen"]
    assert result.verdict == "pass" and result.signoffs[0]["reviewer"] == "alice"
    with pytest.raises(Exception, match="append-only"):
        ws.execute("DELETE FROM signoffs")
    with pytest.raises(ChecklistError, match="computed"):
        signoff(ws, "budget_binding", reviewer="alice", note="x")
    with pytest.raises(ChecklistError, match="note"):
        signoff(ws, "contamination", reviewer="alice", note=" ")


def test_bad_checklist_names_item_field_and_line(tmp_path):
    bad = tmp_path / "checklist.yaml"
    bad.write_text(
        "name: x\nitems:\n  - id: ok_item\n    title: fine\n    kind: manual\n"
        "  - id: broken\n    title: no check\n    kind: computed\n    check: nonexistent\n"
    )
    with pytest.raises(ChecklistError, match=r"items\[1\]\.check \(line 9\): unknown check"):
        load_checklist(bad)
    bad.write_text("items:\n  - id: x\n    title: t\n    kind: sometimes\n")
    with pytest.raises(ChecklistError, match=r"items\[0\]\.kind \(line 4\)"):
        load_checklist(bad)


def test_audit_cli_exit_codes_and_json(ws, db_path):
    runner = CliRunner()
    result = runner.invoke(app, ["audit", "--db", str(db_path), "--json"])
    assert result.exit_code == 1  # failures_reviewed fails
    data = json.loads(result.stdout)
    assert {i["id"] for i in data["items"]} >= {"runs_per_task", "scaffold_frozen"}
    ok = runner.invoke(app, ["signoff", "contamination", "--note", "checked", "--db", str(db_path), "--reviewer", "r"])
    assert ok.exit_code == 0
    bad = runner.invoke(app, ["signoff", "no_such_item", "--note", "x", "--db", str(db_path)])
    assert bad.exit_code == 2


def test_counts_from_the_index_match_every_run_read_one_by_one(db):
    """The checks count from the (agent, status, task, score) index and look up only labelled runs: their
    figures must equal a plain reading of every run row, whatever the mixture (no agent, no task, a task
    without family, continuous scores, two reviewers, a cluster decision, a variant, re-runs)."""
    rng = random.Random(3)
    db["tasks"].insert_all([
        {"id": "t1", "family": "f1", "human_minutes": 5}, {"id": "t2", "family": "f1"},
        {"id": "t3", "human_minutes": 9}, {"id": "t4", "human_minutes": 1, "threshold": 0.5},
    ], pk="id")  # fmt: skip
    statuses = ["success", "failed", "failed", "limit", "error"]
    for i in range(160):
        agent = rng.choice(["A", "B", "C", None])
        task = rng.choice(["t1", "t2", "t3", "t4", None])
        status = rng.choice(statuses)
        score = rng.choice([None, 0, 1, 0.4]) if task in ("t3", "t4") else None
        row = {"id": f"r{i:03d}", "agent": agent, "task_id": task, "status": status, "score": score}
        db["runs"].insert({**row, "success": int(status == "success"), "n_messages": 0, "imported_at": now()}, pk="id")
    runs = list(db.execute("SELECT r.id, coalesce(r.agent, '(unknown)'), coalesce(r.task_id, '(none)'), "
                           "coalesce(t.family, r.task_id, '(none)'), r.status, r.success, r.score "
                           "FROM runs r LEFT JOIN tasks t ON t.id = r.task_id"))  # fmt: skip
    failures = [r[0] for r in runs if r[4] != "success"]
    for run_id in rng.sample(failures, 50):
        add_label(db, run_id, rng.choice(["tooling_bug", "infrastructure", "poor_planning"]), reviewer="ann",
                  rationale="seen")  # fmt: skip
    for run_id in rng.sample(failures, 20):
        add_label(db, run_id, rng.choice(["tooling_bug", "broken_task"]), reviewer="bo", rationale="seen")
    add_cluster(db, "c1", rng.sample([r[0] for r in runs], 15))
    label_cluster(db, "c1", "tooling_bug", reviewer="bo", rationale="tool broken")
    labelled = sorted(effective_labels(db))
    succeeded = [r[0] for r in runs if r[4] == "success" and r[0] in set(labelled)]  # spurious yet successful
    assert succeeded
    # Re-runs of labelled runs (one a variant); the successful ones' re-runs fail (not "questioned": they passed).
    for k, original in enumerate(labelled[:12] + succeeded):
        db["runs"].insert({"id": f"rerun{k}", "agent": "A", "task_id": "t1", "status": "failed",
                           "success": k % 3 == 0 and original not in succeeded,
                           "rerun_of": original, "variant": "v2" if k == 4 else None, "n_messages": 0,
                           "imported_at": now()}, pk="id")  # fmt: skip
    db.execute("UPDATE runs SET variant = 'v1' WHERE id = ?", [labelled[5]])
    db.conn.commit()

    runs = list(db.execute("SELECT r.id, coalesce(r.agent, '(unknown)'), coalesce(r.task_id, '(none)'), "
                           "coalesce(t.family, r.task_id, '(none)'), r.status, r.success, r.score, r.variant "
                           "FROM runs r LEFT JOIN tasks t ON t.id = r.task_id"))  # fmt: skip
    labels = effective_labels(db)

    def shares(rows):
        out = {}
        for key in sorted({k for k, _ in rows}):
            flags = [f for k, f in rows if k == key]
            out[key] = {"n": len(flags), "count": sum(flags), "share": round(sum(flags) / len(flags), 4)}
        return out

    def effect(run_id):
        lab = labels.get(run_id)
        return lab.effect.value if lab is not None and lab.effect is not None else None

    ctx = checks.Context(db)
    assert checks.usage_limit_share(ctx).evidence["by_agent"] == shares([(r[1], r[4] == "limit") for r in runs])
    invalid = shares([(r[1], effect(r[0]) == "invalid") for r in runs])
    assert checks.invalid_share(ctx).evidence["by_agent"] == invalid
    failed = [r for r in runs if r[4] != "success"]
    spurious = shares([(r[1], effect(r[0]) == "spurious") for r in failed])
    assert checks.spurious_share(ctx).evidence["by_agent"] == spurious
    reviewed = checks.failures_reviewed(ctx).evidence
    assert reviewed["by_agent"] == shares([(r[1], r[0] in labels) for r in failed])
    assert reviewed["by_family"] == shares([(r[3], r[0] in labels) for r in failed])
    pairs = Counter((r[1], r[2]) for r in runs)
    assert checks.runs_per_task(ctx).value == min(pairs.values())
    assert checks.runs_per_task(ctx).evidence["agent_task_pairs"] == len(pairs)
    solved = {r[2] for r in runs if r[4] == "success"}
    assert checks.unsolved_tasks(ctx).evidence["tasks"] == sorted({r[2] for r in runs} - solved)
    continuous = {r[2] for r in runs if r[6] is not None and r[6] not in (0, 1)}
    metadata = checks.task_metadata(ctx).evidence
    assert metadata["no_threshold"] == sorted(continuous & {"t1", "t2", "t3"}) and "t3" in metadata["no_threshold"]
    assert metadata["no_human_minutes"] == ["t2"] and metadata["tasks"] == len({r[2] for r in runs} - {"(none)"})
    variants = {r[0] for r in runs if r[7] is not None}
    reruns = {r[0]: [x[5] for x in runs if x[0].startswith("rerun") and db["runs"].get(x[0])["rerun_of"] == r[0]]
              for r in runs}  # fmt: skip
    questioned = sorted(
        r[0] for r in runs
        if effect(r[0]) in ("spurious", "invalid") and r[0] not in variants
        and not (r[5] == 1 and effect(r[0]) != "invalid") and reruns[r[0]] and not any(reruns[r[0]])
    )  # fmt: skip
    assert questioned and checks.labels_questioned(ctx).evidence["questioned"] == questioned[: checks.EXAMPLES]
    plan = " ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + checks.GROUPS_SQL))
    assert "COVERING INDEX runs_agent_status" in plan, plan  # no run row is read to count runs
