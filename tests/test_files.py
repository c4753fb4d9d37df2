"""Atomic writes (triage.files): a new file gets the mode a plain open() gives, a replaced file keeps its own,
and a failed write leaves the old file and no temporary file behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from triage.files import atomic_write


@pytest.fixture
def umask():
    """``os.umask``, with the process's umask restored after the test."""
    saved = os.umask(0o022)
    yield os.umask
    os.umask(saved)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o007, 0o077])
def test_a_new_file_gets_the_mode_open_would_give(tmp_path, umask, mask):
    umask(mask)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic_write(tmp_path / "report.md", lambda tmp: tmp.write_text("# report"))
    assert (tmp_path / "report.md").read_text() == "# report"
    assert mode(tmp_path / "report.md") == mode(plain) == 0o666 & ~mask


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "log.eval"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic_write(target, lambda tmp: tmp.write_bytes(b"new"))
    assert target.read_bytes() == b"new" and mode(target) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    target = tmp_path / "scores.json"
    target.write_text("{}")

    def fails(tmp: Path) -> None:
        tmp.write_text('{"half":')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fails)
    assert target.read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.json"]


def test_the_temporary_file_keeps_the_suffix_writers_go_by(tmp_path):
    seen = []
    atomic_write(tmp_path / "run.eval", lambda tmp: (seen.append(tmp.name), tmp.write_bytes(b"z")))
    assert seen[0].startswith(".run.eval.") and seen[0].endswith(".eval")
