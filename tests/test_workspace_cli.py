"""`triage init` and `triage info`: which workspace file they use (`--db`, `$TRIAGE_DB`, the default),
what `info --json` reports, and the errors for missing or too-new workspaces. Run as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from triage.db import latest, open_db, write_transaction
from triage.db.migrations import MIGRATIONS_TABLE
from triage.demo import DEMO_DIR
from triage.ingest import import_paths


def _triage(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DB"}
    full_env.update({"COLUMNS": "120", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "triage", *args], cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _schema_version(path: Path) -> int:
    db = open_db(path, create=False)
    try:
        return max(n for (n,) in db.execute(f"SELECT number FROM {MIGRATIONS_TABLE}"))
    finally:
        db.conn.close()


def test_init_with_db_creates_that_file(tmp_path):
    target = tmp_path / "nested" / "ws.db"
    out = _triage("init", "--db", str(target), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert Path(info["db"]) == target.resolve() and info["created"] is True
    assert info["schema_version"] == latest() == _schema_version(target)
    assert not (tmp_path / "runs").exists(), "the default workspace must not be created when --db is given"
    again = json.loads(_triage("init", "--db", str(target), "--json", cwd=tmp_path).stdout)
    assert again["created"] is False


def test_default_workspace_is_runs_triage_db_under_the_cwd(tmp_path):
    out = _triage("init", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "runs" / "triage.db").exists()
    assert "runs/triage.db" in out.stdout.replace("\n", "")


def test_triage_db_environment_variable(tmp_path):
    target = tmp_path / "from-env.db"
    out = _triage("init", cwd=tmp_path, env={"TRIAGE_DB": str(target)})
    assert out.returncode == 0, out.stderr
    assert target.exists()
    assert not (tmp_path / "runs").exists()
    info = _triage("info", "--json", cwd=tmp_path, env={"TRIAGE_DB": str(target)})
    assert info.returncode == 0, info.stderr
    assert Path(json.loads(info.stdout)["db"]) == target.resolve()


def test_db_option_beats_the_environment(tmp_path):
    env_target, opt_target = tmp_path / "env.db", tmp_path / "opt.db"
    out = _triage("init", "--db", str(opt_target), cwd=tmp_path, env={"TRIAGE_DB": str(env_target)})
    assert out.returncode == 0, out.stderr
    assert opt_target.exists() and not env_target.exists()


def test_info_json_reports_the_counts_of_a_workspace(tmp_path):
    path = tmp_path / "ws.db"
    db = open_db(path)
    # A subset of the demo data: one Inspect log, the OpenAI-chat file and the task metadata.
    files = [next(DEMO_DIR.glob("*.eval")), next(DEMO_DIR.glob("*.jsonl")), DEMO_DIR / "tasks.yaml"]
    summary = import_paths(db, files)
    assert summary.errors == []
    db.execute(
        "INSERT INTO labels (uid, run_id, category, action, reviewer, created_at) "
        "SELECT 'u-' || id, id, 'gave_up', 'label', 'ann', '2025-01-01' FROM runs WHERE status != 'success' LIMIT 3"
    )
    db.conn.commit()
    expected = {
        "runs": db.execute("SELECT count(*) FROM runs").fetchone()[0],
        "failures": db.execute("SELECT count(*) FROM runs WHERE status != 'success'").fetchone()[0],
        "tasks": db.execute("SELECT count(*) FROM tasks").fetchone()[0],
        "sources": db.execute("SELECT count(*) FROM sources").fetchone()[0],
        "transcripts": db.execute("SELECT count(*) FROM transcripts").fetchone()[0],
    }
    agents = {row[0]: row[1] for row in db.execute("SELECT agent, count(*) FROM runs GROUP BY agent")}
    db.conn.close()

    out = _triage("info", "--db", str(path), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert Path(info["db"]) == path.resolve()
    for key, value in expected.items():
        assert info[key] == value, key
    assert expected["runs"] > 0 and expected["failures"] > 0 and len(files) == expected["sources"]
    assert info["label_rows"] == 3 and info["labelled_runs"] == 3
    assert {name: counts["runs"] for name, counts in info["agents"].items()} == agents
    assert sum(info["runs_by_status"].values()) == expected["runs"]
    assert info["schema_version"] == latest()

    # A labelled run since removed (a re-import dropped it): its label is kept but no longer counts.
    db = open_db(path)
    gone = db.execute("SELECT run_id FROM labels ORDER BY uid LIMIT 1").fetchone()[0]
    with write_transaction(db) as conn:
        conn.execute("DELETE FROM runs WHERE id = ?", [gone])
    db.conn.close()
    info = json.loads(_triage("info", "--db", str(path), "--json", cwd=tmp_path).stdout)
    assert info["label_rows"] == 3 and info["labelled_runs"] == 2


def test_info_prints_a_readable_summary(tmp_path):
    path = tmp_path / "ws.db"
    db = open_db(path)
    import_paths(db, [DEMO_DIR / "tasks.yaml"])
    db.conn.close()
    out = _triage("info", "--db", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert str(path) in out.stdout.replace("\n", "")
    for label in ("sources", "tasks", "runs", "failures", "clusters"):
        assert label in out.stdout


def test_info_on_a_missing_workspace_exits_2_with_a_clear_message(tmp_path):
    missing = tmp_path / "nope" / "triage.db"
    out = _triage("info", "--db", str(missing), cwd=tmp_path)
    assert out.returncode == 2
    assert str(missing) in out.stderr.replace("\n", "")  # rich may fold a long path across lines
    message = " ".join(out.stderr.split())
    assert "no workspace" in message and "triage init" in message
    assert out.stdout == ""
    assert not missing.exists() and not missing.parent.exists(), "info must not create a workspace"


def test_info_on_a_newer_workspace_exits_2(tmp_path):
    path = tmp_path / "future.db"
    db = open_db(path)
    db.execute(f"INSERT INTO {MIGRATIONS_TABLE} VALUES (?, 'from_the_future', '2099-01-01')", [latest() + 1])
    db.conn.commit()
    db.conn.close()
    out = _triage("info", "--db", str(path), "--json", cwd=tmp_path)
    assert out.returncode == 2
    assert "newer" in " ".join(out.stderr.split())
    assert out.stdout == ""


def test_info_loads_no_loader_analysis_or_sqlite_utils(tmp_path):
    """`info` starts in a fraction of a second because it imports only what it reads (issue 17's start-up bar)."""
    db = tmp_path / "ws.db"
    import_paths(open_db(db), [next(DEMO_DIR.rglob("*.eval"))])
    code = (
        "import atexit, sys\nfrom triage.cli import main\n"
        "heavy = ('sqlite_utils', 'triage.importers', 'triage.failures', 'triage.labels', 'triage.cli.imports')\n"
        "atexit.register(lambda: sys.stderr.write('LOADED ' + ' '.join(m for m in heavy if m in sys.modules)))\n"
        "sys.argv = ['triage', 'info', '--db', sys.argv[1]]\nmain()"
    )
    out = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "runs" in out.stdout
    assert out.stderr.strip() == "LOADED"
