"""Labels written back into Inspect logs through inspect_ai, and the estimates exported for ``inspect score``.

The logs are written by inspect_ai itself (``inspect_logs``); the written-back logs are read again with
``read_eval_log`` and checked sample by sample against the originals.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from inspect_ai import score
from inspect_ai.log import read_eval_log, write_eval_log
from inspect_ai.scorer import precomputed_scores
from inspect_logs import generate
from typer.testing import CliRunner

from triage.cli import app
from triage.db import open_db
from triage.ingest import file_hash, import_paths
from triage.labels import add_label, undo
from triage.loop.inspect_scores import export_inspect_scores
from triage.loop.writeback import BACKUP_DIR, corrected_value, writeback
from triage.scoring import ScoreOptions, load_runs, score_table

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def inspect_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate(tmp_path_factory.mktemp("writeback-logs"))


@pytest.fixture(params=["eval", "json"])
def workspace(request, db, tmp_path, inspect_logs):
    """A copy of one log imported and labelled: a cheat, a scorer error, a spurious failure, an invalid run."""
    log = tmp_path / "logs" / inspect_logs[request.param].name
    log.parent.mkdir()
    shutil.copy2(inspect_logs[request.param], log)
    assert not import_paths(db, [log]).errors
    run = {key: db.execute("SELECT id FROM runs WHERE id LIKE ?", [f"%/{key}"]).fetchone()[0]
           for key in ("add/1", "fruit/1", "loop/1", "group/explode/1")}  # fmt: skip
    add_label(db, run["add/1"], "reward_hacking", reviewer="ann", rationale="read the answer key")
    add_label(db, run["fruit/1"], "scoring_error", reviewer="ann", rationale="banana check too strict")
    add_label(db, run["loop/1"], "tooling_bug", reviewer="bob", rationale="calc loops")
    add_label(db, run["group/explode/1"], "infrastructure", reviewer="bob", rationale="solver crashed")
    return {"log": log, "run": run, "hash": file_hash(log)}


def _state(path: Path) -> dict:
    """What writeback may change, per sample: scores (with history), invalidation, metadata."""
    log = read_eval_log(str(path))
    return {
        (str(s.id), s.epoch): orjson.loads(s.model_dump_json(include={"scores", "invalidation", "metadata"}))
        for s in log.samples
    }


def test_round_trip_through_inspect(db, workspace):
    [result] = writeback(db)
    assert result.status == "ok" and not result.problems
    assert (result.n_annotated, result.n_invalidated, result.n_edited) == (4, 1, 2)
    out = Path(result.out_path)
    assert out != workspace["log"] and out.parent == workspace["log"].parent
    assert file_hash(workspace["log"]) == workspace["hash"]  # the original is untouched
    before, after = read_eval_log(str(workspace["log"])), read_eval_log(str(out))
    samples = {(str(s.id), s.epoch): s for s in after.samples}

    cheat = samples[("add", 1)].scores["includes"]
    assert cheat.value == "I" and [h.value for h in cheat.history] == ["C", "I"]
    assert cheat.history[1].provenance.author == "ann"
    assert cheat.history[1].provenance.reason == "reward_hacking: read the answer key"
    fixed = samples[("fruit", 1)].scores["includes"]
    assert fixed.value == "C" and fixed.history[0].value == "I" and fixed.history[1].provenance.author == "ann"
    invalid = samples[("group/explode", 1)].invalidation
    assert invalid.author == "bob" and invalid.reason == "infrastructure: solver crashed"
    assert after.invalidated is True and before.invalidated is False
    for key, run_key, category, effect in (
        (("add", 1), "add/1", "reward_hacking", "cheat"),
        (("fruit", 1), "fruit/1", "scoring_error", "scoring_error"),
        (("loop", 1), "loop/1", "tooling_bug", "spurious"),
        (("group/explode", 1), "group/explode/1", "infrastructure", "invalid"),
    ):  # fmt: skip
        meta = samples[key].metadata["triage"]
        assert (meta["category"], meta["effect"], meta["run_id"]) == (category, effect, workspace["run"][run_key])
        uid = db.execute("SELECT uid FROM labels WHERE run_id = ?", [workspace["run"][run_key]]).fetchone()[0]
        assert meta["label_id"] == uid and meta["reviewer"] in ("ann", "bob")
    # Metrics recomputed: per-sample mean over epochs, then accuracy (add .5, fruit .5, loop 0; explode unscored).
    assert after.results.scores[0].metrics["accuracy"].value == pytest.approx(1 / 3)
    assert before.results.scores[0].metrics["accuracy"].value == pytest.approx(1 / 3)  # C,C / I,I / I,I
    # Nothing else lost: every sample, message and event of the original is there.
    assert len(after.samples) == len(before.samples)
    for old in before.samples:
        new = samples[(str(old.id), old.epoch)]
        assert new.messages == old.messages and new.output == old.output and new.error == old.error
        assert len(new.events) >= len(old.events)
        if (str(old.id), old.epoch) not in {("add", 1), ("fruit", 1), ("loop", 1), ("group/explode", 1)}:
            assert new.scores == old.scores and new.metadata == old.metadata and new.invalidation is None


def test_idempotent_and_in_place_with_backup(db, workspace):
    first = Path(writeback(db)[0].out_path)
    state = _state(first)
    assert _state(Path(writeback(db)[0].out_path)) == state  # the same labels write the same log

    workspace["log"].chmod(0o640)  # the team's permissions on its own log
    [in_place] = writeback(db, in_place=True)
    backup = workspace["log"].parent / BACKUP_DIR / workspace["log"].name
    assert in_place.status == "ok" and Path(in_place.backup_path) == backup
    assert stat.S_IMODE(workspace["log"].stat().st_mode) == 0o640  # the rewritten log keeps them
    assert file_hash(backup) == workspace["hash"]  # the original, kept
    assert _state(workspace["log"]) == state
    [again] = writeback(db, in_place=True)  # from the backup: no second score edit piles up
    assert again.status == "ok" and _state(workspace["log"]) == state
    assert len(state[("add", 1)]["scores"]["includes"]["history"]) == 2  # original + one edit, not two

    undo(db, run_id=workspace["run"]["add/1"], reviewer="ann")
    writeback(db, in_place=True)
    add = _state(workspace["log"])[("add", 1)]
    assert "triage" not in (add["metadata"] or {}) and add["scores"]["includes"]["value"] == "C"
    assert file_hash(backup) == workspace["hash"]
    # Re-importing the rewritten log makes it the imported version: writeback then edits it as it is,
    # and the original in the backup stays the original.
    assert not import_paths(db, [workspace["log"]]).errors
    [after_reimport] = writeback(db, in_place=True)
    assert after_reimport.status == "ok" and file_hash(backup) == workspace["hash"]
    assert _state(workspace["log"])[("fruit", 1)] == state[("fruit", 1)]


def test_log_changed_since_import_is_refused(db, workspace):
    log = read_eval_log(str(workspace["log"]))
    log.samples[0].metadata = {"edited": "by someone else"}
    write_eval_log(log, str(workspace["log"]))
    [result] = writeback(db)
    assert result.status == "refused" and str(workspace["log"]) in result.error
    assert "changed since import" in result.error
    runner = CliRunner()
    out = runner.invoke(app, ["writeback", "--db", str(db_path_of(db))])
    assert out.exit_code == 1 and "changed since import" in out.stderr


def test_log_imported_with_options_is_written_back(db, tmp_path, inspect_logs):
    """--agent changes the import's identity, not the file: writeback checks the file's own bytes."""
    from triage.importers import LoadOptions

    log = tmp_path / "logs" / inspect_logs["eval"].name
    log.parent.mkdir()
    shutil.copy2(inspect_logs["eval"], log)
    assert not import_paths(db, [log], options=LoadOptions(agent="team/agent-x")).errors
    content, raw = db.execute("SELECT content_hash, file_hash FROM sources").fetchone()
    assert raw == file_hash(log) != content
    run = db.execute("SELECT id FROM runs WHERE id LIKE ?", ["%/fruit/1"]).fetchone()[0]
    add_label(db, run, "scoring_error", reviewer="ann", rationale="banana check too strict")
    [result] = writeback(db)
    assert result.status == "ok", result.error
    # The file changed since import is still refused.
    shutil.copy2(Path(result.out_path), log)
    [again] = writeback(db)
    assert again.status == "refused" and "changed since import" in again.error


def db_path_of(db) -> str:
    return db.execute("PRAGMA database_list").fetchone()[2]


def test_cli_json_and_out_folder(db, workspace, tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["writeback", "--db", db_path_of(db), "--out", str(tmp_path / "written"), "--json"])
    assert out.exit_code == 0, out.output
    body = orjson.loads(out.stdout)
    assert body["failed"] == 0 and Path(body["logs"][0]["out_path"]).parent == tmp_path / "written"
    bad = runner.invoke(app, ["writeback", "--db", db_path_of(db), "--out", "x", "--in-place"])
    assert bad.exit_code == 2


def test_without_inspect_ai(db, workspace):
    """The core reads Inspect logs without inspect_ai; writeback says what to install."""
    code = (
        "import sys; sys.modules['inspect_ai'] = None\n"
        "from triage.db import open_db; from triage.ingest import import_paths\n"
        "s = import_paths(open_db(sys.argv[1] + '.new'), [sys.argv[2]]); assert s.runs_added == 8, s.to_dict()\n"
        "from triage.cli import app; app(['writeback', '--db', sys.argv[1]])\n"
    )
    done = subprocess.run([sys.executable, "-c", code, db_path_of(db), str(workspace["log"])],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "pip install 'triage[inspect]'" in done.stderr


def test_corrected_values_in_the_scorers_terms():
    assert corrected_value("I", True, None) == "C" and corrected_value("C", False, None) == "I"
    assert corrected_value("no", True, None) == "yes" and corrected_value(True, False, None) is False
    assert corrected_value(0.2, True, 7.0) == 7.0 and corrected_value(9, False, 7.0) == 0.0
    with pytest.raises(ValueError, match="no success/failure form"):
        corrected_value({"a": 1}, True, None)


def test_precomputed_scores_reproduce_the_estimates(db, workspace, tmp_path):
    """`inspect score` with the exported scores gives triage's estimate for the log, for every estimate."""
    paths = export_inspect_scores(db, tmp_path / "scores")
    assert len(paths) == 4
    table = load_runs(db)
    report = score_table(table, ScoreOptions(horizon=False))
    log = read_eval_log(str(workspace["log"]))
    for path in paths:
        estimate = path.name.rsplit(".", 2)[1]
        scored = score(log, precomputed_scores(str(path)), display="none", action="overwrite")
        accuracy = scored.results.scores[0].metrics["accuracy"].value
        assert accuracy == pytest.approx(report["overall"][estimate]["success_rate"]), estimate
    records = [orjson.loads(line) for line in (tmp_path / "scores" / paths[1].name).read_text().splitlines()]
    assert {r["id"] for r in records} == {"add", "fruit", "loop"}  # explode: invalid or unknown, left out
    assert all(set(r) == {"id", "epoch", "value", "explanation", "metadata"} for r in records)


