"""Search and groups: `triage search QUERY` over every transcript, `triage group ...` to settle what it found.

A search can become a group (`--group NAME`), and any group (a search group, a cause group
``cause:<cause>`` of the cluster tree, or a leaf cluster) is labelled in one decision with
`triage group label NAME CATEGORY --note ...`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

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
from triage.cli.labels import NoteOption, TaxonomyOption, _category, _report_cluster, _taxonomy, label_failed
from triage.cli.progress import progress_bars
from triage.cli.registry import app
from triage.config import reviewer_name
from triage.display import count

group_app = typer.Typer(
    help="Groups of runs settled by one decision: search groups, and the cluster tree's cause groups.",
    no_args_is_help=True,
)
app.add_typer(group_app, name="group")


def _snippet(text: str) -> Text:
    """The snippet shown literally, matched words in bold (markers come from FTS5, never from the data)."""
    from triage.search import MARK_END, MARK_START

    out = Text()
    bold = False
    for part in text.replace(MARK_END, MARK_START).split(MARK_START):
        out.append(part.replace("\n", " "), style="bold yellow" if bold else None)
        bold = not bold
    return out


@app.command("search")
def search_command(
    query: Annotated[
        str, typer.Argument(metavar="QUERY", help='Words (all must occur), "a phrase", OR, NOT, prefix*.')
    ],
    failed: Annotated[bool, typer.Option("--failed", help="Only failed runs.")] = False,
    task: Annotated[str | None, typer.Option("--task", help="Only runs of this task.", show_default=False)] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only runs of this agent.", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="Show at most N runs (0: only count).")] = 20,
    group: Annotated[
        str | None,
        typer.Option(
            "--group",
            "-g",
            help="Make every matching run (not just those shown) the search group NAME; "
            "label it with `triage group label NAME CATEGORY`.",
            show_default=False,
        ),
    ] = None,
    reviewer: ReviewerOption = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Search the text of every run's transcript (SQLite FTS5), best matches first.

    The index is brought up to date first (only runs imported since the last search are read).
    Exit code 1 when nothing matches.
    """
    from triage.clustering import ClusterError, make_search_group
    from triage.search import SearchError, search, update_index

    workspace = open_workspace(db, create=False)
    try:
        # The first search of a large workspace indexes every transcript: show it (later ones are quick).
        with progress_bars(err_console.is_terminal and not json) as bars:
            update_index(workspace, progress=bars.counter("Indexing transcripts"))
        if group is not None:
            made = make_search_group(workspace, group, query, reviewer=reviewer_name(reviewer), failed=failed,
                                     task=task, agent=agent)  # fmt: skip
        result = search(workspace, query, failed=failed, task=task, agent=agent, limit=limit, update=False)
    except (SearchError, ClusterError) as exc:
        fail(str(exc), code=2)
    finally:
        workspace.conn.close()
    if json:
        doc = result.to_dict()
        if group is not None:
            doc["group"] = made
        print_json(doc)
    else:
        if result.fts_query != query:
            err_console.print(Text(f"note: searched as words: {result.fts_query}"), highlight=False)
        table = Table(
            title=f"{count(result.total, 'run')} match" if result.total != 1 else "1 run matches", title_justify="left"
        )
        for name in ("run", "task", "agent", "status", "match"):
            table.add_column(name, overflow="fold")
        for hit in result.hits:
            table.add_row(
                Text(hit.run_id), Text(hit.task or ""), Text(hit.agent or ""), Text(hit.status), _snippet(hit.snippet)
            )
        out_console.print(table)
        if result.total > len(result.hits) and result.hits:
            err_console.print(f"note: {len(result.hits)} of {result.total} shown (--limit)", highlight=False)
        if group is not None:
            out_console.print(Text(
                f"Group {made['id']}: {count(made['size'], 'run')} ({made['added']} new). Settle them all with "
                f"`triage group label {made['name']} CATEGORY --note ...`."
            ))  # fmt: skip
    if result.total == 0:
        raise typer.Exit(1)


def resolve_node(workspace, name: str) -> str:
    """The tree node NAME refers to: ``cause:X`` / ``search:X`` as given, else a search group of that
    name, else a cause group, else a cluster id."""
    from triage.clustering import CAUSE, SEARCH

    if name.startswith((CAUSE, SEARCH)):
        return name
    if workspace.execute("SELECT 1 FROM run_groups WHERE id = ?", [SEARCH + name]).fetchone():
        return SEARCH + name
    if workspace.execute("SELECT 1 FROM clusters WHERE cause = ? AND size > 0", [name]).fetchone():
        return CAUSE + name
    if workspace.execute("SELECT 1 FROM clusters WHERE id = ?", [name]).fetchone():
        return name
    fail(f"no group, cause or cluster called {name!r} (`triage group list`, `triage tree`)", code=2)


@group_app.command("label")
def group_label(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Search group name, cause:CAUSE, or a cluster id.")],
    category: Annotated[str, typer.Argument(metavar="CATEGORY", help="Category id or its hotkey.")],
    note: NoteOption = None,
    taxonomy: TaxonomyOption = None,
    reviewer: ReviewerOption = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Label every member of a group in one decision (a cluster decision over the group's members now).

    Your own run labels still override it for their runs; `triage undo --cluster ID` reverts it.
    """
    from triage.clustering import label_node
    from triage.labels import LabelError
    from triage.taxonomy import UnknownCategory

    tax = _taxonomy(taxonomy)
    category = _category(tax, category)
    who = reviewer_name(reviewer)
    workspace = open_workspace(db, create=False)
    node = resolve_node(workspace, name)
    try:
        label = label_node(workspace, node, category, reviewer=who, rationale=note, taxonomy=tax)
    except (LabelError, UnknownCategory) as exc:
        label_failed(exc)
    _report_cluster(workspace, label, who, json)


@group_app.command("list")
def group_list(db: DbOption = None, json: JsonOption = False) -> None:
    """Search groups, largest first: name, runs, failures among them, query."""
    from triage.clustering import search_groups

    workspace = open_workspace(db, create=False)
    groups = search_groups(workspace)
    workspace.conn.close()
    if json:
        print_json(groups)
        return
    if not groups:
        out_console.print("No search groups yet: `triage search QUERY --group NAME` makes one.", highlight=False)
        return
    table = Table(title=f"{len(groups)} search groups", title_justify="left")
    for name, justify in (("name", "left"), ("runs", "right"), ("failures", "right"), ("query", "left")):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for g in groups:
        table.add_row(Text(g["name"]), str(g["size"]), str(g["failures"]), Text(g["query"] or ""))
    out_console.print(table)


@group_app.command("show")
def group_show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Search group name, cause:CAUSE, or a cluster id.")],
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """The run ids in a group."""
    from triage.clustering import group_members

    workspace = open_workspace(db, create=False)
    node = resolve_node(workspace, name)
    members = group_members(workspace, node)
    workspace.conn.close()
    if json:
        print_json({"id": node, "members": members})
        return
    out_console.print(Text(f"{node}: {count(len(members), 'run')}"))
    for run_id in members:
        out_console.print(Text(run_id))


@group_app.command("delete")
def group_delete(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Search group name.")],
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Forget a search group (decisions made on it stay in the label history and keep applying)."""
    from triage.clustering import ClusterError, delete_search_group

    workspace = open_workspace(db, create=False)
    try:
        size = delete_search_group(workspace, name)
    except ClusterError as exc:
        fail(str(exc), code=2)
    if json:
        print_json({"deleted": name, "size": size})
        return
    out_console.print(Text(f"Deleted group {name} ({count(size, 'run')})."))
