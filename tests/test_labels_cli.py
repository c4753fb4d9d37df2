"""The label commands end to end through typer: happy paths, --json output, and exit-2 errors."""

from __future__ import annotations

import orjson
import pytest
from labels_support import add_cluster, add_runs
from typer.testing import CliRunner

from triage.cli import app
from triage.cli.common import err_console, out_console
from triage.db import open_db

RUNS = ["eval/1", "eval/2", "eval/3", "eval/4"]


@pytest.fixture
def ws(db_path):
    db = open_db(db_path)
    add_runs(db, RUNS)
    add_cluster(db, "c1", RUNS[:3])
    db.conn.close()
    return db_path


@pytest.fixture
def cli(ws, monkeypatch):
    # Rich fixes the consoles' width when they are created; make human output wide and deterministic.
    monkeypatch.setattr(out_console, "width", 200)
    monkeypatch.setattr(err_console, "width", 200)
    env = {"TRIAGE_DB": str(ws), "TRIAGE_REVIEWER": "ana", "TRIAGE_TAXONOMY": "", "COLUMNS": "200", "NO_COLOR": "1"}

    def run(*args: str, code: int = 0, **extra_env: str):
        result = CliRunner().invoke(app, list(args), env={**env, **extra_env})
        assert result.exit_code == code, (args, result.output)
        return result

    return run


def js(result):
    return orjson.loads(result.stdout)


def test_taxonomy_command(cli, tmp_path):
    out = cli("taxonomy").stdout
    assert "triage-default" in out and "reward_hacking" in out and "scoring_error" in out
    data = js(cli("taxonomy", "--json"))
    assert {c["id"]: (c["effect"], c["hotkey"]) for c in data["categories"]}["refusal"] == ("spurious", "3")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\ncategories:\n  - id: a\n    title: A\n    effect: reel\n    description: d\n")
    result = cli("taxonomy", "--taxonomy", str(bad), code=2)
    assert f"{bad}:5: categories[0] (a).effect" in " ".join(result.stderr.split())


def test_label_a_run_and_list(cli):
    result = cli("label", "eval/1", "refusal", "--note", "declined", "--evidence", "2", "--excerpt", "I can't")
    assert "Labelled run eval/1 as refusal (spurious) by ana" in result.stdout
    data = js(cli("label", "eval/4", "q", "--json", "--reviewer", "ben"))  # a hotkey works as the category
    assert data["label"]["category"] == "poor_planning" and data["label"]["reviewer"] == "ben"
    assert data["effective"]["source"] == "run"
    listed = js(cli("labels", "--json"))
    assert [(x["run_id"], x["category"], x["reviewer"]) for x in listed] == [
        ("eval/1", "refusal", "ana"), ("eval/4", "poor_planning", "ben"),
    ]  # fmt: skip
    assert [x["run_id"] for x in js(cli("labels", "--json", "--effect", "real"))] == ["eval/4"]
    assert [x["run_id"] for x in js(cli("labels", "--json", "--reviewer", "ana"))] == ["eval/1"]
    text = cli("labels").stdout
    assert "eval/1" in text and "refusal" in text
    history = js(cli("history", "eval/1", "--json"))
    assert history["effective"]["category"] == "refusal"
    [row] = history["history"]
    assert row["evidence_index"] == 2 and row["evidence_excerpt"] == "I can't" and row["active"] is True


def test_cluster_decision_override_inherited_and_undo(cli, ws):
    result = cli("label", "--cluster", "c1", "gave_up", "--note", "stops early")
    assert "Labelled cluster c1 (3 runs) as gave_up" in result.stdout
    cli("label", "eval/2", "poor_planning")
    db = open_db(ws)
    add_cluster(db, "c1", ["eval/4"])  # joins after the decision
    db.conn.close()
    listed = {x["run_id"]: x for x in js(cli("labels", "--json"))}
    assert listed["eval/1"]["source"] == "cluster" and listed["eval/2"]["source"] == "run"
    assert listed["eval/4"]["confirmed"] is False
    assert [x["run_id"] for x in js(cli("labels", "--json", "--unconfirmed"))] == ["eval/4"]
    assert "inherited, unconfirmed" in cli("labels").stdout

    redecide = cli("label", "--cluster", "c1", "repeated_actions", "--note", "loops", "--json")
    assert js(redecide)["kept_run_labels"] == ["eval/2"]
    undone = cli("undo", "eval/2")
    assert "Undid label poor_planning on run eval/2" in undone.stdout and "repeated_actions" in undone.stdout
    assert js(cli("history", "eval/2", "--json"))["effective"]["category"] == "repeated_actions"
    cli("undo", "--cluster", "c1")
    assert js(cli("history", "eval/2", "--json"))["effective"]["category"] == "gave_up"
    redone = cli("redo", "--cluster", "c1")
    assert "Redid cluster repeated_actions on cluster c1" in redone.stdout
    actions = [h["action"] for h in js(cli("history", "eval/2", "--json"))["history"]]
    assert actions == ["cluster", "label", "cluster", "undo", "undo", "undo"]
    result = cli("undo", "eval/3", code=1)
    assert "no label on run 'eval/3'" in result.stderr and "--cluster c1" in " ".join(result.stderr.split())


