"""Full-text search over transcripts (SQLite FTS5): an index kept current incrementally, filters, and the
CLI from `triage search` to a group settled by `triage group label`, on real workspaces."""

from __future__ import annotations

import json

import pytest
from failure_factory import assistant, bash, make_run, store_runs, tool, user
from typer.testing import CliRunner

from triage import labels
from triage.cli import app
from triage.db import open_db
from triage.search import MARK_END, MARK_START, SearchError, search, update_index

HOSTILE = "\x1b[31mred\x1b[0m [bold]x[/bold]"


def runs(refused: int = 3, version: str = "") -> list:
    out = [
        make_run(
            f"net-{i}", success=False, task_id="fetch", agent="a1",
            messages=[user("fetch the page"), bash("curl http://svc:8080"),
                      tool(f"curl: (7) Failed to connect to svc port 8080: Connection refused {HOSTILE}"),
                      assistant(f"The host refused every connection{version}.")],
        )
        for i in range(refused)
    ]  # fmt: skip
    out += [
        make_run("math-0", success=False, task_id="sum", agent="a2", error="ValueError: bad number",
                 messages=[user("add 2 and 2"), assistant("ANSWER: 5")]),
        make_run("ok-0", status="success", task_id="fetch", agent="a2",
                 messages=[user("fetch the page"), bash("curl http://svc:8080"), tool("<html>hello</html>"),
                           assistant("Fetched; the connection worked.")]),
    ]  # fmt: skip
    return out


@pytest.fixture
def ws(tmp_path):
    path = tmp_path / "ws.db"
    db = open_db(path)
    store_runs(db, runs(), tmp_path)
    db.conn.close()
    return path


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_index_is_brought_up_to_date_incrementally(ws, tmp_path) -> None:
    db = open_db(ws)
    assert update_index(db)["indexed"] == 5
    assert update_index(db) == {"indexed": 0, "removed": 0, "seconds": pytest.approx(0, abs=1)}
    # Re-importing a changed file re-indexes its runs and drops the runs it no longer holds.
    store_runs(db, runs(refused=2, version=" again"), tmp_path)
    done = update_index(db)
    assert (done["indexed"], done["removed"]) == (4, 1)
    hits = search(db, "again", update=False)
    assert sorted(h.run_id for h in hits.hits) == ["net-0", "net-1"]
    assert search(db, "refused", update=False).total == 2
    db.conn.close()


def test_search_filters_snippets_and_plain_word_fallback(ws) -> None:
    db = open_db(ws)
    everything = search(db, "connection")
    assert everything.total == 4  # three refusals and the success that mentions a connection
    failed = search(db, "connection", failed=True)
    assert failed.total == 3 and {h.status for h in failed.hits} == {"failed"}
    assert search(db, "connection", task="sum").total == 0
    assert search(db, "connection", agent="a2").total == 1
    assert search(db, "connection", limit=1).hits and len(search(db, "connection", limit=1).hits) == 1
    hit = failed.hits[0]
    assert f"{MARK_START}connection{MARK_END}" in hit.snippet.lower() and "refused" in hit.snippet
    assert search(db, '"connection refused"').total == 3  # a phrase
    assert search(db, "ValueError").run_ids is None and search(db, "ValueError").total == 1  # the recorded error
    odd = search(db, "svc:8080 -refused")  # not FTS5 syntax it can run: searched as its words
    assert odd.fts_query == '"svc" "8080" "refused"' and odd.total == 3
    with pytest.raises(SearchError):
        search(db, "   ")
    with pytest.raises(SearchError):
        search(db, "-- ::")
    db.conn.close()


def test_cli_search_table_json_and_exit_codes(ws) -> None:
    shown = invoke("search", "refused", "--db", ws)
    assert shown.exit_code == 0, shown.output
    assert "3 runs match" in shown.stdout and "net-0" in shown.stdout
    assert "\x1b" not in shown.stdout and "[bold]x[/bold]" in shown.stdout  # data shown literally
    data = json.loads(invoke("search", "connection", "--failed", "--json", "--limit", "2", "--db", ws).stdout)
    assert data["total"] == 3 and len(data["hits"]) == 2 and "«" in data["hits"][0]["snippet"]
    assert invoke("search", "nothing-like-this-word", "--db", ws).exit_code == 1
    assert invoke("search", "::", "--db", ws).exit_code == 2


