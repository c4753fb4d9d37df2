"""`triage tui`: open the reviewer's Textual app over a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from triage.cli.common import DbOption, ReviewerOption, db_path, fail
from triage.cli.registry import app


@app.command()
def tui(
    db: DbOption = None,
    reviewer: ReviewerOption = None,
    taxonomy: Annotated[
        Path | None,
        typer.Option(
            "--taxonomy", help="Taxonomy file for labels (default: the packaged taxonomy).", show_default=False
        ),
    ] = None,
) -> None:
    """Review clusters of failures from the keyboard: label them, watch the estimates move (`?` for keys)."""
    from triage.db import WorkspaceError
    from triage.taxonomy import TaxonomyError

    path = db_path(db)
    if not path.exists():
        fail(f"{path}: no workspace here (run `triage import` first, or `triage demo`)", code=2)
    try:
        from triage.tui.app import create_app

        application = create_app(path, reviewer=reviewer, taxonomy_path=taxonomy)
    except (WorkspaceError, TaxonomyError) as exc:  # both name the file and what is wrong
        fail(str(exc), code=2)
    application.run()
