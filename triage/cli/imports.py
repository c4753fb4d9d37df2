"""Import commands: `triage import`, `triage validate`, `triage runs`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from triage.cli.common import (
    DbOption,
    JsonOption,
    err_console,
    fail,
    open_workspace,
    out_console,
    print_json,
    report_broken_loaders,
    table_console,
)
from triage.cli.progress import progress_bars
from triage.cli.registry import app
from triage.display import count

if TYPE_CHECKING:  # annotations only: triage.ingest loads when a command runs (a fast `triage --help`)
    from triage.ingest import ImportSummary

PathsArg = Annotated[
    list[Path],
    typer.Argument(help="Files or directories (searched recursively) of agent transcripts.", show_default=False),
]
FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format", "-f",
        help="Read every file as this format instead of sniffing it (see `triage import --help` for names).",
        show_default=False,
    ),
]  # fmt: skip

WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers", "-j", min=1,
        help="Parser processes (default: the usable cores; 1 reads in this process). The result is the same.",
        show_default=False,
    ),
]  # fmt: skip


def _check_format(fmt: str | None) -> None:
    from triage.importers import loaders

    broken = report_broken_loaders()  # first: it explains why the files only they read fail below
    if fmt is not None and fmt in broken:
        fail(f"--format {fmt}: that loader failed to load ({broken[fmt]})", code=1)
    if fmt is not None and fmt not in loaders():
        fail(f"unknown format {fmt!r}; known formats: {', '.join(loaders())}", code=2)


def _parse_map(pairs: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        field, sep, name = pair.partition("=")
        if not sep or not field.strip() or not name.strip():
            fail(f"--map expects FIELD=NAME (e.g. success=reward), got {pair!r}", code=2)
        mapping[field.strip()] = name.strip()
    return mapping


def _print_errors(summary: ImportSummary) -> None:
    for error in summary.errors:
        # soft_wrap: one line per error, whatever the width, so piped errors stay greppable.
        err_console.print(Text.assemble(("error:", "bold red"), " ", error["error"]), highlight=False, soft_wrap=True)


def _summary_line(summary: ImportSummary, verb: str) -> str:
    unchanged = sum(1 for r in summary.results if r.status == "unchanged")
    parts = [f"{count(summary.files, 'file')} read"]
    if unchanged:
        parts.append(f"{unchanged} unchanged")
    if verb == "import":
        parts += [
            f"{count(summary.runs_added, 'run')} added",
            f"{summary.runs_replaced} replaced",
            f"{summary.runs_skipped} skipped",
        ]
        if summary.runs_removed:
            parts.append(f"{summary.runs_removed} removed")
    else:
        parts.append(count(summary.runs_added, "run"))
    if summary.tasks:
        parts.append(count(summary.tasks, "task record"))
    if summary.unclaimed:
        parts.append(f"{count(len(summary.unclaimed), 'file')} in no known format")
    if summary.companions:
        read = any(r.status != "ignored" for r in summary.results)
        parts.append(
            f"{count(len(summary.companions), 'side file')} " + ("read with their transcripts" if read else "alone")
        )
    parts.append(count(len(summary.errors), "error"))
    return ", ".join(parts)


def _print_unclaimed(summary: ImportSummary, shown: int = 3) -> None:
    """Files found in directories that no loader reads, grouped by reason, on stderr (never skipped silently)."""
    by_reason: dict[str, list[str]] = {}
    for result in summary.unclaimed:
        by_reason.setdefault(result.reason or "not a known format", []).append(result.path)
    for reason, paths in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        more = f", and {len(paths) - shown} more (--json lists every file)" if len(paths) > shown else ""
        line = f" {len(paths)} files: {reason}: {', '.join(paths[:shown])}{more}"
        err_console.print(Text.assemble(("not imported:", "yellow"), line), highlight=False, soft_wrap=True)


def _only_side_files(summary: ImportSummary, named: list[Path]) -> bool:
    """Whether the files named were all side files (a verdict file alone): said on stderr, since they give
    no runs without the transcripts they go with."""
    if summary.errors or any(r.status != "ignored" for r in summary.results):
        return False
    named_set = {str(Path(path).resolve()) for path in named}
    side = [path for path in summary.ignored if path in named_set]
    for path in side:
        err_console.print(
            Text.assemble(("error:", "bold red"), f" {path}: a side file (verdicts or other companion data), read only "
                          "beside the transcripts it goes with: on its own it gives no runs. Import the folder that "
                          "holds the transcripts, or name them and pass this file with --results."),
            highlight=False, soft_wrap=True,
        )  # fmt: skip
    return bool(side)


def _summary_json(summary: ImportSummary) -> dict[str, Any]:
    data = summary.to_dict()
    data["files_unchanged"] = sum(1 for r in summary.results if r.status == "unchanged")
    data["by_file"] = [
        {"path": r.path, "format": r.format, "status": r.status, "runs_added": r.runs_added,
         "runs_replaced": r.runs_replaced, "runs_skipped": r.runs_skipped, "runs_removed": r.runs_removed}
        for r in summary.results if r.status != "ignored"
    ]  # fmt: skip
    return data


@app.command("import")
def import_(
    paths: PathsArg,
    fmt: FormatOption = None,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="FIELD=NAME",
            help="Read triage's FIELD from the record's NAME (repeatable), e.g. --map success=reward "
            "--map messages=traj (OpenAI-chat and other record formats).",
            show_default=False,
        ),
    ] = None,
    results: Annotated[
        list[Path] | None,
        typer.Option(
            "--results",
            exists=True,
            dir_okay=False,
            help="A results file that goes with the transcripts (e.g. SWE-agent results.json); repeatable.",
            show_default=False,
        ),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option("--agent", help="Record every imported run under this agent name.", show_default=False),
    ] = None,
    workers: WorkersOption = None,
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant",
            help="Import these logs as a named variant (a re-run) of the original runs, linked run to run "
            "(docs/loop.md). Inspect logs may name it in their eval metadata (variant=NAME) instead.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Import agent transcripts (files or whole directories) into the workspace.

    Formats are recognised from each file's content (use --format to force one). Importing is
    idempotent: an unchanged file adds nothing, a changed file replaces its runs and keeps their
    labels. Each file is one transaction, so a bad file is reported (file, place, what was expected)
    and the others still import. Exit code 1 when any file failed.
    """
    from triage.importers import LoadOptions
    from triage.ingest import import_paths
    from triage.loop.variants import assign_variants

    _check_format(fmt)
    options = LoadOptions(field_map=_parse_map(map_), companions=list(results or []), agent=agent)
    workspace = open_workspace(db)
    try:
        with progress_bars(err_console.is_terminal) as bars:
            on_file, on_runs = bars.files("Importing")
            summary = import_paths(
                workspace, paths, fmt=fmt, options=options, progress=on_file, on_runs=on_runs, workers=workers
            )
        imported = [(r.path, r.status) for r in summary.results if r.status in ("ok", "unchanged")]
        variants = assign_variants(workspace, imported, variant)
    finally:
        workspace.conn.close()
    _print_unclaimed(summary)
    _print_errors(summary)
    if json:
        print_json({**_summary_json(summary), "variants": variants.to_dict()})
    else:
        out_console.print(f"Import: {_summary_line(summary, 'import')}.", highlight=False, soft_wrap=True)
        for name in sorted(set(variants.sources.values())):
            out_console.print(
                Text(
                    f"Variant {name}: {variants.runs_linked} re-runs linked to original runs, "
                    f"{variants.runs_unlinked} without an original."
                )
            )
    if _only_side_files(summary, paths):
        raise typer.Exit(1)
    if summary.errors:
        raise typer.Exit(1)


