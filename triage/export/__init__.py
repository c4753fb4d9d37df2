"""Exports: the report (Markdown and self-contained HTML), labels JSONL, runs CSV and scores JSON.

:func:`export` writes the requested files into a directory (default ``exports/``) and returns their
paths. Every file is written to a temporary name and renamed, so a failed export never leaves a
half-written file behind.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from triage.db.sqlite import Database
from triage.display import csv_cell
from triage.files import atomic_write
from triage.labels import effective_labels, export_labels
from triage.scoring import ScoreOptions

FORMATS = {
    "md": "report.md",
    "html": "report.html",
    "jsonl": "labels.jsonl",
    "csv": "runs.csv",
    "json": "scores.json",
}
RUN_FIELDS = [
    "id", "source", "task_id", "family", "human_minutes", "sample_id", "epoch", "agent", "model", "score",
    "success", "status", "error_type", "limit_type", "exit_status", "cluster_id", "signature",
    "label_category", "label_effect", "label_source", "label_reviewer", "label_confirmed", "label_conflict",
    "label_rationale",
]  # fmt: skip


def write_runs_csv(db: Database, path: Path) -> int:
    """One row per run with its effective label and effect; returns the number of rows."""
    labels = effective_labels(db)
    rows = db.execute(
        "SELECT r.id, s.path, r.task_id, t.family, t.human_minutes, r.sample_id, r.epoch, r.agent, r.model, "
        "r.score, r.success, r.status, r.error_type, r.limit_type, r.exit_status, m.cluster_id, g.signature "
        "FROM runs r LEFT JOIN sources s ON s.id = r.source_id LEFT JOIN tasks t ON t.id = r.task_id "
        "LEFT JOIN cluster_members m ON m.run_id = r.id LEFT JOIN signatures g ON g.run_id = r.id ORDER BY r.id"
    )
    count = 0

    def write(tmp: Path) -> None:
        nonlocal count
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(RUN_FIELDS)
            for row in rows:
                lab = labels.get(row[0])
                extra = (
                    [lab.category, lab.effect.value if lab.effect else None, lab.source, lab.reviewer,
                     lab.confirmed, lab.conflict, lab.rationale]
                    if lab else [None] * 7
                )  # fmt: skip
                out.writerow([csv_cell(v) for v in (*row, *extra)])
                count += 1

    atomic_write(path, write)
    return count


def write_json(value: Any, path: Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str)))


def export(
    db: Database,
    out_dir: str | Path = "exports",
    formats: Iterable[str] = tuple(FORMATS),
    *,
    options: ScoreOptions | None = None,
    taxonomy: str | Path | None = None,
    checklist: str | Path | None = None,
) -> dict[str, Path]:
    """Write the requested exports into ``out_dir``; returns ``{format: path}``.

    ``options``: the report's scoring options (default: :data:`triage.export.data.REPORT_OPTIONS`).
    """
    formats = list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {', '.join(unknown)}; expected {', '.join(FORMATS)} or all")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    data = None
    if {"md", "html", "json"} & set(formats):
        from triage.export.data import REPORT_OPTIONS, report_data

        data = report_data(
            db, options=options or REPORT_OPTIONS, taxonomy=taxonomy, checklist=checklist
        )  # fmt: skip
    for fmt in formats:
        path = out / FORMATS[fmt]
        if fmt == "json":
            write_json(data["scores"], path)  # type: ignore[index]
        elif fmt == "csv":
            write_runs_csv(db, path)
        elif fmt == "jsonl":
            atomic_write(path, lambda tmp: export_labels(db, tmp))
        elif fmt == "md":
            from triage.export.report import render_markdown

            text = render_markdown(data)  # type: ignore[arg-type]
            atomic_write(path, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"))
        elif fmt == "html":
            from triage.export.report import render_html

            text = render_html(data, db)  # type: ignore[arg-type]
            atomic_write(path, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"))
        written[fmt] = path
    return written
