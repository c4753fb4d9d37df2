"""Label history commands: `triage history`, `undo`, `redo`, `conflicts` (registered by triage.cli.labels)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from triage.cli.common import (
    DbOption,
    JsonOption,
    ReviewerOption,
    err_console,
    fail,
    open_workspace,
    out_console,
    print_json,
)
from triage.cli.labels import ClusterOption, describe, label_failed
from triage.cli.registry import app
from triage.config import reviewer_name
from triage.display import count

# --- history / undo / redo / conflicts -----------------------------------------------------------------


@app.command("history")
def history_cmd(
    run: Annotated[str, typer.Argument(metavar="RUN", help="Run id.")],
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Show a run's full label history (including cluster decisions that applied to it), oldest first."""
    from triage.labels import history, label_of
    from triage.labels.store import inactive_uids

    workspace = open_workspace(db, create=False)
    rows = history(workspace, run)
    known = workspace.execute("SELECT 1 FROM runs WHERE id = ?", [run]).fetchone() is not None
    if not rows and not known:
        fail(f"unknown run {run!r} (`triage runs` lists the run ids)", code=2)
    inactive = inactive_uids((r.uid, r.undoes) for r in rows if r.action == "undo" and r.undoes)
    current = label_of(workspace, run)
    if json:
        print_json(
            {
                "run_id": run,
                "effective": current.to_dict() if current else None,
                "history": [{**r.model_dump(mode="json"), "active": r.uid not in inactive} for r in rows],
            }
        )
        return
    if not rows:
        out_console.print(f"run {run} has no labels", highlight=False)
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("time", "reviewer", "action", "category", "effect", "on", "state", "rationale"):
        table.add_column(column, overflow="ellipsis" if column == "rationale" else "fold", no_wrap=column == "time")
    by_uid = {r.uid: r for r in rows}
    for r in rows:
        action = r.action
        if r.action == "undo":  # name what it reverts; an undo of an undo is a redo of the original
            target, verb = by_uid.get(r.undoes or ""), "undo"
            while target is not None and target.action == "undo":
                target, verb = by_uid.get(target.undoes or ""), ("redo" if verb == "undo" else "undo")
            action = f"{verb} {target.action} {target.category or ''}".strip() if target else "undo"
        table.add_row(
            r.created_at[:19].replace("T", " "), r.reviewer, action, r.category or "-",
            r.effect.value if r.effect else "", f"cluster {r.cluster_id}" if r.cluster_id else "run",
            "undone" if r.uid in inactive else "active", (r.rationale or "")[:50],
        )  # fmt: skip
    out_console.print(table)
    out_console.print(f"now: {describe(current)}", highlight=False)


def _undo_redo(run: str | None, cluster: str | None, reviewer: str | None, note: str | None, db: Path | None,
               json: bool, *, do_redo: bool) -> None:  # fmt: skip
    from triage.labels import LabelError, label_of, redo, undo

    if (run is None) == (cluster is None):
        fail("give a RUN or --cluster ID", code=2)
    who = reviewer_name(reviewer)
    workspace = open_workspace(db, create=False)
    try:
        fn = redo if do_redo else undo
        row = fn(workspace, run_id=run, cluster_id=cluster, reviewer=who, rationale=note)
    except LabelError as exc:
        label_failed(exc)
    undone = workspace.execute("SELECT action, category, undoes FROM labels WHERE uid = ?", [row.undoes]).fetchone()
    while undone is not None and undone[0] == "undo":  # a redo: name what it brings back
        undone = workspace.execute("SELECT action, category, undoes FROM labels WHERE uid = ?", [undone[2]]).fetchone()
    current = label_of(workspace, run) if run is not None else None
    if json:
        print_json({"row": row.model_dump(mode="json"), "effective": current.to_dict() if current else None})
        return
    verb = "Redid" if do_redo else "Undid"
    what = f"{undone[0]} {undone[1] or ''}".strip() if undone else "change"
    where = f"run {run}" if run is not None else f"cluster {cluster}"
    back = row.category or "no label of that kind"
    out_console.print(f"{verb} {what} on {where} by {who}; now: {back}", highlight=False)
    if current is not None or run is not None:
        out_console.print(f"run counts as: {describe(current)}", highlight=False)


@app.command("undo")
def undo_cmd(
    run: Annotated[
        str | None, typer.Argument(metavar="RUN", help="Run id (or use --cluster).", show_default=False)
    ] = None,
    cluster: ClusterOption = None,
    note: Annotated[str | None, typer.Option("--note", "-n", help="Why (optional).", show_default=False)] = None,
    reviewer: ReviewerOption = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Undo your latest change on a run (or cluster) by appending an undo row; repeat to step further back."""
    _undo_redo(run, cluster, reviewer, note, db, json, do_redo=False)


@app.command("redo")
def redo_cmd(
    run: Annotated[
        str | None, typer.Argument(metavar="RUN", help="Run id (or use --cluster).", show_default=False)
    ] = None,
    cluster: ClusterOption = None,
    note: Annotated[str | None, typer.Option("--note", "-n", help="Why (optional).", show_default=False)] = None,
    reviewer: ReviewerOption = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Re-apply your latest undo on a run (or cluster): an undo of the undo row."""
    _undo_redo(run, cluster, reviewer, note, db, json, do_redo=True)


@app.command("conflicts")
def conflicts_cmd(db: DbOption = None, json: JsonOption = False) -> None:
    """List runs whose reviewers disagree (resolve each with `triage adjudicate RUN CATEGORY --note`)."""
    from triage.labels import conflicts

    workspace = open_workspace(db, create=False)
    found = conflicts(workspace)
    if json:
        print_json([c.to_dict() for c in found])
        return
    if not found:
        out_console.print("no conflicts")
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("run", "labels", "scores", "counted as"):
        table.add_column(column, overflow="fold")
    for conflict in found:
        who = "; ".join(
            f"{lab.reviewer}: {lab.category}" + ("" if lab.confirmed else " (unconfirmed)") for lab in conflict.labels
        )
        table.add_row(
            conflict.run_id, who, "same effect" if conflict.same_effect else "effects differ",
            f"{conflict.effective.category} (latest)",
        )  # fmt: skip
    out_console.print(table)
    err_console.print(f"{count(len(found), 'run')} in conflict", highlight=False)