@app.command()
def validate(
    paths: PathsArg, fmt: FormatOption = None, workers: WorkersOption = None, json: JsonOption = False
) -> None:
    """Check transcript files without importing them; prints the same precise errors as `import`.

    For someone preparing logs or a task submission: every file is read exactly as an import would
    read it, nothing is written. Exit code 1 when any file has an error.
    """
    from triage.ingest import validate_paths

    _check_format(fmt)
    with progress_bars(err_console.is_terminal) as bars:
        on_file, _ = bars.files("Validating")
        summary = validate_paths(paths, fmt=fmt, progress=on_file, workers=workers)
    _print_unclaimed(summary)
    _print_errors(summary)
    if json:
        print_json(_summary_json(summary))
        if summary.errors:
            raise typer.Exit(1)
        return
    for result in summary.results:
        if result.status == "ok":
            line = Text.assemble(
                ("ok", "green"), f"     {result.path} ({result.format}, {count(result.runs_added, 'run')})"
            )
            out_console.print(line, highlight=False, soft_wrap=True)
    out_console.print(f"Validate: {_summary_line(summary, 'validate')}.", highlight=False, soft_wrap=True)
    if summary.errors:
        raise typer.Exit(1)


RUN_FIELDS = (
    "id", "source", "sample_id", "epoch", "task", "agent", "model", "score", "success", "status",
    "error", "error_type", "limit_type", "limit_value", "n_messages",
)  # fmt: skip


