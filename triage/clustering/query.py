"""Reading the clustering: :func:`list_clusters` (for the CLI, the TUI and reports), :func:`get_cluster`
and :func:`cluster_of`. Output is deterministic: clusters largest first then by id; counts by size then name."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import orjson

from triage.db.sqlite import Database

# Detectors and proposed categories per listed cluster (a JSON list of cluster ids): covered by the index
# detections_run (run_id, detector, category) of migration 11, so no detection row is read.
DETECTOR_COUNTS = (
    "SELECT m.cluster_id, d.detector, d.category, count(DISTINCT d.run_id) FROM cluster_members m "
    "JOIN detections d ON d.run_id = m.run_id WHERE m.cluster_id IN (SELECT value FROM json_each(?)) "
    "GROUP BY m.cluster_id, d.detector, d.category"
)


def _ordered(counter: Counter) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def list_clusters(
    db: Database,
    *,
    members: bool = False,
    limit: int | None = None,
    cluster_ids: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Current clusters, largest first.

    Each: ``id, size, share`` (of all failures), ``signature, kind, cause, detail, exemplar_run_id``, ``detectors``
    (runs per detector), ``categories`` (runs per detector-proposed category), ``tasks`` and ``agents``
    (runs per task / agent), and with ``members`` the member run ids (most similar first).
    """
    failures = db.execute("SELECT count(*) FROM runs WHERE status != 'success'").fetchone()[0] or 0
    sql = "SELECT c.id, c.size, c.signature, c.exemplar_run_id, s.kind, c.cause, c.detail FROM clusters c "
    sql += "LEFT JOIN signatures s ON s.run_id = c.exemplar_run_id WHERE c.size > 0"
    params: list[Any] = []
    if cluster_ids is not None:
        sql += f" AND c.id IN ({', '.join('?' for _ in cluster_ids)})"
        params.extend(cluster_ids)
    sql += " ORDER BY c.size DESC, c.id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    rows = db.execute(sql, params).fetchall()
    if not rows:
        return []
    # Only the listed clusters' members are read (the cluster_id index): `--limit 10` of a million runs reads
    # the ten clusters, not every membership row.
    wanted = orjson.dumps([r[0] for r in rows]).decode()
    chosen = "m.cluster_id IN (SELECT value FROM json_each(?))"
    tasks: dict[str, Counter] = defaultdict(Counter)
    agents: dict[str, Counter] = defaultdict(Counter)
    runs: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for cid, task, agent, n in db.execute(
        "SELECT m.cluster_id, r.task_id, r.agent, count(*) FROM cluster_members m "
        f"JOIN runs r ON r.id = m.run_id WHERE {chosen} GROUP BY m.cluster_id, r.task_id, r.agent",
        [wanted],
    ):
        tasks[cid][task or "(none)"] += n
        agents[cid][agent or "(none)"] += n
    if members:
        for cid, run_id, similarity in db.execute(
            f"SELECT m.cluster_id, m.run_id, m.similarity FROM cluster_members m WHERE {chosen}", [wanted]
        ):
            runs[cid].append((-(similarity or 0.0), run_id))
    detectors: dict[str, Counter] = defaultdict(Counter)
    categories: dict[str, Counter] = defaultdict(Counter)
    for cid, detector, category, n in db.execute(DETECTOR_COUNTS, [wanted]):
        detectors[cid][detector] += n
        if category:
            categories[cid][category] += n
    out = []
    for cid, size, signature, exemplar, kind, cause, detail in rows:
        item: dict[str, Any] = {
            "id": cid,
            "size": size,
            "share": round(size / failures, 4) if failures else 0.0,
            "signature": signature,
            "kind": kind,
            "cause": cause,
            "detail": detail,
            "exemplar_run_id": exemplar,
            "detectors": _ordered(detectors[cid]),
            "categories": _ordered(categories[cid]),
            "tasks": _ordered(tasks[cid]),
            "agents": _ordered(agents[cid]),
        }
        if members:
            item["members"] = [run_id for _, run_id in sorted(runs[cid])]
        out.append(item)
    return out


def get_cluster(db: Database, cluster_id: str) -> dict[str, Any] | None:
    """One cluster with its members, or None when it does not exist or is empty."""
    found = list_clusters(db, members=True, cluster_ids=[cluster_id])
    return found[0] if found else None


def cluster_of(db: Database, run_id: str) -> dict[str, Any] | None:
    """The cluster a run is in: ``{cluster_id, similarity, joined_at, size, signature, exemplar_run_id}``."""
    row = db.execute(
        "SELECT m.cluster_id, m.similarity, m.joined_at, c.size, c.signature, c.exemplar_run_id "
        "FROM cluster_members m JOIN clusters c ON c.id = m.cluster_id WHERE m.run_id = ?",
        [run_id],
    ).fetchone()
    if row is None:
        return None
    keys = ("cluster_id", "similarity", "joined_at", "size", "signature", "exemplar_run_id")
    return dict(zip(keys, row, strict=True))
