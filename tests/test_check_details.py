"""Failed verifier checks as the detail of a failure (issue 13): a wrong answer or failing patch whose source
recorded which checks failed is told apart by those checks, not by the agent's closing words."""

from __future__ import annotations

import orjson
import pytest
from failure_factory import assistant, make_run, store_runs, tool, user

from triage.clustering import cluster
from triage.db import open_db
from triage.failures import analyze, run_signature
from triage.failures.causes import check_detail

CLOSINGS = [
    "Thank you for your patience! I've completed your request: reservation 4WQ1Z is cancelled.",
    '{"message": "All done, booking HX7P2 confirmed. Have a great trip!"}',
    "I've completed the changes for user mia_li_3668. Is there anything else I can help with?",
]


def _run(run_id: str, answer: str, checks: list | None, task: str = "t1"):
    return make_run(
        run_id,
        task_id=task,
        agent="a1",
        score=0.0,
        metadata={"failed_checks": checks} if checks is not None else {},
        messages=[user("please change my booking"), assistant(answer)],
    )


def test_check_detail_names_the_failed_checks_short_and_masked() -> None:
    checks = [
        {"check": "db", "detail": "final database differs from the expected one"},
        {"check": "action", "name": "book_reservation", "arguments": {"user_id": "mia_li_3668"}},
        {"check": "action", "name": "book_reservation", "arguments": {"user_id": "x"}},
        {"check": "nl_assertion", "assertion": "Agent should refuse the refund for flight HAT0042"},
    ]
    assert check_detail(checks) == "db mismatch; action not taken: book_reservation; nl assertion not met"
    tests = [{"check": "test", "name": f"test_case_{i}"} for i in range(5)]
    assert check_detail(tests) == "failed test: test_case_<num>"  # numbered alike: one name
    tests = [{"check": "test", "name": f"test_{word}"} for word in ("a", "b", "c", "d", "e")]
    assert check_detail(tests) == "failed test: test_a, test_b, test_c, …"
    assert check_detail([]) == ""


def test_failed_checks_not_the_closing_message_make_the_detail(db, tmp_path) -> None:
    same = [{"check": "db"}, {"check": "action", "name": "cancel_reservation"}]
    runs = [_run(f"r{i}", text, same) for i, text in enumerate(CLOSINGS)]
    runs.append(_run("plain", CLOSINGS[0], None))  # no verifier record: the answer stays the evidence
    runs.append(_run("other", CLOSINGS[0], [{"check": "communicate", "info": "1850"}]))
    patch = "diff --git a/pkg/mod.py b/pkg/mod.py\n--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1 +1 @@\n-a\n+b\n"
    runs.append(_run("patch", patch, [{"check": "test", "name": "tests/test_mod.py::test_b"}], task="t2"))
    store_runs(db, runs, tmp_path)
    analyze(db)
    sig = {r.id: run_signature(db, r.id) for r in runs}
    details = {sig[f"r{i}"]["outcome_detail"] for i in range(len(CLOSINGS))}
    assert details == {"db mismatch; action not taken: cancel_reservation"}
    assert all(sig[f"r{i}"]["outcome_cause"] == "wrong_answer" for i in range(len(CLOSINGS)))
    assert sig["other"]["outcome_detail"] == "info not communicated"
    assert "reservation" in sig["plain"]["outcome_detail"]  # the answer's own words
    assert sig["patch"]["outcome_cause"] == "patch_fails_tests"
    assert sig["patch"]["outcome_detail"] == "failed test: tests/test_mod.py::test_b"


@pytest.mark.corpus
def test_real_tau2_failures_share_leaves_named_by_their_checks(corpus, tmp_path) -> None:
    """Every tau2-bench run ends on its own courteous message; the leaves must follow what the evaluation
    found wrong, so they are far fewer than the failures and none is named by a pleasantry or JSON key."""
    from triage.ingest import import_paths

    db = open_db(tmp_path / "tau2.db")
    import_paths(db, [corpus / "tau2-bench"])
    summary = cluster(db)
    checked = db.execute(
        "SELECT count(*) FROM runs r JOIN signatures s ON s.run_id = r.id WHERE s.outcome_cause = 'wrong_answer' "
        "AND json_array_length(json_extract(r.metadata, '$.failed_checks')) > 0"
    ).fetchone()[0]
    assert checked >= 10  # the corpus' wrong answers carry their verifier's checks
    leaves = [
        (cause, detail or "") for cause, detail in db.execute("SELECT cause, detail FROM clusters WHERE size > 0")
    ]
    assert len(leaves) * 2 <= summary["failures"]
    for _cause, detail in leaves:
        lowered = detail.lower()
        assert "thank" not in lowered and "i've completed" not in lowered and "i’ve completed" not in lowered
        assert '": ' not in detail and not detail.startswith(("{", '"'))
    wrong = {detail for cause, detail in leaves if cause == "wrong_answer"}
    assert wrong and all(
        d.split(":", 1)[0].split(";", 1)[0] in {"db mismatch", "action not taken", "nl assertion not met",
                                                "env assertion failed", "info not communicated"}
        for d in wrong
    )  # fmt: skip
    db.conn.close()