def test_conflicts_and_adjudicate(cli):
    cli("label", "eval/1", "gave_up", "--note", "gave up")
    cli("label", "eval/1", "missing_skill", "--reviewer", "ben")
    found = js(cli("conflicts", "--json"))
    assert [c["run_id"] for c in found] == ["eval/1"] and found[0]["same_effect"] is False
    assert "eval/1" in cli("conflicts").stdout
    cli("adjudicate", "eval/1", "missing_skill", code=2)  # a note is required
    cli("adjudicate", "eval/1", "missing_skill", "--note", "it lacked the skill", "--reviewer", "lead")
    assert js(cli("conflicts", "--json")) == []
    assert "no conflicts" in cli("conflicts").stdout
    [label] = js(cli("labels", "--json"))
    assert label["source"] == "adjudication" and label["reviewer"] == "lead"


def test_export_and_import_through_the_cli(cli, tmp_path, db_path):
    cli("label", "eval/1", "gave_up", "--note", "gave up")
    out = tmp_path / "share" / "ana.jsonl"
    assert js(cli("labels", "export", str(out), "--json"))["rows"] == 1
    other = tmp_path / "other.db"
    db = open_db(other)
    add_runs(db, RUNS)
    db.conn.close()
    cli("label", "eval/1", "poor_planning", "--db", str(other), "--reviewer", "ben")
    # --db before the subcommand is honoured too.
    report = js(cli("labels", "--db", str(other), "import", str(out), "--json"))
    assert report["added"] == 1 and [c["run_id"] for c in report["conflicts"]] == ["eval/1"]
    text = cli("labels", "import", str(out), "--db", str(other)).stdout
    assert "0 rows added, 1 already present" in text and "1 run in conflict" in text
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"uid": "x"}\n')
    result = cli("labels", "import", str(bad), str(out), "--db", str(other), code=2)
    assert "line 1" in result.stderr and "1 already present" in result.stdout  # the good file still ran


def test_usage_errors_exit_2(cli):
    cases = [
        (("label", "eval/1", "nope", "--note", "x"), "unknown category 'nope'"),
        (("label", "eval/9", "refusal", "--note", "x"), "unknown run 'eval/9'"),
        (("label", "eval/1", "refusal"), "needs a rationale"),
        (("label", "--cluster", "c9", "refusal", "--note", "x"), "unknown cluster 'c9'"),
        (("label", "eval/1", "--cluster", "c1", "refusal"), "not both"),
        (("label", "eval/1"), "give RUN and CATEGORY"),
        (("label", "eval/1", "refusal", "--note", "x", "--evidence", "99"), "outside run"),
        (("labels", "--effect", "fixable"), "unknown effect 'fixable'"),
        (("history", "eval/9"), "unknown run 'eval/9'"),
        (("undo",), "give a RUN or --cluster"),
    ]
    for args, message in cases:
        result = cli(*args, code=2)
        assert message in " ".join(result.stderr.split()), args


def test_reviewer_identity_order(cli):
    cli("label", "eval/1", "poor_planning")
    cli("label", "eval/2", "poor_planning", "--reviewer", "explicit")
    cli("label", "eval/3", "poor_planning", TRIAGE_REVIEWER="")  # falls back to git user.name or the OS user
    who = {x["run_id"]: x["reviewer"] for x in js(cli("labels", "--json"))}
    assert who["eval/1"] == "ana" and who["eval/2"] == "explicit" and who["eval/3"] not in ("", "ana", "explicit")
