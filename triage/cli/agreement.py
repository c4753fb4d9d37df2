"""`triage agreement`: reviewer agreement (Cohen's kappa per pair, Krippendorff's alpha across all)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from triage.cli.common import DbOption, JsonOption, open_workspace, out_console, print_json
from triage.cli.registry import app


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@app.command()
def agreement(
    level: Annotated[
        str, typer.Option("--level", help="Compare label effects (what moves the score) or categories.")
    ] = "effect",
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Reviewer agreement on runs labelled by several reviewers: kappa per pair, alpha across all."""
    from triage.agreement import agreement as compute_agreement

    if level not in ("effect", "category"):
        raise typer.BadParameter("expected 'effect' or 'category'", param_hint="--level")
    result = compute_agreement(open_workspace(db, create=False), level=level)  # type: ignore[arg-type]
    if json:
        print_json(result.to_dict())
        return
    out_console.print(
        Text.assemble(
            ("Agreement", "bold"),
            f" by {level}: {len(result.reviewers)} reviewers, {result.n_runs} runs labelled by "
            f"two or more; Krippendorff's alpha {_fmt(result.alpha)}",
        ),
        highlight=False,
    )
    if result.pairs:
        table = Table("reviewer A", "reviewer B", "common runs", "agreed", "observed", "Cohen's kappa")
        for p in result.pairs:
            table.add_row(*p.reviewers, str(p.n_runs), str(p.agreed), _fmt(p.observed), _fmt(p.kappa))
        out_console.print(table)
    if result.disagreements:
        table = Table("run", *result.reviewers, title="disagreements", title_justify="left")
        for d in result.disagreements:
            table.add_row(d["run_id"], *(d["values"].get(r, "") for r in result.reviewers))
        out_console.print(table)
