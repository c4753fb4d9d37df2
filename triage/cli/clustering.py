"""Clustering commands: `triage cluster`, `triage clusters`, `triage tree`, and the reviewer edits `merge`,
`split`, `move`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

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
    table_console,
)
from triage.cli.progress import progress_bars
from triage.cli.registry import app
from triage.config import reviewer_name
from triage.display import count, literal

# Progress bar titles of the clustering stages.
STAGES = {"analyze": "Analysing", "index": "Indexing transcripts", "cluster": "Clustering"}


@app.command("cluster")
def cluster_command(
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            "-t",
            min=0,
            max=100,
            help="Similarity (0-100) at which signatures join a cluster; stored as the workspace setting (default 85).",
            show_default=False,
        ),
    ] = None,
    scorer: Annotated[
        str | None,
        typer.Option(
            "--scorer",
            help="rapidfuzz scorer, stored as the setting (default ratio; an unknown name lists the known ones).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """(Re-)cluster failures by fuzzy similarity of their signatures.

    Analyses new or re-imported runs first, keeps cluster ids whose exemplar survives, and replays reviewers' merges, splits and moves.
    """  # noqa: E501 (typer keeps the docstring's line breaks in --help)
    from triage.clustering import SCORERS, ClusterError
    from triage.clustering import cluster as run_clustering

    if scorer is not None and scorer not in SCORERS:
        fail(f"unknown scorer {scorer!r}; known scorers: {', '.join(SCORERS)}", code=2)
    workspace = open_workspace(db, create=False)
    try:
        with progress_bars(err_console.is_terminal and not json) as bars:
            update = bars.stages(STAGES)
            summary = run_clustering(workspace, threshold, update, scorer=scorer)
    except ClusterError as exc:
        fail(str(exc), code=2)
    finally:
        workspace.conn.close()
    if json:
        print_json(summary)
        return
    edits = summary["edits"]
    skipped = f", {len(edits['skipped'])} no longer apply" if edits["skipped"] else ""
    out_console.print(
        f"{count(summary['failures'], 'failure')} ({summary['signatures']} distinct causes and details) → "
        f"{count(summary['causes'], 'cause group')}, {count(summary['clusters'], 'cluster')} "
        f"at threshold {summary['threshold']:g} "
        f"({summary['scorer']}); {summary['kept_ids']} ids kept, "
        f"{summary['new_clusters']} new; {edits['applied']} reviewer edits replayed{skipped}.",
        highlight=False,
        markup=False,
    )
    errors = (summary.get("analysis") or {}).get("errors") or []
    for error in errors:
        err_console.print(literal(f"warning: {error['run_id']}: {error['error']}", style="yellow"))


def _top(counts: dict[str, int], n: int = 3) -> str:
    items = list(counts.items())
    text = ", ".join(f"{k} ×{v}" for k, v in items[:n])
    if len(items) > n:
        text += f" (+{len(items) - n} more)"
    return text


def _unclustered(workspace) -> int:
    row = workspace.execute(
        "SELECT count(*) FROM runs r LEFT JOIN cluster_members m ON m.run_id = r.id "
        "WHERE r.status != 'success' AND m.run_id IS NULL"
    ).fetchone()
    return int(row[0] or 0)


@app.command("clusters")
def clusters_command(
    members: Annotated[bool, typer.Option("--members", help="Also list the run ids in each cluster.")] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Show the N largest clusters.", show_default=False)
    ] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """List clusters, largest first: id, size, share of failures, signature, detectors, tasks, agents, exemplar."""
    from triage.clustering import list_clusters

    workspace = open_workspace(db, create=False)
    items = list_clusters(workspace, members=members, limit=limit)
    pending = _unclustered(workspace)
    workspace.conn.close()
    if pending:
        err_console.print(
            f"note: {count(pending, 'failure')} {'is' if pending == 1 else 'are'} not in any cluster yet; "
            "run `triage cluster`.",
            highlight=False,
        )
    if json:
        print_json(items)
        return
    if not items:
        out_console.print("No clusters yet: run `triage cluster`.", highlight=False)
        return
    console = table_console(200)
    table = Table(title=count(len(items), "cluster"), title_justify="left")
    for name, justify in (
        ("id", "left"),
        ("size", "right"),
        ("share", "right"),
        ("signature", "left"),
        ("detectors", "left"),
        ("tasks", "left"),
        ("agents", "left"),
        ("exemplar", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for item in items:
        table.add_row(
            item["id"], str(item["size"]), f"{item['share']:.1%}", literal(item["signature"]),
            literal(_top(item["detectors"])), literal(f"{len(item['tasks'])}: {_top(item['tasks'], 2)}"),
            literal(_top(item["agents"], 2)), literal(item["exemplar_run_id"] or ""),
        )  # fmt: skip
        if members:
            table.add_row("", "", "", literal("members: " + " ".join(item["members"]), style="dim"), "", "", "", "")
    console.print(table)


@app.command("tree")
def tree_command(
    leaves: Annotated[
        bool, typer.Option("--leaves/--no-leaves", help="Show the leaves under each cause group.")
    ] = True,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Show at most N leaves per group.", show_default=False)
    ] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """The cluster tree: cause groups (largest first) with their leaves, then search groups.

    Each node: runs, share of all failures, how many are settled (have a label), the decision made on the
    node itself and the members' most common label. Label a node with `triage group label ID CATEGORY`.
    """
    from triage.clustering import next_undecided, tree

    workspace = open_workspace(db, create=False)
    nodes = tree(workspace)
    workspace.conn.close()
    nxt = next_undecided(nodes)
    if json:
        print_json({"nodes": [n.to_dict() for n in nodes], "next_undecided": nxt.id if nxt else None})
        return
    if not nodes:
        out_console.print("No clusters yet: run `triage cluster`.", highlight=False)
        return
    console = table_console(200)
    table = Table(title=f"{sum(n.kind == 'cause' for n in nodes)} cause groups", title_justify="left")
    for name, justify in (
        ("node", "left"),
        ("runs", "right"),
        ("share", "right"),
        ("settled", "right"),
        ("decision", "left"),
        ("label", "left"),
        ("id", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    shown: dict[str, int] = {}
    for node in nodes:
        if node.kind == "leaf":
            shown[node.parent or ""] = shown.get(node.parent or "", 0) + 1
            if not leaves or (limit is not None and shown[node.parent or ""] > limit):
                continue
        name = literal("  └ " if node.kind == "leaf" else ("⌕ " if node.kind == "search" else ""))
        name.append(literal(node.name, style="bold" if node.kind != "leaf" else ""))
        table.add_row(
            name, str(node.size), f"{node.share:.1%}", f"{node.settled}/{node.size}", literal(node.decision or ""),
            literal(node.label or ""), literal(node.id, style="dim"),
        )  # fmt: skip
    console.print(table)
    if nxt is not None:
        err_console.print(
            literal(f"next undecided: {nxt.id} ({count(nxt.undecided, 'run')} unsettled)"), highlight=False
        )


def _edit(action: Callable[[], dict[str, Any]], json: bool, describe: Callable[[dict[str, Any]], str]) -> None:
    from triage.clustering import ClusterError

    try:
        result = action()
    except ClusterError as exc:
        fail(str(exc), code=2)
    if json:
        print_json(result)
    else:
        out_console.print(literal(describe(result)))


@app.command()
def merge(
    cluster_ids: Annotated[
        list[str], typer.Argument(metavar="ID ID...", help="Clusters to merge; the first one keeps its id.")
    ],
    reviewer: ReviewerOption = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Merge clusters into the first one named. Recorded, and replayed after every `triage cluster`."""
    from triage.clustering import merge as merge_clusters

    workspace = open_workspace(db, create=False)
    who = reviewer_name(reviewer)
    _edit(
        lambda: merge_clusters(workspace, cluster_ids, who),
        json,
        lambda r: f"Merged {', '.join(r['merged'])} into {r['into']} ({count(r['size'], 'run')}).",
    )


