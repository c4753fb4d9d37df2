"""One run's detail has one home (triage.views.run_detail): `triage show --json` prints exactly it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tui_support import INJECT_CLUSTER, INJECT_RUN, build_tui_workspace
from typer.testing import CliRunner

from triage import views
from triage.cli import app as cli
from triage.db import open_db


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build_tui_workspace(tmp_path_factory.mktemp("detail") / "demo.db")


def test_show_json_is_the_headless_run_detail(built: Path) -> None:
    db = open_db(built)
    detail = views.run_detail(db, INJECT_RUN)
    db.conn.close()
    assert detail is not None
    assert detail.cluster_id == INJECT_CLUSTER and detail.cluster["size"] >= 1
    result = CliRunner().invoke(cli, ["show", INJECT_RUN, "--db", str(built), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    expected = json.loads(json.dumps(detail.to_dict(), default=str))
    assert shown == expected
    assert [m["index"] for m in shown["messages"]] == list(range(len(detail.messages)))
    assert shown["signature"]["message_index"] in detail.evidence_indices


def test_an_unknown_run_has_no_detail(built: Path) -> None:
    db = open_db(built)
    assert views.run_detail(db, "no/such/run") is None
    db.conn.close()
    result = CliRunner().invoke(cli, ["show", "no/such/run", "--db", str(built)])
    assert result.exit_code == 2 and "no such run" in result.output


def test_show_does_not_load_the_llm_client(built: Path) -> None:
    """`triage show` (and the views the TUI uses) never import `openai`: it costs most of a second."""
    import subprocess
    import sys

    code = (
        "import atexit, sys\nfrom triage.cli import main\n"
        "atexit.register(lambda: sys.stderr.write('LOADED ' + str('openai' in sys.modules)))\n"
        "sys.argv = ['triage', 'show', sys.argv[1], '--db', sys.argv[2], '--json']\nmain()"
    )
    out = subprocess.run([sys.executable, "-c", code, INJECT_RUN, str(built)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["messages"]  # the detail was shown
    assert out.stderr.strip().endswith("LOADED False")
