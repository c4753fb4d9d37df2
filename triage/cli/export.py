"""`triage export`: report.md, report.html, labels.jsonl, runs.csv, scores.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from triage.cli.common import DbOption, JsonOption, err_console, fail, open_workspace, out_console, print_json
from triage.cli.registry import app

INSPECT_SCORES = "inspect-scores"


@app.command()
def export(
    format: Annotated[
        list[str],
        typer.Option(
            "--format",
            "-f",
            help="md, html, jsonl, csv, json or all (repeatable); inspect-scores: per Inspect log and estimate, "
            "a JSONL file for Inspect's precomputed_scores() scorer (in OUT/inspect-scores/, not part of all).",
        ),
    ] = ["all"],  # noqa: B006 - typer needs a list default
    out: Annotated[Path, typer.Option("--out", help="Directory to write into.")] = Path("exports"),
    weighting: Annotated[
        str, typer.Option(help="Run weighting for the estimates: equal, invsqrt, none, buckets.")
    ] = "invsqrt",
    bootstrap: Annotated[int, typer.Option(help="Bootstrap samples for the confidence intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed (reports are reproducible).")] = 0,
    tradeoff: Annotated[str | None, typer.Option(help="Tradeoff policy: fail, success or exclude.")] = None,
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy file (default: the packaged one).")] = None,
    checklist: Annotated[Path | None, typer.Option(help="Checklist file (default: the packaged one).")] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Write the report and data files a reader without triage can check (to exports/ by default)."""
    from triage.export import FORMATS
    from triage.export import export as write_exports
    from triage.export.data import REPORT_OPTIONS
    from triage.loop.inspect_scores import export_inspect_scores

    inspect_scores = INSPECT_SCORES in format  # per-log files from triage.loop, beside the report formats
    format = [f for f in format if f != INSPECT_SCORES]
    formats = list(FORMATS) if "all" in format else format
    workspace = open_workspace(db, create=False)
    try:
        with err_console.status("writing exports…") if err_console.is_terminal else _null():
            options = REPORT_OPTIONS.replace(weighting=weighting, bootstrap=bootstrap, seed=seed, tradeoff=tradeoff)
            written = write_exports(
                workspace, out, formats, options=options, taxonomy=taxonomy, checklist=checklist
            ) if formats else {}  # fmt: skip
            if inspect_scores:
                score_files = export_inspect_scores(workspace, out / INSPECT_SCORES, tradeoff=tradeoff)
                written[INSPECT_SCORES] = out / INSPECT_SCORES
    except ValueError as exc:
        fail(str(exc), code=2)
    if json:
        print_json({fmt: str(path) for fmt, path in written.items()})
    else:
        for fmt, path in written.items():
            out_console.print(f"{fmt:5} {path}", highlight=False)
        if inspect_scores:
            out_console.print(f"{len(score_files)} precomputed-scores files (one per Inspect log and estimate)")


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
