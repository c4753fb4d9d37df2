"""METR runs-table import: the real all_runs.jsonl, idempotence, precise errors, sniffing."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from triage.importers import sniff
from triage.ingest import import_paths


def _rows(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _count(db, sql: str, params=()) -> int:
    return db.execute(sql, list(params)).fetchone()[0]


@pytest.mark.corpus
def test_corpus_runs_match_the_source(db, corpus):
    source = corpus / "metr" / "all_runs.jsonl"
    rows = _rows(source)
    summary = import_paths(db, [source])
    assert summary.errors == []
    assert summary.runs_added == len(rows) == 7063
    assert _count(db, "SELECT count(*) FROM runs WHERE id LIKE 'metr/%'") == len(rows)
    assert _count(db, "SELECT count(*) FROM tasks") == len({r["task_id"] for r in rows})
    # Success is METR's own binarisation; a usage limit without success is status 'limit'.
    assert _count(db, "SELECT count(*) FROM runs WHERE success = 1") == sum(r["score_binarized"] == 1 for r in rows)
    limited = sum(r["fatal_error_from"] == "usageLimits" and r["score_binarized"] == 0 for r in rows)
    assert _count(db, "SELECT count(*) FROM runs WHERE status = 'limit'") == limited
    assert _count(db, "SELECT count(*) FROM runs WHERE status = 'success'") == sum(r["score_binarized"] for r in rows)
    agents = {r["alias"] for r in rows}
    assert {a for (a,) in db.execute("SELECT DISTINCT agent FROM runs")} == agents

    first = rows[0]
    row = db.execute(
        "SELECT task_id, agent, model, score, weight_equal, weight_invsqrt, error_type, started_at, total_seconds "
        "FROM runs WHERE id = ?",
        [f"metr/{first['run_id']}"],
    ).fetchone()
    assert row[0] == first["task_id"] and row[1] == first["alias"] and row[2] == first["model"]
    assert row[3] == pytest.approx(first["score"])
    assert row[4] == pytest.approx(first["equal_task_weight"]) and row[5] == pytest.approx(first["invsqrt_task_weight"])
    assert row[6] == first["fatal_error_from"]
    assert row[7].startswith("2024-12-13T")  # epoch ms -> ISO
    assert row[8] == pytest.approx((first["completed_at"] - first["started_at"]) / 1000)
    task = db.execute(
        "SELECT family, human_minutes, human_source FROM tasks WHERE id = ?", [first["task_id"]]
    ).fetchone()
    assert task == (first["task_family"], pytest.approx(first["human_minutes"]), first["human_source"])

    # Human baselines start at epoch 0: a duration, not a date.
    human = next(r for r in rows if r["alias"] == "human" and r["started_at"] == 0)
    started, completed, seconds = db.execute(
        "SELECT started_at, completed_at, total_seconds FROM runs WHERE id = ?", [f"metr/{human['run_id']}"]
    ).fetchone()
    assert started is None and completed is None and seconds == pytest.approx(human["completed_at"] / 1000)


@pytest.mark.corpus
def test_reimport_adds_nothing(db, corpus):
    source = corpus / "metr" / "all_runs.jsonl"
    first = import_paths(db, [source])
    second = import_paths(db, [source])
    assert first.runs_added == 7063
    assert second.runs_added == 0 and second.runs_skipped == 7063 and second.errors == []


@pytest.mark.corpus
def test_sniffed_as_metr_not_openai_chat(corpus):
    source = corpus / "metr" / "all_runs.jsonl"
    assert sniff(source).name == "metr"


def _write(path: Path, rows: list[dict | str]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def _row(n: int, **over) -> dict:
    base = {
        "run_id": f"r{n}", "task_id": "fam/t1", "task_family": "fam", "alias": "Agent A", "model": "a",
        "score": 0.5, "score_binarized": 0, "fatal_error_from": None, "time_limit": 60,
        "started_at": 1734070031112, "completed_at": 1734070091112, "human_minutes": 3.0,
        "human_source": "estimate", "equal_task_weight": 0.5, "invsqrt_task_weight": 0.5,
    }  # fmt: skip
    base.update(over)
    return base


def test_non_numeric_score_names_line_and_field(db, tmp_path):
    source = _write(tmp_path / "runs.jsonl", [_row(1), _row(2), _row(3, score="n/a"), _row(4)])
    summary = import_paths(db, [source])
    assert summary.runs_added == 0
    [error] = summary.errors
    assert error["place"] == "line 3, field 'score'"
    assert "expected a number" in error["message"] and "'n/a'" in error["message"]
    assert _count(db, "SELECT count(*) FROM runs") == 0  # nothing half-written


def test_broken_line_and_missing_field(db, tmp_path):
    broken = _write(tmp_path / "broken.jsonl", [_row(1), _row(2), '{"run_id": "r3", "task_id": '])
    missing = _write(tmp_path / "missing.jsonl", [_row(1), {k: v for k, v in _row(2).items() if k != "task_id"}])
    good = _write(tmp_path / "good.jsonl", [_row(1), _row(2, score=1.0, score_binarized=1)])
    summary = import_paths(db, [broken, missing, good])
    places = {Path(e["path"]).name: e["place"] for e in summary.errors}
    assert places["broken.jsonl"].startswith("line 3")
    assert places["missing.jsonl"] == "line 2, field 'task_id'"
    # One bad file never aborts the batch: the good file landed.
    assert summary.runs_added == 2
    assert _count(db, "SELECT count(*) FROM runs WHERE success = 1") == 1


def test_fatal_errors_and_limits(db, tmp_path):
    source = _write(
        tmp_path / "runs.jsonl",
        [
            _row(1, fatal_error_from="usageLimits"),
            _row(2, fatal_error_from="server"),
            _row(3, fatal_error_from="usageLimits", score=1.0, score_binarized=1),
        ],
    )
    import_paths(db, [source])
    status = dict(db.execute("SELECT sample_id, status FROM runs").fetchall())
    assert status == {"r1": "limit", "r2": "error", "r3": "success"}
    assert db.execute("SELECT error_type, limit_type FROM runs WHERE sample_id = 'r1'").fetchone() == (
        "usageLimits",
        "usage",
    )


def test_changed_file_replaces_its_runs(db, tmp_path):
    source = _write(tmp_path / "runs.jsonl", [_row(1), _row(2)])
    import_paths(db, [source])
    _write(source, [_row(1, score=1.0, score_binarized=1)])
    summary = import_paths(db, [source])
    assert summary.runs_replaced == 1 and summary.runs_removed == 1 and summary.runs_added == 0
    assert db.execute("SELECT id, status FROM runs").fetchall() == [("metr/r1", "success")]


def test_changed_file_updates_stored_runs_in_place_and_inserts_new_ones(db, tmp_path):
    """New runs take a plain INSERT and stored ones the upsert: a replaced run keeps what other commands set
    on it (its variant, the run it re-runs), and a run left without a source is taken back by the file."""
    source = _write(tmp_path / "runs.jsonl", [_row(1), _row(2)])
    import_paths(db, [source])
    with db.conn:
        db.execute("UPDATE runs SET variant = 'v2', rerun_of = 'metr/r2' WHERE id = 'metr/r1'")
        db.execute("UPDATE runs SET source_id = NULL WHERE id = 'metr/r2'")  # its source row was removed
    _write(source, [_row(1, score=1.0, score_binarized=1), _row(2), _row(3)])
    summary = import_paths(db, [source])
    assert (summary.runs_added, summary.runs_replaced, summary.runs_skipped) == (2, 1, 0)
    rows = db.execute("SELECT id, status, variant, rerun_of, source_id IS NOT NULL FROM runs ORDER BY id").fetchall()
    assert rows == [
        ("metr/r1", "success", "v2", "metr/r2", 1),
        ("metr/r2", rows[1][1], None, None, 1),
        ("metr/r3", rows[2][1], None, None, 1),
    ]
