"""A format loader that fails to load (a broken plug-in, or a built-in with an import error) is reported on
stderr and by `triage info`, and the files it should have read fail the import (exit 1): never "N other
files ignored" with exit 0. Real broken entry points, installed as a dist-info on the path of a child
process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from triage.db import open_db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A site directory with an installed plug-in whose module raises on import."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "broken_loader.py").write_text('raise RuntimeError("broken_loader exploded on import")\n')
    dist = site / "broken_loader-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-loader\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[triage.loaders]\nbrk = broken_loader:LOADER\n")
    return site


def _triage(args: list[str], *, pythonpath: Path | None = None, prelude: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250"}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    code = f"{prelude}\nimport sys\nfrom triage.cli import main\nsys.argv = ['triage', *sys.argv[1:]]\nmain()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _chat(path: Path) -> Path:
    path.write_text(json.dumps({"id": "r1", "task_id": "t", "model": "m", "score": 1, "messages": []}) + "\n")
    return path


def test_broken_plugin_is_reported_by_info(tmp_path, plugin_path):
    db = tmp_path / "ws.db"
    open_db(db).conn.close()
    proc = _triage(["info", "--db", str(db)], pythonpath=plugin_path)
    assert proc.returncode == 0, proc.stderr
    assert "'brk' loader failed to load" in proc.stderr and "broken_loader exploded on import" in proc.stderr
    proc = _triage(["info", "--json", "--db", str(db)], pythonpath=plugin_path)
    failed = json.loads(proc.stdout)["loaders_failed"]
    assert list(failed) == ["brk"] and "RuntimeError" in failed["brk"]
    healthy = _triage(["info", "--json", "--db", str(db)])
    assert json.loads(healthy.stdout)["loaders_failed"] == {}


def test_files_a_broken_plugin_may_read_fail_the_import(tmp_path, plugin_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    _chat(folder / "good.jsonl")
    (folder / "trajectory.brk").write_text("a format only the plug-in reads\n")
    db = tmp_path / "ws.db"
    proc = _triage(["import", str(folder), "--db", str(db)], pythonpath=plugin_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "'brk' loader failed to load" in proc.stderr
    assert "trajectory.brk" in proc.stderr and "failed to load" in proc.stderr
    assert "0 errors" not in proc.stdout and "in no known format" not in proc.stdout
    runs = open_db(db).execute("SELECT id FROM runs").fetchall()
    assert runs == [("openai-chat/good/r1",)]  # the rest of the batch imported
    # Without the broken plug-in, the same folder imports: the .brk file is listed as in no known format.
    clean = _triage(["import", str(folder), "--db", str(tmp_path / "clean.db")])
    assert clean.returncode == 0, clean.stderr
    assert "1 file in no known format" in clean.stdout and "0 errors" in clean.stdout


def test_a_builtin_loader_that_fails_to_import(tmp_path, corpus):
    """The Inspect loader failing to import: its logs fail (exit 1) instead of being passed over."""
    logs = sorted((corpus / "inspect").rglob("*.eval"))[:2]
    assert logs, "the corpus has Inspect logs"
    folder = tmp_path / "mixed"
    folder.mkdir()
    for log in logs:
        (folder / log.name).write_bytes(log.read_bytes())
    _chat(folder / "chat.jsonl")
    breaker = "import sys; sys.modules['triage.importers.inspect_log'] = None  # the module fails to import"
    db = tmp_path / "ws.db"
    proc = _triage(["import", str(folder), "--db", str(db)], prelude=breaker)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "'inspect' loader failed to load" in proc.stderr
    for log in logs:
        assert log.name in proc.stderr
    named = _triage(["import", str(folder / logs[0].name), "--db", str(db)], prelude=breaker)
    assert named.returncode == 1
    forced = _triage(["import", str(folder), "--format", "inspect", "--db", str(db)], prelude=breaker)
    assert forced.returncode == 1 and "inspect" in forced.stderr
    assert open_db(db).execute("SELECT count(*) FROM runs WHERE id LIKE 'openai-chat/%'").fetchone()[0] == 1


def test_cli_and_tui_use_real_imports():
    """No find_spec probing or importlib string imports left where the issue found them."""
    for path in [
        ROOT / "triage" / "cli" / "__init__.py",
        *(ROOT / "triage" / "tui").rglob("*.py"),
        *(ROOT / "triage" / "views").rglob("*.py"),
        ROOT / "triage" / "demo" / "__init__.py",
    ]:
        text = path.read_text(encoding="utf-8")
        assert "find_spec" not in text and "import_module" not in text and "_core(" not in text, path


def test_info_checks_plugins_without_importing_the_builtin_loaders(tmp_path, plugin_path):
    """`info` loads plug-ins but only looks the built-in loaders up: a missing built-in module is still named."""
    code = (
        "import sys, json\nimport triage.plugins as imp\n"
        "imp.BUILTIN['ghost'] = 'triage.importers.ghost_format:LOADER'\n"
        "broken = imp.broken_plugins()\n"
        "print(json.dumps({'broken': broken, 'imported': sorted(m for m in sys.modules if m in "
        "{'triage.importers', 'triage.importers.inspect_log', 'broken_loader'})}))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(plugin_path), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result["broken"]) == {"brk", "ghost"}
    assert "RuntimeError" in result["broken"]["brk"]
    assert "No module named 'triage.importers.ghost_format'" in result["broken"]["ghost"]
    assert result["imported"] == []  # the plug-in's import was attempted (and failed); no built-in loader ran
