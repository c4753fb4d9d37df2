"""A parallel import (worker processes, large logs split into parts) stores exactly what a serial one does."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import inspect_logs
import pytest

from triage.db import open_db
from triage.importers import LoadOptions, inspect_log
from triage.ingest import import_paths, validate_paths


def _dump(db) -> dict[str, list[tuple]]:
    """Every row of every table, in rowid order, without import timestamps (they differ by design)."""
    tables = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    out = {}
    for table, sql in sorted(tables):
        columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})") if not r[1].endswith("_at")]
        cols = ", ".join(f'"{c}"' for c in columns)
        order = "1, 2" if "WITHOUT ROWID" in sql.upper() else "rowid"
        out[table] = [tuple(r) for r in db.execute(f'SELECT {cols} FROM "{table}" ORDER BY {order}')]
    return out


def _results(summary) -> list[tuple]:
    return [(r.path, r.format, r.status, r.runs_added, r.runs_replaced, r.runs_skipped, r.runs_removed, r.tasks,
             r.error, r.reason) for r in summary.results]  # fmt: skip


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> dict[str, Path]:
    return inspect_logs.generate(tmp_path_factory.getbasetemp() / "inspect-logs")


@pytest.fixture
def batch(tmp_path, corpus, logs) -> list[Path]:
    """Real files of every format, a real Inspect log and its copy, a truncated log, an unknown file."""
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(logs["eval"], folder / "a.eval")
    shutil.copy(logs["eval"], folder / "b-copy.eval")  # the same runs again: counted once, as skipped
    shutil.copy(logs["crashed"], folder / "crashed.eval")
    data = logs["eval"].read_bytes()
    (folder / "truncated.eval").write_bytes(data[: len(data) // 2])
    (folder / "notes.txt").write_text("not a transcript\n")
    return [folder, logs["json"], corpus / "inspect", corpus / "swe-agent", corpus / "mini-swe-agent", corpus / "metr"]


def test_parallel_import_equals_serial_row_by_row(tmp_path, batch, monkeypatch):
    # Every sample its own part: the split path of a large log is exercised on small real logs.
    monkeypatch.setattr(inspect_log, "PART_BYTES", 1)
    serial_db, parallel_db = open_db(tmp_path / "serial.db"), open_db(tmp_path / "parallel.db")
    serial = import_paths(serial_db, batch, workers=1)
    parallel = import_paths(parallel_db, batch, workers=2)
    assert serial.runs_added > 1000 and serial.errors  # a real batch, with its truncated log reported
    assert any("truncated.eval" in e["path"] for e in serial.errors)
    assert _results(parallel) == _results(serial)
    assert serial.to_dict() == parallel.to_dict()
    dumps = _dump(serial_db), _dump(parallel_db)
    assert dumps[0].keys() == dumps[1].keys()
    for table in dumps[0]:
        assert dumps[1][table] == dumps[0][table], table
    # Importing again: nothing changes in either workspace, and both say so alike.
    again = import_paths(parallel_db, batch, workers=2), import_paths(serial_db, batch, workers=1)
    assert _results(again[0]) == _results(again[1])
    assert {r.status for r in again[0].results} <= {"unchanged", "error", "ignored"}
    assert _dump(parallel_db) == dumps[1]


def test_a_split_log_with_a_bad_member_fails_as_a_whole(tmp_path, logs, monkeypatch):
    """A part that fails rolls back the whole file, with the same error a serial import gives."""
    import zipfile

    from triage.importers.inspect_zip import EvalZip

    monkeypatch.setattr(inspect_log, "PART_BYTES", 1)
    broken = tmp_path / "broken.eval"
    with EvalZip(logs["eval"]) as src, zipfile.ZipFile(broken, "w") as dst:
        names = [n for n in src.members if n.startswith("samples/")]
        for name in src.members:
            dst.writestr(name, b"{not json" if name == names[-1] else src.read_bytes(name))
    outcomes = []
    for workers in (1, 2):
        db = open_db(tmp_path / f"w{workers}.db")
        summary = import_paths(db, [broken, logs["json"]], workers=workers)
        outcomes.append((summary.errors, db.execute("SELECT count(*) FROM runs").fetchone()[0]))
        assert db.execute("SELECT count(*) FROM runs WHERE source_id = 1").fetchone()[0] == 0
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0][0]["place"] == names[-1] and outcomes[0][1] > 0


def test_validate_in_parallel_says_what_a_serial_validate_says(batch, monkeypatch):
    monkeypatch.setattr(inspect_log, "PART_BYTES", 1)
    assert _results(validate_paths(batch, workers=2)) == _results(validate_paths(batch, workers=1))


def test_three_imports_at_once_into_one_workspace(tmp_path, corpus):
    """Each file's write transaction takes the lock up front and waits for it: no "database is locked"."""
    import subprocess
    import sys

    folders = [corpus / "swe-agent", corpus / "mini-swe-agent", corpus / "inspect"]
    db = tmp_path / "shared.db"
    open_db(db).conn.close()  # migrated once; the point here is concurrent imports, not first opens
    procs = [
        subprocess.Popen([sys.executable, "-m", "triage", "import", str(f), "--db", str(db), "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for f in folders
    ]  # fmt: skip
    outcomes = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outcomes, strict=True):
        assert proc.returncode == 0, err.decode()
        assert b"locked" not in err
    alone = open_db(tmp_path / "alone.db")
    expected = sum(import_paths(alone, [f]).runs_added for f in folders)
    together = open_db(db)
    assert together.execute("SELECT count(*) FROM runs").fetchone()[0] == expected > 0
    assert together.execute("SELECT count(*) FROM sources WHERE status != 'ok'").fetchone()[0] == 0


def test_a_parser_process_that_dies_fails_its_file_and_the_batch_goes_on(tmp_path, corpus, logs, monkeypatch):
    """A worker the OS kills (out of memory, say) fails the file it was reading; the rest is read here."""
    import os

    from triage.ingest import parse

    original = parse.records

    def dying(path, loader, options, part=None):
        if path.name == "boom.eval":
            os._exit(1)  # as the OOM killer would end it: no exception, no reply
        return original(path, loader, options, part)

    monkeypatch.setattr(parse, "records", dying)  # workers are forked: they run this; the importing process not
    folder = tmp_path / "batch"
    shutil.copytree(corpus / "swe-agent", folder)
    shutil.copy(logs["eval"], folder / "boom.eval")
    summary = import_paths(open_db(tmp_path / "ws.db"), [folder], workers=2)
    [error] = summary.errors
    assert error["path"].endswith("boom.eval") and "parser process died" in error["message"]
    expected = import_paths(open_db(tmp_path / "serial.db"), [corpus / "swe-agent"], workers=1).runs_added
    assert summary.runs_added == expected > 100


def test_a_pool_broken_between_submissions_fails_the_future_not_the_caller():
    """A worker the OS kills breaks the pool; the next submit gives a failed future read in its turn."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from triage.ingest.pool import submit

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        with pytest.raises(BrokenProcessPool):
            pool.submit(os._exit, 1).result()
        later = submit(pool, abs, -1)  # pool.submit itself would raise here
        with pytest.raises(BrokenProcessPool):
            later.result()


def _child_moves_the_file_offset(path: Path) -> int:
    """In a forked process: the archive this process reads parts from, its file offset sent to the end."""
    archive = inspect_log._archive(path)[0]
    return os.lseek(archive.zf.fp.fileno(), 0, os.SEEK_END)


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_a_forked_parser_never_shares_the_parents_open_log(logs):
    """A worker forked while this process had a log open for its parts opens its own copy: seeking in an
    inherited open file would move this process's offset too, and each would read the other's bytes."""
    import multiprocessing

    path = logs["eval"]
    parent = inspect_log._archive(path)[0]
    fd = parent.zf.fp.fileno()
    before = os.lseek(fd, 0, os.SEEK_CUR)
    os.lseek(fd, 0, os.SEEK_SET)  # at the start: a child's seek to the end would show here
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            assert pool.apply(_child_moves_the_file_offset, (path,)) == path.stat().st_size
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0
    finally:
        os.lseek(fd, before, os.SEEK_SET)  # where this process's buffered reader left it
    assert list(inspect_log.load_eval_part(path, LoadOptions(), (0, 1)))  # and this process still reads it