def query_runs(
    workspace: Any,
    *,
    failed: bool = False,
    task: str | None = None,
    agent: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Imported runs in import order, filtered like `triage runs` (task/agent accept * wildcards)."""
    where, params = [], []
    if failed:
        where.append("r.status != 'success'")
    if status:
        where.append("r.status = ?")
        params.append(status)
    if task:
        where.append("(r.task_id GLOB ? OR t.family GLOB ?)")
        params += [task, task]
    if agent:
        where.append("r.agent GLOB ?")
        params.append(agent)
    sql = (
        "SELECT r.id, s.path, r.sample_id, r.epoch, r.task_id, r.agent, r.model, r.score, r.success, r.status, "
        "r.error, r.error_type, r.limit_type, r.limit_value, r.n_messages "
        "FROM runs r LEFT JOIN sources s ON s.id = r.source_id LEFT JOIN tasks t ON t.id = r.task_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY r.rowid"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = []
    for row in workspace.execute(sql, params):
        item = dict(zip(RUN_FIELDS, row, strict=True))
        item["success"] = None if item["success"] is None else bool(item["success"])
        rows.append(item)
    return rows


def _detail(run: dict[str, Any]) -> str:
    """Why a run did not succeed, in one line."""
    if run["error"]:
        first = next((line.strip() for line in run["error"].splitlines() if line.strip()), "")
        kind = run["error_type"]
        return (first if not kind or first.startswith(kind) else f"{kind}: {first}")[:200]
    if run["limit_type"]:
        value = run["limit_value"]
        return f"{run['limit_type']} limit" + (f" ({value:g})" if value is not None else "")
    return ""


@app.command()
def runs(
    failed: Annotated[bool, typer.Option("--failed", help="Only runs that did not succeed.")] = False,
    task: Annotated[
        str | None,
        typer.Option("--task", help="Only this task id or task family (* wildcards allowed).", show_default=False),
    ] = None,
    agent: Annotated[
        str | None, typer.Option("--agent", help="Only this agent (* wildcards allowed).", show_default=False)
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Only runs with this status: success, failed, error or limit.", show_default=False
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Show at most N runs.", show_default=False)
    ] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """List imported runs (id, task, agent, status, score and why a run failed)."""
    if status is not None and status not in ("success", "failed", "error", "limit"):
        fail(f"--status must be one of success, failed, error, limit; got {status!r}", code=2)
    workspace = open_workspace(db, create=False)
    rows = query_runs(workspace, failed=failed, task=task, agent=agent, status=status, limit=limit)
    workspace.conn.close()
    if json:
        print_json(rows)
        return
    if not rows:
        out_console.print("No runs match.", highlight=False)
        return
    table = Table(box=None, pad_edge=False, header_style="bold", expand=True)
    for name, kwargs in (
        ("run", {"overflow": "fold", "ratio": 4}),
        ("task", {"overflow": "fold", "ratio": 3}),
        ("agent", {"overflow": "fold", "ratio": 1}),
        ("status", {"no_wrap": True}),
        ("score", {"justify": "right", "no_wrap": True}),
        ("why", {"overflow": "ellipsis", "no_wrap": True, "ratio": 3}),
    ):  # fmt: skip
        table.add_column(name, **kwargs)
    colours = {"success": "green", "failed": "yellow", "error": "red", "limit": "magenta"}
    for run in rows:
        score = "" if run["score"] is None else f"{run['score']:g}"
        colour = colours.get(run["status"], "white")
        table.add_row(
            run["id"], run["task"] or "", run["agent"] or "", Text(run["status"], style=colour), score, _detail(run),
        )  # fmt: skip
    # Piped output is not squeezed into 80 columns: one line per run, whatever its length.
    console = table_console(100_000)
    if not out_console.is_terminal:
        table.expand = False
        for column in table.columns:
            column.ratio, column.overflow, column.no_wrap = None, "ignore", True
    console.print(table)
    out_console.print(count(len(rows), "run"), style="dim", highlight=False)
