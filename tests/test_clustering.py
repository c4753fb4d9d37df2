"""Clustering: the bulk leader algorithm, determinism, stable ids, and reviewer edits that survive
re-clustering, on real workspaces filled through the import path."""

from __future__ import annotations

import random

import pytest
from failure_factory import assistant, bash, make_run, store_runs, tool, user
from rapidfuzz import fuzz

from triage.clustering import (
    ClusterError,
    algorithm,
    cluster,
    cluster_of,
    comparison_key,
    get_cluster,
    leader_cluster,
    list_clusters,
    load_edits,
    merge,
    move,
    split,
)
from triage.clustering.query import DETECTOR_COUNTS
from triage.db import open_db
from triage.settings import get_setting


def sequential_leaders(texts: list[str], threshold: float) -> list[int]:
    """The leader algorithm one item at a time: the reference the chunked version must equal."""
    leaders: list[int] = []
    out = []
    for i, text in enumerate(texts):
        best, best_score = -1, -1.0
        for j in leaders:
            score = fuzz.ratio(text, texts[j], score_cutoff=threshold)
            if score > best_score:
                best, best_score = j, score
        if best >= 0 and best_score >= threshold:
            out.append(best)
        else:
            leaders.append(i)
            out.append(i)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_chunked_leader_algorithm_equals_the_sequential_one(seed: int, monkeypatch) -> None:
    rng = random.Random(seed)
    words = ["KeyError", "timeout", "limit", "token", "module", "numpy", "failed", "sandbox", "x", "answer"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(50, 300))]
    monkeypatch.setattr(algorithm, "MAX_CHUNK", rng.choice([7, 16, 64]))
    monkeypatch.setattr(algorithm, "MIN_CHUNK", 4)
    grouping = leader_cluster(texts, 75, fuzz.ratio)
    assert list(grouping.leader) == sequential_leaders(texts, 75)


def test_comparison_key_blocks_by_prefix_and_keeps_head_and_tail() -> None:
    block, key = comparison_key("error: " + "A" * 50 + " middle " + "Z" * 50)
    assert block == "error"
    assert len(key) == 64 and key.startswith("A" * 40) and key.endswith("Z" * 23)
    assert comparison_key("scored zero; no transcript") == ("", "scored zero; no transcript")


def failing_runs(prefix: str, error: str, n: int, *, task: str = "t1", agent: str = "a1") -> list:
    return [
        make_run(
            f"{prefix}-{i}", status="error", error=error.format(i=i, addr=hex(0x7F0000 + i * 977)),
            task_id=task, agent=agent, messages=[user("go"), bash(f"run {i}"), tool("ok"), assistant("...")],
        )
        for i in range(n)
    ]  # fmt: skip


def corpus_a() -> list:
    return [
        *failing_runs("kerr", "KeyError: 'learning_rate' at {addr}", 4, task="train"),
        *failing_runs(
            "oom", "RuntimeError: CUDA out of memory. Tried to allocate {i}0 MiB", 3, task="train", agent="a2"
        ),
        *failing_runs("mod", "ModuleNotFoundError: No module named 'torch'", 2, task="setup"),
        make_run("ok-1", status="success", messages=[user("q"), assistant("4")]),
    ]


def corpus_b() -> list:
    """New imports: more of an existing failure, and a new kind."""
    return [
        *failing_runs("kerr-new", "KeyError: 'learning_rate' at {addr}", 2, task="train2"),
        *failing_runs("rate", "openai.RateLimitError: Error code: 429", 3, task="api"),
    ]


def membership(db) -> dict[str, str]:
    return dict(db.execute("SELECT run_id, cluster_id FROM cluster_members ORDER BY run_id").fetchall())


def test_groups_failures_and_lists_them_largest_first(db, tmp_path) -> None:
    store_runs(db, corpus_a(), tmp_path)
    summary = cluster(db)
    assert summary["failures"] == 9 and summary["clusters"] == 3
    items = list_clusters(db, members=True)
    assert [c["size"] for c in items] == [4, 3, 2]
    top = items[0]
    assert top["signature"] == "error: KeyError: 'learning_rate' at <addr>"
    assert top["members"] and set(top["members"]) == {f"kerr-{i}" for i in range(4)}
    assert top["share"] == round(4 / 9, 4)
    assert top["tasks"] == {"train": 4} and top["agents"] == {"a1": 4}
    assert top["exemplar_run_id"] == "kerr-0"
    oom = items[1]
    assert oom["agents"] == {"a2": 3}
    assert cluster_of(db, "oom-2")["cluster_id"] == oom["id"]
    assert cluster_of(db, "ok-1") is None  # successes are not clustered
    assert list_clusters(db, limit=1)[0]["id"] == top["id"]