@app.command()
def split(
    cluster_id: Annotated[str, typer.Argument(metavar="ID", help="Cluster to split.")],
    run_ids: Annotated[list[str], typer.Argument(metavar="RUN...", help="Runs that leave it for a new cluster.")],
    reviewer: ReviewerOption = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Split runs off a cluster into a new cluster. Recorded, and replayed after every `triage cluster`."""
    from triage.clustering import split as split_cluster

    workspace = open_workspace(db, create=False)
    who = reviewer_name(reviewer)
    _edit(
        lambda: split_cluster(workspace, cluster_id, run_ids, who),
        json,
        lambda r: f"Split {count(len(r['moved']), 'run')} off {r['cluster_id']} into new cluster {r['new_id']}.",
    )


@app.command()
def move(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run to move.")],
    cluster_id: Annotated[str, typer.Argument(metavar="CLUSTER", help="Cluster it belongs in.")],
    reviewer: ReviewerOption = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Move a run into another cluster. Recorded, and replayed after every `triage cluster`."""
    from triage.clustering import move as move_run

    workspace = open_workspace(db, create=False)
    who = reviewer_name(reviewer)
    _edit(
        lambda: move_run(workspace, run_id, cluster_id, who),
        json,
        lambda r: f"Moved {r['run_id']} from {r['from']} to {r['to']}.",
    )
