"""Workspace commands: `triage init`, `triage info`, `triage demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from triage.cli.common import (
    DbOption,
    JsonOption,
    ReviewerOption,
    db_path,
    err_console,
    fail,
    is_tty,
    open_connection,
    open_workspace,
    out_console,
    print_json,
    report_broken_loaders,
)
from triage.cli.registry import app

DEMO_DB = Path("runs") / "demo.db"


@app.command()
def init(db: DbOption = None, json: JsonOption = False) -> None:
    """Create (or upgrade) a workspace database and print where it is."""
    from triage.workspace import summary

    path = db_path(db)
    existed = path.exists()
    workspace = open_workspace(db)
    info = {"db": str(path.resolve()), "created": not existed, "schema_version": summary(workspace)["schema_version"]}
    if json:
        print_json(info)
    else:
        verb = "Created" if info["created"] else "Workspace ready at"
        out_console.print(f"{verb} {info['db']} (schema version {info['schema_version']})", highlight=False)


def print_summary(info: dict, path: Path) -> None:
    """Human-readable workspace summary (used by `info` and `demo` without a terminal)."""
    out_console.print(Text.assemble(("Workspace", "bold"), " ", str(path)), highlight=False)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("sources", f"{info['sources']} ({info['sources_failed']} failed)"),
        ("tasks", info["tasks"]),
        ("runs", info["runs"]),
        ("failures", info["failures"]),
        ("signatures", info["signatures"]),
        ("clusters", info["clusters"]),
        ("labelled runs", info["labelled_runs"]),
        ("label rows", info["label_rows"]),
        ("suggestions", info["suggestions"]),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    out_console.print(table)
    if info["agents"]:
        agents = Table(title="runs per agent", title_justify="left")
        agents.add_column("agent")
        agents.add_column("runs", justify="right")
        agents.add_column("failures", justify="right")
        for name, counts in info["agents"].items():
            agents.add_row(name, str(counts["runs"]), str(counts["failures"]))
        out_console.print(agents)


@app.command()
def info(db: DbOption = None, json: JsonOption = False) -> None:
    """What the workspace holds: sources, runs, failures, clusters, labels."""
    from triage.workspace import summary

    path = db_path(db)
    data = summary(open_connection(db, create=False))
    # Format loaders that failed to load (a broken plug-in): listed, and said on stderr.
    data["loaders_failed"] = report_broken_loaders(plugins_only=True)
    if json:
        print_json({"db": str(path.resolve()), **data})
    else:
        print_summary(data, path)


@app.command()
def demo(
    db: Annotated[
        Path,
        typer.Option(
            "--db",
            help="Where to build the demo workspace (never $TRIAGE_DB: the demo must not replace real work).",
        ),
    ] = DEMO_DB,
    fresh: Annotated[
        bool, typer.Option("--fresh/--keep", help="Rebuild the demo workspace from scratch, or keep and update it.")
    ] = True,
    no_tui: Annotated[bool, typer.Option("--no-tui", help="Print the summary instead of opening the TUI.")] = False,
    reviewer: ReviewerOption = None,
    json: JsonOption = False,
) -> None:
    """Build a workspace from the packaged demo dataset and open the TUI (prints a summary without a terminal).

    The dataset (three agents, ten tasks, 180 runs with many kinds of failure) ships inside the package,
    so this works on a fresh machine with no other input. The workspace is analysed and clustered, ready
    to label.
    """
    from triage.db import WorkspaceError
    from triage.demo import build_demo
    from triage.workspace import summary

    interactive = err_console.is_terminal and not json
    try:
        if interactive:
            with err_console.status("Building the demo workspace…") as status:
                report = build_demo(db, fresh=fresh, progress=lambda msg: status.update(f"Demo: {msg}…"))
        else:
            report = build_demo(db, fresh=fresh)
    except WorkspaceError as exc:
        fail(str(exc), code=2)
    errors = report["import"]["errors"]
    for error in errors:
        err_console.print(Text.assemble(("error:", "bold red"), " ", error["error"]), highlight=False)
    workspace = open_workspace(db)
    data = summary(workspace)
    workspace.conn.close()
    if json:
        print_json({"db": str(db.resolve()), **data, "build": report})
    elif is_tty() and not no_tui:
        from triage.tui import run_tui

        run_tui(db, reviewer=reviewer)
    else:
        print_summary(data, db)
        out_console.print(Text.assemble("\nExplore it: ", (f"triage tui --db {db}", "bold")), highlight=False)
    if errors:
        raise typer.Exit(1)
