"""`triage audit` and `triage signoff`: the protocol checklist, computed and signed off."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from triage.cli.common import DbOption, JsonOption, ReviewerOption, fail, open_workspace, out_console, print_json
from triage.cli.registry import app
from triage.config import reviewer_name
from triage.display import literal

ChecklistOption = Annotated[
    Path | None, typer.Option("--checklist", help="A team's own checklist.yaml (default: the packaged one).")
]
STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "todo": "cyan"}


@app.command()
def audit(db: DbOption = None, checklist: ChecklistOption = None, json: JsonOption = False) -> None:
    """Run the protocol checklist: pass / warn / fail / todo per item with its evidence (exit 1 on a fail)."""
    from triage.audit import ChecklistError, load_checklist, run_audit

    try:
        spec = load_checklist(checklist)
    except ChecklistError as exc:
        fail(str(exc), code=2)
    results = run_audit(open_workspace(db, create=False), spec)
    failed = any(r.verdict == "fail" for r in results)
    if json:
        print_json({"checklist": spec.name, "checklist_hash": spec.hash, "items": [r.to_dict() for r in results]})
    else:
        table = Table("item", "verdict", "evidence", title=f"Protocol audit ({spec.name})", title_justify="left")
        for r in results:
            table.add_row(literal(r.id), literal(r.verdict.upper(), style=STYLE[r.verdict]), literal(r.summary))
        out_console.print(table)
        counts = {v: sum(r.verdict == v for r in results) for v in STYLE}
        out_console.print(", ".join(f"{n} {v}" for v, n in counts.items()), highlight=False)
    if failed:
        raise typer.Exit(1)


@app.command()
def signoff(
    item: Annotated[str, typer.Argument(help="Checklist item id (see `triage audit`).")],
    note: Annotated[str, typer.Option("--note", help="What was checked and how (required).")],
    db: DbOption = None,
    checklist: ChecklistOption = None,
    reviewer: ReviewerOption = None,
    json: JsonOption = False,
) -> None:
    """Record a manual sign-off of a checklist item, with a note (append-only)."""
    from triage.audit import ChecklistError
    from triage.audit import signoff as record_signoff

    workspace = open_workspace(db, create=False)
    try:
        row = record_signoff(workspace, item, reviewer=reviewer_name(reviewer), note=note, checklist=checklist)
    except ChecklistError as exc:
        fail(str(exc), code=2)
    if json:
        print_json(row)
    else:
        out_console.print(f"Signed off {row['item']} as {row['reviewer']}.", highlight=False)
