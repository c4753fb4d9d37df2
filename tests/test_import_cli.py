"""`triage import`, `triage validate` and `triage runs` on real Inspect logs (written by inspect_ai in the test)."""

from __future__ import annotations

import os
import pty
import select
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import inspect_logs
import orjson
import pytest
from typer.testing import CliRunner

from triage.cli import app
from triage.cli.imports import RUN_FIELDS

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
N_RUNS = len(inspect_logs.SAMPLE_IDS) * inspect_logs.EPOCHS


@pytest.fixture(scope="session")
def fresh(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("inspect_ai")
    return inspect_logs.generate(tmp_path_factory.getbasetemp() / "inspect-logs")


@pytest.fixture
def logs(fresh, tmp_path) -> Path:
    """A folder with one fresh .eval and one fresh .json log (copies the test may change)."""
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(fresh["eval"], folder / "toolbox.eval")
    shutil.copy(fresh["json"], folder / "toolbox.json")
    return folder


def invoke(*args, env: dict | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def import_json(*args) -> tuple[int, dict]:
    result = invoke("import", *args, "--json")
    return result.exit_code, orjson.loads(result.stdout)


def count(db: Path, sql: str, params=()) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchone()[0]


def test_import_is_idempotent(logs, tmp_path) -> None:
    db = tmp_path / "ws.db"
    code, first = import_json(logs, "--db", db)
    assert code == 0 and first["errors"] == []
    assert (first["files"], first["runs_added"], first["runs_skipped"], first["runs_replaced"]) == (2, 2 * N_RUNS, 0, 0)
    code, second = import_json(logs, "--db", db)
    assert code == 0
    assert (second["runs_added"], second["runs_skipped"], second["runs_replaced"]) == (0, 2 * N_RUNS, 0)
    assert second["files_unchanged"] == 2
    assert count(db, "SELECT count(*) FROM runs") == 2 * N_RUNS


def test_changed_file_replaces_its_runs_and_keeps_labels(logs, tmp_path) -> None:
    db = tmp_path / "ws.db"
    log_file = logs / "toolbox.json"
    import_json(log_file, "--db", db)
    with sqlite3.connect(db) as conn:
        fruit, gone = (
            conn.execute("SELECT id FROM runs WHERE sample_id = ? AND epoch = ?", [sample, epoch]).fetchone()[0]
            for sample, epoch in (("fruit", 1), ("add", 2))
        )
        assert conn.execute("SELECT status FROM runs WHERE id = ?", [fruit]).fetchone()[0] == "failed"
        for run_id, uid in ((fruit, "label-1"), (gone, "label-2")):
            conn.execute(
                "INSERT INTO labels (uid, run_id, category, effect, action, reviewer, created_at) "
                "VALUES (?, ?, 'tooling_bug', 'spurious', 'label', 'tester', '2025-01-01T00:00:00Z')",
                [uid, run_id],
            )
        labels_before = conn.execute("SELECT * FROM labels ORDER BY id").fetchall()

    log = orjson.loads(log_file.read_bytes())
    for sample in log["samples"]:
        if (sample["id"], sample["epoch"]) == ("fruit", 1):
            sample["scores"]["includes"]["value"] = "C"  # re-scored
    log["samples"] = [s for s in log["samples"] if (s["id"], s["epoch"]) != ("add", 2)]
    log_file.write_bytes(orjson.dumps(log))

    code, summary = import_json(log_file, "--db", db)
    assert code == 0
    assert (summary["runs_added"], summary["runs_replaced"], summary["runs_removed"]) == (0, N_RUNS - 1, 1)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status, success FROM runs WHERE id = ?", [fruit]).fetchone() == ("success", 1)
        assert conn.execute("SELECT count(*) FROM runs WHERE id = ?", [gone]).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM transcripts WHERE run_id = ?", [gone]).fetchone()[0] == 0
        assert conn.execute("SELECT * FROM labels ORDER BY id").fetchall() == labels_before


def corrupt_last_sample(source: Path, target: Path) -> str:
    """Copy ``source`` with the last sample member's data damaged; returns that member's name."""
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as zf:
        info = [i for i in zf.infolist() if i.filename.startswith("samples/")][-1]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 8 : start + 24] = b"\xff" * 16
    target.write_bytes(bytes(data))
    return info.filename


@pytest.fixture
def mixed(logs) -> dict:
    """Good logs plus a garbage .eval, a truncated .json and an .eval that fails at its last sample."""
    (logs / "garbage.eval").write_bytes(b"definitely not a zip archive " * 10)
    text = (logs / "toolbox.json").read_bytes()
    (logs / "truncated.json").write_bytes(text[: len(text) // 2])
    member = corrupt_last_sample(logs / "toolbox.eval", logs / "late-failure.eval")
    return {"folder": logs, "member": member, "bad": {"garbage.eval", "truncated.json", "late-failure.eval"}}


def test_bad_files_fail_alone_and_leave_no_rows(mixed, tmp_path) -> None:
    db = tmp_path / "ws.db"
    result = invoke("import", mixed["folder"], "--db", db, "--json")
    assert result.exit_code == 1
    summary = orjson.loads(result.stdout)
    errors = {Path(e["path"]).name: e for e in summary["errors"]}
    assert set(errors) == mixed["bad"]
    assert errors["late-failure.eval"]["place"] == mixed["member"]
    assert errors["truncated.json"]["place"].startswith("samples[") and "line" in errors["truncated.json"]["place"]
    assert "zip" in errors["garbage.eval"]["message"]
    for name, error in errors.items():  # each error is printed to stderr, naming the file and the place
        assert error["error"] in result.stderr and str(mixed["folder"] / name) in error["error"]
    # The good files imported; nothing at all from the bad ones, although late-failure.eval had good samples first.
    assert summary["runs_added"] == 2 * N_RUNS
    assert count(db, "SELECT count(*) FROM runs") == 2 * N_RUNS
    assert count(db, "SELECT count(*) FROM transcripts") == count(db, "SELECT count(*) FROM runs WHERE n_messages > 0")
    for name in mixed["bad"]:
        path = str((mixed["folder"] / name).resolve())
        assert (
            count(db, "SELECT count(*) FROM runs r JOIN sources s ON s.id = r.source_id WHERE s.path = ?", [path]) == 0
        )
        assert count(db, "SELECT count(*) FROM sources WHERE path = ? AND status = 'error'", [path]) == 1


def test_json_summary_shape(logs, tmp_path) -> None:
    code, summary = import_json(logs / "toolbox.eval", tmp_path / "missing.eval", "--db", tmp_path / "ws.db")
    assert code == 1
    assert {"files", "runs_added", "runs_skipped", "runs_replaced", "errors"} <= set(summary)
    assert all(isinstance(summary[k], int) for k in ("files", "runs_added", "runs_skipped", "runs_replaced"))
    [error] = summary["errors"]
    assert set(error) >= {"path", "place", "message", "error"} and error["path"].endswith("missing.eval")


def test_validate_prints_the_same_errors_and_writes_nothing(mixed, tmp_path) -> None:
    db = tmp_path / "never.db"
    checked = invoke("validate", mixed["folder"], "--json", env={"TRIAGE_DB": str(db)})
    assert checked.exit_code == 1 and not db.exists()
    imported = invoke("import", mixed["folder"], "--db", tmp_path / "ws.db", "--json")
    key = lambda s: sorted(e["error"] for e in orjson.loads(s)["errors"])  # noqa: E731
    assert key(checked.stdout) == key(imported.stdout)
    assert orjson.loads(checked.stdout)["runs_added"] == 2 * N_RUNS  # runs the good files would add
    human = invoke("validate", mixed["folder"])
    assert human.exit_code == 1
    for error in orjson.loads(checked.stdout)["errors"]:
        assert error["error"] in human.stderr
    assert "toolbox.eval" in human.stdout and f"{N_RUNS} runs" in human.stdout


def test_runs_lists_what_was_imported(logs, tmp_path) -> None:
    db = tmp_path / "ws.db"
    import_json(logs / "toolbox.eval", "--db", db)
    result = invoke("runs", "--db", db, "--json")
    assert result.exit_code == 0
    runs = orjson.loads(result.stdout)
    assert len(runs) == N_RUNS and all(set(run) == set(RUN_FIELDS) for run in runs)
    by_sample = {(r["sample_id"], r["epoch"]): r for r in runs}
    source = str((logs / "toolbox.eval").resolve())
    assert all(r["source"] == source and r["agent"] == r["model"] == "mockllm/model" for r in runs)
    loop = by_sample[("loop", 1)]
    assert (loop["status"], loop["limit_type"], loop["limit_value"], loop["success"]) == (
        "limit",
        "message",
        6.0,
        False,
    )
    exploded = by_sample[("group/explode", 2)]
    assert (exploded["status"], exploded["error_type"], exploded["score"]) == ("error", "RuntimeError", None)
    assert "solver exploded" in exploded["error"] and exploded["task"] == "toolbox/group/explode"
    assert by_sample[("add", 1)]["success"] is True and by_sample[("add", 1)]["score"] == 1.0

    def listed(*args) -> list[dict]:
        out = invoke("runs", "--db", db, "--json", *args)
        assert out.exit_code == 0
        return orjson.loads(out.stdout)

    assert {r["status"] for r in listed("--failed")} == {"failed", "error", "limit"}
    assert len(listed("--failed")) == N_RUNS - inspect_logs.EPOCHS
    assert {r["sample_id"] for r in listed("--task", "toolbox/fruit")} == {"fruit"}
    assert len(listed("--task", "toolbox")) == N_RUNS  # a task family matches all its tasks
    assert listed("--agent", "someone-else") == [] and len(listed("--agent", "mockllm/*")) == N_RUNS
    assert len(listed("--limit", "3")) == 3
    table = invoke("runs", "--db", db, "--failed")
    assert table.exit_code == 0 and "RuntimeError" in table.stdout and "message limit (6)" in table.stdout


def test_bad_usage_exits_2(logs, tmp_path) -> None:
    assert invoke("import", logs, "--format", "nope", "--db", tmp_path / "ws.db").exit_code == 2
    assert invoke("import", logs, "--map", "no-equals-sign", "--db", tmp_path / "ws.db").exit_code == 2
    assert invoke("runs", "--db", tmp_path / "missing.db").exit_code == 2
    assert invoke("validate", logs, "--format", "nope").exit_code == 2


def test_forced_format_reports_what_was_expected(logs, tmp_path) -> None:
    notes = logs / "notes.json"
    notes.write_text('{"hello": "world"}')
    result = invoke("validate", notes)
    assert result.exit_code == 1 and "not a recognised transcript format" in result.stderr
    forced = invoke("validate", notes, "--format", "inspect", "--json")
    [error] = orjson.loads(forced.stdout)["errors"]
    assert "field 'eval'" in error["place"] and "expected the eval spec" in error["message"]


def _run_cli(args: list[str], tty: bool) -> tuple[int, str, str]:
    command = [sys.executable, "-m", "triage", *args]
    if not tty:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        return done.returncode, done.stdout, done.stderr
    main, secondary = pty.openpty()
    proc = subprocess.Popen(
        command, stdin=secondary, stdout=secondary, stderr=secondary, env={**os.environ, "COLUMNS": "120"}
    )
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main)
    return proc.returncode, b"".join(chunks).decode(errors="replace"), ""


def test_progress_only_on_a_terminal(logs, tmp_path) -> None:
    code, out, err = _run_cli(["import", str(logs), "--db", str(tmp_path / "piped.db")], tty=False)
    assert code == 0 and err == ""  # quiet when piped: no progress, no errors
    assert out.strip().startswith("Import: 2 files read") and "\x1b" not in out
    code, screen, _ = _run_cli(["import", str(logs), "--db", str(tmp_path / "tty.db")], tty=True)
    assert code == 0 and "Importing" in screen and "Import: 2 files read" in screen


def test_files_no_loader_claims_are_counted_and_listed_by_reason(logs, tmp_path) -> None:
    (logs / "notes.txt").write_text("free text\n")
    (logs / "more.txt").write_text("more free text\n")
    (logs / "empty.json").write_text("")
    (logs / "shape.json").write_text('{\n  "unknown": {"shape": [1, 2, 3]}\n}\n')  # valid, pretty-printed
    db = tmp_path / "ws.db"
    result = invoke("import", logs, "--db", db, "--json")
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.stdout)
    assert data["runs_added"] == 2 * N_RUNS  # the .eval and the .json log
    reasons = {Path(item["path"]).name: item["reason"] for item in data["unclaimed"]}
    assert reasons.keys() == {"notes.txt", "more.txt", "empty.json", "shape.json"}
    assert reasons["notes.txt"] == reasons["more.txt"] and ".txt" in reasons["notes.txt"]
    assert reasons["empty.json"] == "empty file"
    assert "invalid JSON" not in reasons["shape.json"]
    assert data["unclaimed_by_reason"][reasons["notes.txt"]] == 2
    # Without --json: each reason with its files on stderr, and the count in the summary line.
    human = invoke("import", logs, "--db", tmp_path / "other.db")
    assert human.exit_code == 0
    assert "not imported: 2 files: " in human.stderr and "notes.txt" in human.stderr
    assert "4 files in no known format" in human.stdout


def test_a_named_path_with_nothing_importable_is_an_error(tmp_path) -> None:
    folder = tmp_path / "unsupported"
    folder.mkdir()
    for n in range(5):
        (folder / f"pane-{n}.txt").write_text("$ ls\n")
    (folder / "record.json").write_text('{\n  "unknown": true\n}\n')
    for command in ("import", "validate"):
        args = [command, folder, "--json"] + (["--db", tmp_path / "ws.db"] if command == "import" else [])
        result = invoke(*args)
        assert result.exit_code == 1, (command, result.output)
        data = orjson.loads(result.stdout)
        (error,) = data["errors"]
        assert error["path"] == str(folder)
        assert "nothing importable among 6 files" in error["message"]
        assert "5 no loader reads .txt files" in error["message"]
        assert "formats tried" in error["message"]
        assert len(data["unclaimed"]) == 6
    # A named file no loader reads: exit 1, with the formats tried.
    named = invoke("import", folder / "record.json", "--db", tmp_path / "ws.db")
    assert named.exit_code == 1
    assert "formats tried" in named.stderr and "record.json" in named.stderr


def test_parallel_and_serial_cli_imports_agree(logs, tmp_path) -> None:
    one = import_json(logs, "--db", tmp_path / "one.db", "--workers", "1")
    two = import_json(logs, "--db", tmp_path / "two.db", "-j", "2")
    assert one[0] == two[0] == 0
    strip = lambda d: {k: v for k, v in d.items() if k != "by_file"}  # noqa: E731 - paths are the same; db differs
    assert strip(one[1]) == strip(two[1]) and one[1]["runs_added"] == 2 * N_RUNS


def test_summary_counts_take_the_noun_in_their_number(logs, tmp_path) -> None:
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(logs / "toolbox.eval", one / "toolbox.eval")
    result = CliRunner().invoke(app, ["import", str(one), "--db", str(tmp_path / "ws.db")])
    assert result.exit_code == 0
    assert f"1 file read, {N_RUNS} runs added" in result.output and "0 errors" in result.output
    result = CliRunner().invoke(app, ["import", str(one), "--db", str(tmp_path / "ws.db")])
    assert "1 file read, 1 unchanged, 0 runs added" in result.output