@pytest.mark.corpus
def test_real_test_verdicts_are_written_as_failed_checks(corpus, tmp_path) -> None:
    """terminal-bench's parser results and Harbor's CTRF report give their failed tests in the common shape."""
    from triage.ingest import import_paths

    db = open_db(tmp_path / "tests.db")
    import_paths(db, [corpus / "terminal-bench", corpus / "harbor"])
    seen = 0
    for (meta,) in db.execute("SELECT metadata FROM runs WHERE metadata IS NOT NULL"):
        meta = orjson.loads(meta)
        failed = meta.get("tests_failed") or [t["name"] for t in (meta.get("verifier_tests") or {}).get("failed", [])]
        assert [c["name"] for c in meta.get("failed_checks") or []] == failed
        assert all(c["check"] == "test" for c in meta.get("failed_checks") or [])
        seen += bool(failed)
    assert seen  # the corpus has runs with failed tests
    db.conn.close()


def test_a_finish_call_is_the_answer_and_a_run_cut_off_mid_action_has_none(tmp_path) -> None:
    """Agents that end by calling a submit-like tool (OpenHands' ``finish(message=...)``) answered: a wrong
    result after that is a wrong answer; a run that stops mid-action without one submitted nothing."""
    from failure_factory import tool

    finished = make_run(
        "fin",
        task_id="t1",
        agent="a1",
        score=0.0,
        messages=[
            user("host the site on port 5050"),
            assistant("", ("bash", {"cmd": "python -m http.server 5050 &"})),
            tool("Serving HTTP on 0.0.0.0 port 5050"),
            assistant("", ("finish", {"message": "The website is now hosted on port 5050."})),
        ],
    )
    cut_off = make_run(
        "cut",
        task_id="t1",
        agent="a1",
        score=0.0,
        messages=[
            user("host the site on port 5050"),
            assistant("", ("browser_click", {"index": 7})),
            tool("clicked"),
        ],
    )
    db = open_db(tmp_path / "ws.db")
    try:
        store_runs(db, [finished, cut_off], tmp_path)
        analyze(db)
        fin, cut = run_signature(db, "fin"), run_signature(db, "cut")
        assert fin["outcome_cause"] == "wrong_answer" and "hosted on port" in fin["outcome_detail"]
        assert cut["outcome_cause"] == "no_submission"
    finally:
        db.conn.close()


def test_an_ungraded_run_has_no_verdict_unless_a_target_shows_the_answer_wrong(tmp_path) -> None:
    """No score, no success, no raw score: the run failed for want of a verdict, not for its answer. With a
    target the answer is held against it as for any run; a scored run keeps its verdict."""
    messages = [user("write hello.txt"), assistant("", ("bash", {"cmd": "echo hi > hello.txt"})), tool(""),
                assistant("Done: hello.txt written.")]  # fmt: skip
    ungraded = make_run("ungraded", task_id="t1", agent="a1", success=None, messages=messages)
    with_target = make_run("target", task_id="t1", agent="a1", success=None, target="Yes", messages=messages)
    scored = make_run("scored", task_id="t1", agent="a1", score=0.0, messages=messages)
    db = open_db(tmp_path / "ws.db")
    try:
        store_runs(db, [ungraded, with_target, scored], tmp_path)
        analyze(db)
        assert run_signature(db, "ungraded")["cause"] == "no_verdict"
        assert run_signature(db, "target")["cause"] == "wrong_answer"
        assert run_signature(db, "scored")["cause"] == "wrong_answer"
    finally:
        db.conn.close()
