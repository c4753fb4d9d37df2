"""Per-sample scores of each estimate, written as the JSON Lines file Inspect's ``precomputed_scores()`` reads.

One file per imported Inspect log and estimate (``<log name>.<estimate>.jsonl``), one record per sample
epoch the estimate scores: ``id`` (the sample id), ``epoch``, ``value`` (``C`` or ``I``), ``explanation``
(the label that moved it, if any) and ``metadata``. Runs an estimate leaves out (invalid runs, spurious
ones in *excluded*, runs with no known outcome) get no record, so Inspect leaves them unscored and its
metrics are over the same runs as triage's. Scoring the log with these records::

    inspect score LOG --scorer precomputed_scores -S scores=OUT/LOG.strict.jsonl

gives, with Inspect's default mean-over-epochs then accuracy, triage's equal-task-weight estimate for that
log (a log is one task family, so this is also its ``invsqrt`` estimate). No ``inspect_ai`` needed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

from triage.db.sqlite import Database
from triage.files import atomic_write
from triage.labels import effective_labels
from triage.scoring import ESTIMATES, ScoreOptions, apply_estimate

EXTENSION = ".jsonl"


def log_outcomes(db: Database, source_id: int, estimate: str, *, tradeoff: str = "fail") -> list[dict]:
    """The runs of one source with the outcome ``estimate`` gives them (``include`` False: left out)."""
    rows = db.execute(
        "SELECT id, sample_id, epoch, success FROM runs WHERE source_id = ? ORDER BY id", [source_id]
    ).fetchall()
    labels = effective_labels(db)
    effects, categories = [], []
    for run_id, *_ in rows:
        label = labels.get(run_id)
        effect = label.effect.value if label is not None and label.effect is not None else ""
        effects.append(effect)
        categories.append(label.category if effect else "")
    success = np.array([-1 if r[3] is None else int(r[3]) for r in rows], dtype=np.int8)
    outcome = apply_estimate(success, np.array(effects, dtype=object), estimate, tradeoff=tradeoff, known=success >= 0)
    return [
        {"run_id": r[0], "sample_id": r[1], "epoch": r[2], "success": int(success[i]), "y": int(outcome.y[i]),
         "include": bool(outcome.include[i]), "effect": effects[i], "category": categories[i]}
        for i, r in enumerate(rows)
    ]  # fmt: skip


def _record(row: dict, estimate: str) -> dict[str, Any]:
    if row["effect"] and row["y"] != row["success"]:
        counted = "success" if row["y"] else "failure"
        why = f"triage {estimate}: labelled {row['category']} ({row['effect']}), counted as {counted}"
    elif row["effect"]:
        why = f"triage {estimate}: labelled {row['category']} ({row['effect']}), as scored"
    else:
        why = f"triage {estimate}: unlabelled, as scored"
    return {
        "id": row["sample_id"],
        "epoch": row["epoch"],
        "value": "C" if row["y"] == 1 else "I",
        "explanation": why,
        "metadata": {"triage_estimate": estimate, "run_id": row["run_id"], "category": row["category"] or None},
    }


def export_inspect_scores(db: Database, out_dir: str | Path, *, estimates: tuple[str, ...] = ESTIMATES,
                          tradeoff: str | None = None) -> list[Path]:  # fmt: skip
    """Write one precomputed-scores file per Inspect log and estimate into ``out_dir``; returns the paths.

    ``tradeoff`` left None comes from the workspace setting (as ``triage score``), else 'fail'.
    """
    tradeoff = ScoreOptions(tradeoff=tradeoff).from_workspace(db).policy
    bad = [e for e in estimates if e not in ESTIMATES]
    if bad:
        raise ValueError(f"unknown estimate(s) {bad}; expected some of {', '.join(ESTIMATES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sources = db.execute(
        "SELECT id, path FROM sources WHERE format = 'inspect' AND status = 'ok' AND n_runs > 0 ORDER BY path"
    ).fetchall()
    written = []
    used: set[str] = set()
    for source_id, path in sources:
        stem = Path(path).stem
        if stem in used:  # two logs of one name in different folders: keep both files
            stem = f"{stem}-{source_id}"
        used.add(stem)
        for estimate in estimates:
            rows = log_outcomes(db, source_id, estimate, tradeoff=tradeoff)
            target = out / f"{stem}.{estimate}{EXTENSION}"
            body = b"".join(orjson.dumps(_record(r, estimate)) + b"\n" for r in rows if r["include"])
            atomic_write(target, lambda tmp, body=body: tmp.write_bytes(body))
            written.append(target)
    return written
