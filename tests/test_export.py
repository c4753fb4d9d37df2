"""Exports on the labelled demo workspace: five files, re-importable labels, a report that renders."""

from __future__ import annotations

import csv
import json
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from triage.cli import app
from triage.clustering import list_clusters
from triage.db import open_db
from triage.demo import build_demo
from triage.export import FORMATS, export
from triage.labels import effective_labels, import_labels, label_cluster

DECISIONS = ["scoring_error", "infrastructure", "missing_env_knowledge", "poor_planning", "gave_up"]


@pytest.fixture(scope="module")
def labelled_demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    build_demo(path)
    db = open_db(path)
    for cluster, category in zip(list_clusters(db), DECISIONS, strict=False):
        label_cluster(db, cluster["id"], category, reviewer="alice", rationale=f"decided as {category}")
    db.conn.close()
    return path


@pytest.fixture(scope="module")
def exported(labelled_demo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exports")
    result = CliRunner().invoke(
        app, ["export", "--format", "all", "--out", str(out), "--bootstrap", "50", "--db", str(labelled_demo), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) == set(FORMATS)
    return out


def test_writes_the_five_files(exported):
    assert sorted(p.name for p in exported.iterdir()) == sorted(FORMATS.values())


def test_exported_files_get_the_mode_a_plain_open_gives(exported, tmp_path):
    """Reports shared in a team folder are readable as any file written there would be (not owner-only)."""
    plain = tmp_path / "plain"
    plain.write_text("x")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in exported.iterdir()}
    assert modes == dict.fromkeys(FORMATS.values(), stat.S_IMODE(plain.stat().st_mode))


def test_report_markdown_has_every_section(exported, labelled_demo):
    text = (exported / "report.md").read_text()
    for heading in [
        "## Estimates",
        "## What moved the score",
        "## Largest failure clusters",
        "## Protocol audit",
        "## Reviewer agreement",
        "## Policy",
    ]:
        assert heading in text
    db = open_db(labelled_demo)
    # Every agent appears with all four estimates, and the decided clusters with their rationale.
    for agent in [r[0] for r in db.execute("SELECT DISTINCT agent FROM runs")]:
        for est in ("raw", "strict", "elicited", "excluded"):
            assert re.search(rf"\| {re.escape(agent)} \| {est} \| \d", text), (agent, est)
    assert "decided as scoring\\_error" in text or "decided as scoring_error" in text
    assert "| tradeoff policy | fail |" in text and "50 samples, seed 0" in text


def test_runs_csv_has_every_run_with_its_effective_label(exported, labelled_demo):
    db = open_db(labelled_demo)
    with open(exported / "runs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == db.execute("SELECT count(*) FROM runs").fetchone()[0]
    labels = effective_labels(db)
    for row in rows:
        lab = labels.get(row["id"])
        assert row["label_category"] == (lab.category if lab else "")
        assert row["label_effect"] == (lab.effect.value if lab else "")


def test_labels_jsonl_reimports_into_a_fresh_workspace(exported, labelled_demo, tmp_path):
    fresh = tmp_path / "fresh.db"
    build_demo(fresh)
    db = open_db(fresh)
    import_labels(db, exported / "labels.jsonl")
    want = {k: v.category for k, v in effective_labels(open_db(labelled_demo)).items()}
    assert {k: v.category for k, v in effective_labels(db).items()} == want


def test_scores_json_is_the_score_document(exported, labelled_demo):
    data = json.loads((exported / "scores.json").read_text())
    cli = CliRunner().invoke(app, ["score", "--json", "--bootstrap", "50", "--seed", "0", "--db", str(labelled_demo)])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)["agents"] == data["agents"]
    # After labelling, elicited >= strict for every agent.
    for figures in data["agents"].values():
        assert figures["elicited"]["success_rate"] >= figures["strict"]["success_rate"]


def test_html_is_self_contained_with_plots(exported):
    html = (exported / "report.html").read_text()
    assert html.count("<svg") >= 2  # estimates plot and the success-vs-minutes curves
    assert not re.search(r"""(src|href)=["']https?://""", html)  # no network assets
    assert "<table>" in html


def test_unknown_format_is_a_usage_error(labelled_demo, tmp_path):
    result = CliRunner().invoke(app, ["export", "--format", "pdf", "--out", str(tmp_path), "--db", str(labelled_demo)])
    assert result.exit_code == 2
    with pytest.raises(ValueError, match="unknown export format"):
        export(open_db(labelled_demo), tmp_path, ["pdf"])


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine (.ci/run installs Debian's)")
def test_report_html_renders_in_headless_chromium(exported, tmp_path):
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2000",
         (exported / "report.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 2000)
    # A rendered page with plots is far from blank: many distinct byte values in a sizeable PNG.
    assert len(data) > 50_000


def test_audit_on_the_labelled_demo_gives_every_item_a_verdict_with_evidence(labelled_demo):
    result = CliRunner().invoke(app, ["audit", "--json", "--db", str(labelled_demo)])
    assert result.exit_code in (0, 1), result.output  # 1 when an item fails: the demo is half triaged
    items = json.loads(result.stdout)["items"]
    assert len(items) >= 18
    for item in items:
        assert item["verdict"] in {"pass", "warn", "fail", "todo"} and item["summary"]
        if item["kind"] == "computed" and item["value"] is not None:
            assert item["evidence"], item["id"]  # the numbers behind the verdict
    assert (result.exit_code == 1) == any(i["verdict"] == "fail" for i in items)