def test_detector_counts_per_cluster(db, tmp_path) -> None:
    runs = [
        make_run(f"jq-{i}", messages=[user("q"), bash("jq ."), tool("bash: jq: command not found"), assistant("x")],
                 success=False)
        for i in range(3)
    ]  # fmt: skip
    store_runs(db, runs, tmp_path)
    cluster(db)
    (only,) = list_clusters(db)
    assert only["detectors"] == {"missing_dependency": 3}
    # Categories are counted from what the detectors propose (a weak detection proposes none).
    proposed = db.execute(
        "SELECT category, count(DISTINCT run_id) FROM detections WHERE category IS NOT NULL GROUP BY 1"
    )
    assert only["categories"] == dict(proposed.fetchall())
    # Counted from the index alone (migration 11): no detection row, with its excerpt and detail, is read.
    plan = " ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + DETECTOR_COUNTS, ["[]"]))
    assert "COVERING INDEX detections_run" in plan, plan


def test_same_data_and_settings_give_the_same_clusters(tmp_path) -> None:
    results = []
    for name in ("one", "two"):
        db = open_db(tmp_path / name / "ws.db")
        store_runs(db, corpus_a() + corpus_b(), tmp_path / name)
        cluster(db)
        results.append((membership(db), list_clusters(db, members=True)))
        db.conn.close()
    assert results[0] == results[1]


def test_threshold_is_a_setting_and_an_override(db, tmp_path) -> None:
    store_runs(db, failing_runs("x", "ValueError: bad value {i}{i}{i} in column alpha", 3), tmp_path)
    assert cluster(db)["threshold"] == 85.0
    strict = cluster(db, threshold=100)
    assert strict["threshold"] == 100 and get_setting(db, "clustering.threshold") == 100
    assert cluster(db)["threshold"] == 100  # the override was stored
    with pytest.raises(ClusterError):
        cluster(db, threshold=101)


def test_ids_are_stable_across_reclustering_and_new_imports(db, tmp_path) -> None:
    store_runs(db, corpus_a(), tmp_path, "a")
    cluster(db)
    before = membership(db)
    joined = dict(db.execute("SELECT run_id, joined_at FROM cluster_members").fetchall())
    again = cluster(db)
    assert again["kept_ids"] == 3 and again["new_clusters"] == 0
    assert membership(db) == before
    store_runs(db, corpus_b(), tmp_path, "b")
    result = cluster(db)
    after = membership(db)
    assert {r: after[r] for r in before} == before  # every old run keeps its cluster id
    assert after["kerr-new-0"] == before["kerr-0"]  # new runs join the existing cluster
    assert result["new_clusters"] == 1  # the rate-limit failures
    rejoined = dict(db.execute("SELECT run_id, joined_at FROM cluster_members").fetchall())
    assert all(rejoined[r] == joined[r] for r in before)  # original joined_at kept
    assert rejoined["kerr-new-0"] > joined["kerr-0"]


def test_merge_split_move_survive_reclustering(db, tmp_path) -> None:
    store_runs(db, corpus_a(), tmp_path, "a")
    cluster(db)
    ids = {c["signature"].split(":")[1].strip(): c["id"] for c in list_clusters(db)}
    kerr, oom, mod = ids["KeyError"], ids["RuntimeError"], ids["ModuleNotFoundError"]

    merged = merge(db, [oom, mod], reviewer="ana")
    assert merged["into"] == oom and merged["size"] == 5
    parted = split(db, kerr, ["kerr-2", "kerr-3"], reviewer="ben")
    new_id = parted["new_id"]
    moved = move(db, "kerr-1", oom, reviewer="ana")
    assert moved["from"] == kerr and moved["to"] == oom
    edited = membership(db)
    assert edited["mod-0"] == oom and edited["kerr-2"] == new_id and edited["kerr-1"] == oom
    assert [e["kind"] for e in load_edits(db)] == ["merge", "split", "move"]
    assert {e["reviewer"] for e in load_edits(db)} == {"ana", "ben"}

    result = cluster(db)
    assert result["edits"]["applied"] == 3 and result["edits"]["skipped"] == []
    assert membership(db) == edited
    # New imports land in the edited clustering: a new KeyError run joins kerr, a new module error oom.
    store_runs(
        db, corpus_b() + failing_runs("mod-new", "ModuleNotFoundError: No module named 'torch'", 1), tmp_path, "b"
    )
    cluster(db)
    after = membership(db)
    assert {r: after[r] for r in edited} == edited
    assert after["kerr-new-0"] == kerr and after["mod-new-0"] == oom
    assert get_cluster(db, mod) is None  # merged away (kept as an empty row for its exemplar)


def test_split_that_takes_the_exemplar_keeps_both_ids(db, tmp_path) -> None:
    store_runs(db, corpus_a(), tmp_path)
    cluster(db)
    kerr = cluster_of(db, "kerr-0")["cluster_id"]
    parted = split(db, kerr, ["kerr-0"], reviewer="ana")
    assert get_cluster(db, kerr)["exemplar_run_id"] != "kerr-0"
    before = membership(db)
    cluster(db)
    assert membership(db) == before
    assert cluster_of(db, "kerr-0")["cluster_id"] == parted["new_id"]