def test_cli_search_to_group_settled_in_one_decision(ws) -> None:
    made = invoke("search", '"connection refused"', "--failed", "--group", "refused", "--reviewer", "ana",
                  "--db", ws)  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "Group search:refused: 3 runs (3 new)" in made.stdout
    listed = json.loads(invoke("group", "list", "--json", "--db", ws).stdout)
    assert [(g["name"], g["size"], g["failures"]) for g in listed] == [("refused", 3, 3)]
    needs_note = invoke("group", "label", "refused", "i", "--reviewer", "ana", "--db", ws)
    assert needs_note.exit_code == 2 and "rationale" in needs_note.output
    labelled = invoke("group", "label", "refused", "i", "--note", "svc was down", "--reviewer", "ana", "--db", ws,
                      "--json")  # fmt: skip
    assert labelled.exit_code == 0, labelled.output
    assert sorted(json.loads(labelled.stdout)["members"]) == ["net-0", "net-1", "net-2"]
    db = open_db(ws)
    eff = labels.effective_labels(db)
    assert {eff[f"net-{i}"].category for i in range(3)} == {"infrastructure"} and "math-0" not in eff
    db.conn.close()
    tree = json.loads(invoke("tree", "--json", "--db", ws).stdout)
    node = next(n for n in tree["nodes"] if n["id"] == "search:refused")
    assert (node["kind"], node["size"], node["settled"], node["decision"]) == ("search", 3, 3, "infrastructure")
    assert invoke("group", "show", "refused", "--db", ws).stdout.split()[-3:] == ["net-0", "net-1", "net-2"]
    assert invoke("group", "label", "nope", "q", "--db", ws).exit_code == 2
    deleted = invoke("group", "delete", "refused", "--db", ws, "--json")
    assert deleted.exit_code == 0 and json.loads(deleted.stdout) == {"deleted": "refused", "size": 3}
    assert json.loads(invoke("group", "list", "--json", "--db", ws).stdout) == []


def test_cli_tree_and_cause_group_labels(ws) -> None:
    assert invoke("cluster", "--db", ws).exit_code == 0
    tree = json.loads(invoke("tree", "--json", "--db", ws).stdout)
    groups = [n for n in tree["nodes"] if n["kind"] == "cause"]
    assert sum(g["size"] for g in groups) == 4 and tree["next_undecided"] == groups[0]["id"]
    top = groups[0]
    result = invoke("group", "label", top["id"], "q", "--reviewer", "ana", "--db", ws)
    assert result.exit_code == 0, result.output
    assert f"({top['size']} runs)" in result.stdout
    after = {n["id"]: n for n in json.loads(invoke("tree", "--json", "--db", ws).stdout)["nodes"]}
    assert after[top["id"]]["settled"] == top["size"] and after[top["id"]]["decision"] == "poor_planning"
    text = invoke("tree", "--db", ws).stdout
    assert top["name"] in text and "└" in text


def test_cluster_keeps_an_existing_index_current(ws, tmp_path) -> None:
    from triage.clustering import cluster

    db = open_db(ws)
    cluster(db)
    assert db.execute("SELECT count(*) FROM search_docs").fetchone()[0] == 0  # nobody searched: no index
    assert search(db, "refused").total == 3  # the first search builds it
    store_runs(db, runs(refused=3, version=" once more"), tmp_path)
    cluster(db)  # re-import, then clustering: the index follows without a search
    assert search(db, '"once more"', update=False).total == 3
    db.conn.close()


def test_no_import_since_the_last_update_skips_the_scan(ws, tmp_path, monkeypatch) -> None:
    """The freshness check costs one read of `sources` until an import changes a file's row."""
    import triage.search as search_module

    db = open_db(ws)
    assert update_index(db)["indexed"] == 5
    scans = []
    real = search_module._stale
    monkeypatch.setattr(search_module, "_stale", lambda d: scans.append(1) or real(d))
    assert update_index(db)["indexed"] == 0 and search(db, "refused").total == 3
    assert scans == []
    store_runs(db, runs(refused=2, version=" again"), tmp_path)  # a re-import that changes runs
    assert (update_index(db)["indexed"], len(scans)) == (4, 1)
    assert search(db, "again").total == 2 and len(scans) == 1
    db.conn.close()


def test_a_word_repeated_through_a_long_output_gives_a_short_snippet(tmp_path) -> None:
    # FTS5's snippet() costs the square of a document's hits: 300,000 of them took hours. Long documents
    # get a snippet cut around the first hit instead; short ones keep FTS5's.
    flood = "prelude words here " + "Error: " * 100_000
    db = open_db(tmp_path / "ws.db")
    store_runs(db, [make_run("flood", success=False, messages=[user("go"), bash("make"), tool(flood)]),
                    make_run("short", success=False, messages=[user("go"), bash("make"), tool("Error: once")])],
               tmp_path)  # fmt: skip
    result = search(db, "error", limit=10)
    assert result.total == 2
    snippets = {hit.run_id: hit.snippet for hit in result.hits}
    long, short = snippets["flood"], snippets["short"]
    assert len(long) < 400 and long.endswith("…") and "prelude words here" in long
    assert long.count(f"{MARK_START}Error{MARK_END}") >= 10  # every hit in the window marked, as FTS5 marks
    assert f"{MARK_START}Error{MARK_END}" in short
    prefixed = search(db, "err* NOT nothing", limit=10).hits
    assert f"{MARK_START}Error{MARK_END}" in {h.run_id: h.snippet for h in prefixed}["flood"]
