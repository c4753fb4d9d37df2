"""Analysis errors are reported with their run, never silent: a detector or a cause rule that raises on a run
loses only its own part of that run's analysis, and ``analyze`` lists the run in its errors.

On the shared corpus the list stays empty: every detector and cause rule runs cleanly on every real run.
"""

from __future__ import annotations

import sys

import pytest
from failure_factory import assistant, make_run, store_runs, user

from triage.failures import analyze
from triage.ingest import import_paths


@pytest.mark.corpus
def test_no_detector_or_cause_rule_raises_on_any_corpus_run(db, corpus):
    imported = import_paths(db, [corpus])
    assert imported.errors == []
    result = analyze(db)
    assert result["analyzed"] == db.execute("SELECT count(*) FROM runs").fetchone()[0]
    assert result["failures"] > 0
    assert result["errors"] == []


def test_a_cause_rule_that_raises_is_reported_and_the_signature_kept(db, tmp_path, monkeypatch):
    runs = [make_run(f"r{i}", messages=[user("What is 2 + 2?"), assistant("5")], score=0.0) for i in range(2)]
    store_runs(db, runs, tmp_path)

    def broken(ctx, failure):  # a bug in a cause rule, injected where analyze calls the rules
        if ctx.run_id == "r1":
            raise KeyError("metadata")
        return "near_miss", "5"

    # The package exports the function under the module's name; the module is where it looks the rules up.
    monkeypatch.setattr(sys.modules[analyze.__module__], "outcome_cause", broken)
    result = analyze(db, workers=1)
    assert result["errors"] == [{"run_id": "r1", "error": "cause: KeyError: 'metadata'"}]
    causes = dict(db.execute("SELECT run_id, cause FROM signatures ORDER BY run_id").fetchall())
    assert causes == {"r0": "near_miss", "r1": "wrong_answer"}  # r1: its signature's kind (a final message) stands in