def test_invalid_edits_are_refused(db, tmp_path) -> None:
    store_runs(db, corpus_a(), tmp_path)
    cluster(db)
    kerr = cluster_of(db, "kerr-0")["cluster_id"]
    oom = cluster_of(db, "oom-0")["cluster_id"]
    with pytest.raises(ClusterError, match="at least two"):
        merge(db, [kerr], reviewer="a")
    with pytest.raises(ClusterError, match="no such cluster"):
        merge(db, [kerr, "c-nope"], reviewer="a")
    with pytest.raises(ClusterError, match="not in cluster"):
        split(db, kerr, ["oom-0"], reviewer="a")
    with pytest.raises(ClusterError, match="every run"):
        split(db, oom, ["oom-0", "oom-1", "oom-2"], reviewer="a")
    with pytest.raises(ClusterError, match="not in any cluster"):
        move(db, "ok-1", kerr, reviewer="a")
    with pytest.raises(ClusterError, match="already in"):
        move(db, "kerr-0", kerr, reviewer="a")
    assert load_edits(db) == []


def test_a_run_that_now_succeeds_leaves_its_cluster(db, tmp_path) -> None:
    runs = failing_runs("k", "KeyError: 'x'", 3)
    store_runs(db, runs, tmp_path)
    cluster(db)
    runs[0] = make_run("k-0", status="success", messages=[user("q"), assistant("fine")])
    store_runs(db, runs, tmp_path)
    cluster(db)
    assert cluster_of(db, "k-0") is None
    assert list_clusters(db)[0]["size"] == 2


def test_similar_but_not_identical_signatures_join(db, tmp_path) -> None:
    runs = [
        make_run("p1", status="error", error="ValueError: could not convert string to float: 'abc'"),
        make_run("p2", status="error", error="ValueError: could not convert string to float: 'abd'"),
        make_run("q1", status="error", error="PermissionError: [Errno 13] Permission denied: 'out.txt'"),
    ]
    store_runs(db, runs, tmp_path)
    summary = cluster(db)
    assert summary["signatures"] == 3 and summary["clusters"] == 2
    assert cluster_of(db, "p1")["cluster_id"] == cluster_of(db, "p2")["cluster_id"]
    assert cluster_of(db, "p2")["similarity"] < 100


@pytest.fixture(scope="module")
def corpus_workspace(corpus, tmp_path_factory):
    """The whole shared corpus imported, analysed and clustered (every loader must load: no degraded mode)."""
    from triage.importers import broken_loaders
    from triage.ingest import import_paths

    assert broken_loaders() == {}
    db = open_db(tmp_path_factory.mktemp("corpus") / "ws.db")
    summary = import_paths(db, [corpus])
    assert summary.runs_added > 1000, summary.errors[:3]
    cluster(db)
    yield db
    db.conn.close()


@pytest.mark.corpus
def test_every_failed_corpus_run_has_a_signature_and_a_cluster(corpus_workspace) -> None:
    db = corpus_workspace
    missing = db.execute(
        "SELECT r.id FROM runs r LEFT JOIN signatures s ON s.run_id = r.id WHERE r.status != 'success' "
        "AND (s.signature IS NULL OR s.signature = '')"
    ).fetchall()
    assert missing == []
    unclustered = db.execute(
        "SELECT count(*) FROM runs r LEFT JOIN cluster_members m ON m.run_id = r.id "
        "WHERE r.status != 'success' AND m.run_id IS NULL"
    ).fetchone()[0]
    assert unclustered == 0
    # Triage's own evidence points into the transcript wherever there is one. (Findings imported from Scout
    # cite Inspect message ids, which transcripts do not keep: they carry no index, never a wrong one.)
    unplaced = db.execute(
        "SELECT d.run_id, d.detector FROM detections d JOIN runs r ON r.id = d.run_id "
        "WHERE r.n_messages > 0 AND (d.message_index >= r.n_messages "
        "OR (d.message_index IS NULL AND d.detector NOT LIKE '%:%'))"
    ).fetchall()
    assert unplaced == []
    bad_sig_index = db.execute(
        "SELECT s.run_id FROM signatures s JOIN runs r ON r.id = s.run_id "
        "WHERE s.message_index IS NOT NULL AND s.message_index >= r.n_messages"
    ).fetchall()
    assert bad_sig_index == []
    detectors = {r[0] for r in db.execute("SELECT DISTINCT detector FROM detections")}
    assert {"usage_limit", "missing_dependency", "format_error", "loop"} <= detectors


@pytest.mark.corpus
def test_corpus_clusters_are_deterministic_and_stable(corpus_workspace) -> None:
    db = corpus_workspace
    before = list_clusters(db, members=True)
    summary = cluster(db)
    assert summary["new_clusters"] == 0
    assert list_clusters(db, members=True) == before
    # Compression: far fewer clusters than failures.
    assert summary["clusters"] * 20 < summary["failures"]