def test_cli_export_inspect_scores(db, workspace, tmp_path):
    out = CliRunner().invoke(app, ["export", "--format", "inspect-scores", "--out", str(tmp_path / "x"),
                                   "--db", db_path_of(db), "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    folder = Path(orjson.loads(out.stdout)["inspect-scores"])
    assert sorted(p.name.rsplit(".", 2)[1] for p in folder.glob("*.jsonl")) == ["elicited", "excluded", "raw", "strict"]
    assert not (tmp_path / "x" / "report.md").exists()  # only the format asked for


def test_other_logs_keep_going(tmp_path, inspect_logs):
    """A log that vanished is reported with its path; the other log is still written."""
    db = open_db(tmp_path / "ws.db")
    copies = []
    for key in ("eval", "json"):
        copy = tmp_path / key / inspect_logs[key].name
        copy.parent.mkdir()
        shutil.copy2(inspect_logs[key], copy)
        copies.append(copy)
    assert not import_paths(db, copies).errors
    for (run_id,) in db.execute("SELECT id FROM runs WHERE id LIKE '%/fruit/1'").fetchall():
        add_label(db, run_id, "scoring_error", reviewer="ann", rationale="too strict")
    copies[0].unlink()
    results = {Path(r.source): r for r in writeback(db)}
    assert results[copies[0]].status == "refused" and "file not found" in results[copies[0]].error
    assert results[copies[1]].status == "ok" and results[copies[1]].n_edited == 1


def test_other_formats_are_left_alone_unless_named(db, workspace):
    """Labelled runs of another format are no Inspect log to write into: skipped, or an error when named."""
    db.execute(
        "INSERT INTO sources (path, format, status, imported_at) VALUES ('/data/runs.jsonl', 'metr', 'ok', 'now')"
    )
    source_id = db.execute("SELECT id FROM sources WHERE format = 'metr'").fetchone()[0]
    db.execute("INSERT INTO runs (id, source_id, status, success, imported_at) VALUES ('m1', ?, 'failed', 0, 'now')",
               [source_id])  # fmt: skip
    db.conn.commit()
    add_label(db, "m1", "tooling_bug", reviewer="ann", rationale="broken tool")
    assert [r.status for r in writeback(db)] == ["ok"]
    [named] = writeback(db, sources=["/data/runs.jsonl"])
    assert named.status == "error" and "not an Inspect log" in named.error
