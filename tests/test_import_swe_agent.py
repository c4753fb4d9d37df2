"""SWE-agent import: the real trajectories of the corpus with results.json, demo turns, tool calls, companions."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from triage.cli import app
from triage.importers import LoadOptions, sniff
from triage.ingest import import_paths, load_transcript


def _resolved(corpus: Path) -> set[str]:
    return set(orjson.loads((corpus / "swe-agent" / "results.json").read_bytes())["resolved"])


@pytest.mark.corpus
def test_corpus_runs_and_resolved_flags(db, corpus):
    folder = corpus / "swe-agent"
    trajs = sorted((folder / "trajs").glob("*.traj"))
    summary = import_paths(db, [folder])
    assert summary.errors == []
    assert trajs and summary.runs_added == len(trajs)
    # results.json is read beside the trajectories, never imported or reported as unknown.
    assert str(folder / "results.json") in summary.ignored
    resolved = _resolved(corpus)
    rows = dict(db.execute("SELECT sample_id, success FROM runs WHERE id LIKE 'swe-agent/%'").fetchall())
    assert set(rows) == {t.stem for t in trajs}
    assert rows == {t.stem: int(t.stem in resolved) for t in trajs}
    # Pass/fail counted from results.json: resolved ids among the trajectories present.
    assert 0 < sum(rows.values()) == len({t.stem for t in trajs} & resolved) < len(trajs)
    # Every run keeps its exit status; a resolved run is a success whatever its exit status.
    for traj in trajs:
        info = orjson.loads(traj.read_bytes())["info"]
        exit_status, status, submission = db.execute(
            "SELECT exit_status, status, submission FROM runs WHERE sample_id = ?", [traj.stem]
        ).fetchone()
        assert exit_status == info.get("exit_status")
        if traj.stem in resolved:
            assert status == "success"
        elif "exit_cost" in (exit_status or ""):
            assert status == "limit"
        if info.get("submission"):
            assert submission.startswith(info["submission"][:200])


@pytest.mark.corpus
def test_demo_turns_excluded_and_tool_calls_linked(db, corpus):
    traj = corpus / "swe-agent" / "trajs" / "django__django-11179.traj"
    doc = orjson.loads(traj.read_bytes())
    demo = [h for h in doc["history"] if h.get("is_demo")]
    real = [h for h in doc["history"] if not h.get("is_demo")]
    assert demo, "the fixture mixes in demonstration turns"
    import_paths(db, [traj])
    run_id, agent = db.execute("SELECT id, agent FROM runs").fetchone()
    assert run_id == f"swe-agent/{agent}/django__django-11179"
    messages = load_transcript(db, run_id)
    contents = {m.content for m in messages}
    assert not any(d["content"] in contents for d in demo if d["role"] != "system")
    assert len(messages) >= len(real)
    actions = [h["action"].strip() for h in real if h.get("action")]
    calls = [c for m in messages if m.role == "assistant" for c in m.tool_calls]
    assert [c.arguments["command"] for c in calls] == actions
    assert all(c.function == "bash" for c in calls)
    ids = {c.id for c in calls}
    tool_results = [m for m in messages if m.role == "tool"]
    assert tool_results and all(m.tool_call_id in ids for m in tool_results)
    # Each tool result follows the assistant turn that made its call.
    for i, m in enumerate(messages):
        if m.role == "tool":
            assert messages[i - 1].role == "assistant" and messages[i - 1].tool_calls[0].id == m.tool_call_id


def _traj(path: Path, *, exit_status: str | None = "submitted", model: str | None = None) -> Path:
    history = [
        {"role": "system", "content": "SETTING: you are an autonomous programmer", "agent": "primary"},
        {"role": "user", "content": "DEMO ISSUE", "agent": "primary", "is_demo": True},
        {"role": "assistant", "content": "demo thought", "action": "ls demo", "agent": "primary", "is_demo": True},
        {"role": "user", "content": "We're solving: fix the bug", "agent": "primary"},
        {"role": "assistant", "content": "look\n<command>\nls\n</command>", "thought": "look", "action": "ls"},
        {"role": "user", "content": "a.py b.py"},
        {"role": "assistant", "content": "Exit due to cost limit", "action": "exit_cost"},
    ]
    doc = {
        "environment": "swe_main",
        "trajectory": [{"action": "ls", "observation": "a.py b.py"}],
        "history": history,
        "info": {"exit_status": exit_status, "submission": "diff --git a/a.py b/a.py\n", "model_stats": {
            "tokens_sent": 100, "tokens_received": 10, "instance_cost": 0.5, "api_calls": 2}},
    }  # fmt: skip
    if model:
        doc["replay_config"] = json.dumps({"agent": {"model": {"name": model}}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def test_without_results_success_is_unknown(db, tmp_path):
    traj = _traj(tmp_path / "my-agent" / "trajs" / "repo__repo-1.traj", exit_status="exit_cost")
    summary = import_paths(db, [traj])
    assert summary.errors == []
    row = db.execute(
        "SELECT id, agent, success, status, exit_status, error_type, limit_type, input_tokens, n_messages FROM runs"
    ).fetchone()
    # Agent from the folder (trajs is generic), no results: success unknown, status from the exit status.
    assert row == (
        "swe-agent/my-agent/repo__repo-1",
        "my-agent",
        None,
        "limit",
        "exit_cost",
        "exit_cost",
        "cost",
        100,
        5,
    )
    messages = load_transcript(db, row[0])
    assert "DEMO ISSUE" not in {m.content for m in messages}
    assert messages[-1].tool_calls == []  # the harness's exit turn is not a command


def test_results_found_in_a_parent_or_given(db, tmp_path):
    traj = _traj(tmp_path / "exp" / "trajs" / "repo__repo-1.traj")
    other = _traj(tmp_path / "elsewhere" / "repo__repo-2.traj")
    (tmp_path / "exp" / "results").mkdir()
    (tmp_path / "exp" / "results" / "results.json").write_text(json.dumps({"resolved": ["repo__repo-1"]}))
    given = tmp_path / "given.json"
    given.write_text(json.dumps({"resolved": [], "no_generation": ["repo__repo-2"]}))
    import_paths(db, [traj])
    import_paths(db, [other], options=LoadOptions(companions=[given]))
    rows = dict(db.execute("SELECT sample_id, success FROM runs").fetchall())
    assert rows == {"repo__repo-1": 1, "repo__repo-2": 0}


def test_two_agents_on_one_instance_coexist(db, tmp_path):
    a = _traj(tmp_path / "a" / "repo__repo-1.traj", model="claude-x")
    b = _traj(tmp_path / "b" / "repo__repo-1.traj", model="gpt-y")
    summary = import_paths(db, [tmp_path])
    assert summary.runs_added == 2 and summary.errors == []
    assert {r[0] for r in db.execute("SELECT id FROM runs")} == {
        "swe-agent/claude-x/repo__repo-1",
        "swe-agent/gpt-y/repo__repo-1",
    }
    assert a.exists() and b.exists()


def test_named_results_file_is_a_quiet_companion(db, tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"resolved": ["x"], "no_logs": []}))
    assert sniff(results) is None
    summary = import_paths(db, [results])
    assert summary.errors == [] and summary.ignored == [str(results)]
    # Forced format in a directory walk still passes over the results file.
    _traj(tmp_path / "repo__repo-1.traj")
    summary = import_paths(db, [tmp_path], fmt="swe-agent")
    assert summary.errors == [] and summary.runs_added == 1


@pytest.mark.corpus
def test_reimport_adds_nothing(db, corpus):
    folder = corpus / "swe-agent"
    n_trajs = len(list((folder / "trajs").glob("*.traj")))
    assert n_trajs and import_paths(db, [folder]).runs_added == n_trajs
    again = import_paths(db, [folder])
    assert again.runs_added == 0 and again.runs_skipped == n_trajs


def test_bad_trajectory_names_the_field(db, tmp_path):
    bad = tmp_path / "repo__repo-1.traj"
    bad.write_text(json.dumps({"trajectory": [], "history": [{"role": "narrator", "content": "x"}], "info": {}}))
    summary = import_paths(db, [bad])
    [error] = summary.errors
    assert error["place"] == "history[0], field 'role'" and "narrator" in error["message"]
    truncated = tmp_path / "repo__repo-2.traj"
    truncated.write_text('{"trajectory": [], "history": [')
    [error] = import_paths(db, [truncated], fmt="swe-agent").errors
    assert error["place"].startswith("line 1") and "invalid JSON" in error["message"]
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_a_side_file_named_alone_is_said_and_fails(tmp_path):
    """`triage import results.json` gives no runs: the user is told why and what to import instead."""
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"resolved": ["x"], "no_logs": []}))
    run = CliRunner().invoke(app, ["import", "--db", str(tmp_path / "ws.db"), str(results)])
    assert run.exit_code == 1
    assert "side file" in run.stderr and str(results) in run.stderr and "--results" in run.stderr
    assert "1 side file alone" in run.stdout
    # With a trajectory beside it, the same file is read quietly with it.
    _traj(tmp_path / "repo__repo-1.traj")
    run = CliRunner().invoke(app, ["import", "--db", str(tmp_path / "ws.db"), str(tmp_path)])
    assert run.exit_code == 0 and "side file" not in run.stderr and "read with their transcripts" in run.stdout
