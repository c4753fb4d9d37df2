"""Label commands: `triage taxonomy`, `label`, `adjudicate`, `labels` (list, export, import); and, from
:mod:`triage.cli.label_history`, `history`, `undo`, `redo`, `conflicts`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

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
from triage.cli.registry import app
from triage.config import reviewer_name
from triage.display import count

if TYPE_CHECKING:  # annotations only: the modules load when a command runs (a fast `triage --help`)
    from triage.db.sqlite import Database
    from triage.labels import EffectiveLabel
    from triage.models import Label
    from triage.taxonomy import Taxonomy

TaxonomyOption = Annotated[
    Path | None,
    typer.Option(
        "--taxonomy",
        help="Taxonomy file (default: $TRIAGE_TAXONOMY or the packaged taxonomy.yaml).",
        show_default=False,
    ),
]
NoteOption = Annotated[
    str | None,
    typer.Option(
        "--note",
        "-n",
        "--rationale",
        help="Why: the evidence for this label (required except for 'real').",
        show_default=False,
    ),
]
ClusterOption = Annotated[
    str | None, typer.Option("--cluster", "-c", help="Act on a whole cluster (a cluster decision).", show_default=False)
]


def _taxonomy(path: Path | None) -> Taxonomy:
    from triage.taxonomy import TaxonomyError, load_taxonomy

    try:
        return load_taxonomy(path)
    except TaxonomyError as exc:
        fail(str(exc), code=2)


def _category(taxonomy: Taxonomy, given: str) -> str:
    """A category id, also accepting the category's TUI hotkey."""
    if given in taxonomy:
        return given
    by_key = taxonomy.by_hotkey(given)
    return by_key.id if by_key is not None else given


def label_failed(exc: Exception) -> NoReturn:
    from triage.labels import NothingToUndo

    fail(str(exc), code=1 if isinstance(exc, NothingToUndo) else 2)


def describe(label: EffectiveLabel | None) -> str:
    if label is None:
        return "unlabelled"
    notes = []
    if label.source == "cluster":
        notes.append(f"cluster {label.cluster_id}")
    elif label.source == "adjudication":
        notes.append("adjudicated")
    if not label.confirmed:
        notes.append("inherited, unconfirmed")
    if label.conflict:
        notes.append("reviewers disagree")
    effect = label.effect.value if label.effect else "?"
    return f"{label.category} ({effect}; {', '.join(notes) or 'run label'}; by {label.reviewer})"


# --- taxonomy ------------------------------------------------------------------------------------------


@app.command("taxonomy")
def taxonomy_cmd(taxonomy: TaxonomyOption = None, json: JsonOption = False) -> None:
    """Print the taxonomy's categories with their effects and hotkeys."""
    tax = _taxonomy(taxonomy)
    if json:
        print_json(tax.to_dict())
        return
    out_console.print(
        Text.assemble(
            (tax.name, "bold"), f" version {tax.version}  ({tax.path or 'packaged'}, sha256 {tax.hash[:12]})"
        ),
        highlight=False,
    )
    table = Table(show_edge=False, pad_edge=False)
    for column in ("key", "category", "effect", "title", "detectors"):
        table.add_column(column, overflow="fold")
    for category in tax:
        table.add_row(
            category.hotkey or "",
            category.id,
            category.effect.value,
            category.title,
            ", ".join(category.detectors),
        )
    out_console.print(table)
    needed = ", ".join(e.value for e in tax.rationale_required_for) or "none"
    out_console.print(f"A rationale (--note) is required for: {needed}", highlight=False)


# --- label / adjudicate --------------------------------------------------------------------------------


@app.command("label")
def label_cmd(
    target: Annotated[
        str | None, typer.Argument(metavar="RUN", help="Run id (omit with --cluster).", show_default=False)
    ] = None,
    category: Annotated[
        str | None, typer.Argument(metavar="CATEGORY", help="Category id or its hotkey.", show_default=False)
    ] = None,
    cluster: ClusterOption = None,
    note: NoteOption = None,
    evidence: Annotated[
        int | None, typer.Option("--evidence", help="Index of the message that shows it.", show_default=False)
    ] = None,
    excerpt: Annotated[str | None, typer.Option("--excerpt", help="The telling excerpt.", show_default=False)] = None,
    taxonomy: TaxonomyOption = None,
    reviewer: ReviewerOption = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Label a run (`triage label RUN CATEGORY --note ...`) or a whole cluster (`triage label --cluster ID CATEGORY`).

    A cluster decision labels every current member in one step; a run label overrides it for that run.
    """
    from triage.labels import LabelError, UnknownCategory, add_label, label_cluster, label_of

    if cluster is not None and category is None:
        target, category = None, target
    if category is None:
        fail("give RUN and CATEGORY, or --cluster ID and CATEGORY (see `triage taxonomy`)", code=2)
    if cluster is not None and target is not None:
        fail("give either a RUN or --cluster, not both", code=2)
    if cluster is not None and (evidence is not None or excerpt):
        fail("--evidence and --excerpt belong to one run's label, not to a cluster decision", code=2)
    tax = _taxonomy(taxonomy)
    category = _category(tax, category)
    who = reviewer_name(reviewer)
    workspace = open_workspace(db, create=False)
    try:
        if cluster is not None:
            label = label_cluster(workspace, cluster, category, reviewer=who, rationale=note, taxonomy=tax)
        else:
            assert target is not None
            label = add_label(
                workspace, target, category, reviewer=who, rationale=note, evidence_index=evidence,
                evidence_excerpt=excerpt, taxonomy=tax,
            )  # fmt: skip
    except (LabelError, UnknownCategory) as exc:
        label_failed(exc)
    if cluster is not None:
        _report_cluster(workspace, label, who, json)
        return
    now = label_of(workspace, label.run_id or "")
    if json:
        print_json({"label": label.model_dump(mode="json"), "effective": now.to_dict() if now else None})
        return
    out_console.print(
        f"Labelled run {label.run_id or ''} as {category} ({label.effect}) by {who}",
        highlight=False,
    )
    if now is not None and now.uid != label.uid:
        err_console.print(f"note: the run counts as {describe(now)}", highlight=False)
        if now.conflict:
            err_console.print("note: reviewers disagree on this run; see `triage conflicts`", highlight=False)


def _report_cluster(workspace: Database, label: Label, who: str, json: bool) -> None:
    from triage.labels import effective_labels

    members = [r for (r,) in workspace.execute("SELECT run_id FROM label_members WHERE label_uid = ?", [label.uid])]
    mine = effective_labels(workspace, reviewer=who)
    overridden = sorted(r for r in members if r in mine and mine[r].source == "run")
    if json:
        print_json({"label": label.model_dump(mode="json"), "members": members, "kept_run_labels": overridden})
        return
    out_console.print(
        f"Labelled cluster {label.cluster_id or ''} ({count(len(members), 'run')}) as {label.category or ''} "
        f"({label.effect}) by {who}",
        highlight=False,
    )
    if overridden:
        err_console.print(
            f"note: {len(overridden)} of them keep your own run labels: {', '.join(overridden[:10])}"
            + (" ..." if len(overridden) > 10 else ""),
            highlight=False,
        )


@app.command("adjudicate")
def adjudicate_cmd(
    run: Annotated[str, typer.Argument(metavar="RUN", help="Run id.")],
    category: Annotated[str, typer.Argument(metavar="CATEGORY", help="Category id or its hotkey.")],
    note: NoteOption = None,
    taxonomy: TaxonomyOption = None,
    reviewer: ReviewerOption = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Settle a disagreement: the adjudicated category wins over every reviewer's label (needs --note)."""
    from triage.labels import LabelError, UnknownCategory, adjudicate

    tax = _taxonomy(taxonomy)
    who = reviewer_name(reviewer)
    workspace = open_workspace(db, create=False)
    try:
        label = adjudicate(workspace, run, _category(tax, category), reviewer=who, rationale=note, taxonomy=tax)
    except (LabelError, UnknownCategory) as exc:
        label_failed(exc)
    if json:
        print_json(label.model_dump(mode="json"))
    else:
        out_console.print(f"Adjudicated run {run} as {label.category or ''} ({label.effect})", highlight=False)


# --- labels (list / export / import) -------------------------------------------------------------------

labels_app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    help="List effective labels (without a subcommand), or share them: `labels export FILE`, `labels import FILE`.",
)
app.add_typer(labels_app, name="labels")


@labels_app.callback()
def labels_cmd(
    ctx: typer.Context,
    reviewer: Annotated[
        str | None,
        typer.Option("--reviewer", help="Only this reviewer's own view (no adjudications).", show_default=False),
    ] = None,
    effect: Annotated[
        str | None, typer.Option("--effect", help="Only labels with this effect.", show_default=False)
    ] = None,
    category: Annotated[str | None, typer.Option("--category", help="Only this category.", show_default=False)] = None,
    unconfirmed: Annotated[
        bool, typer.Option("--unconfirmed", help="Only runs that inherited a cluster decision unconfirmed.")
    ] = False,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """List every labelled run's effective label (see docs/labels.md for the rule)."""
    from triage.labels import effective_labels
    from triage.models import Effect

    ctx.obj = {"db": db if _from_command_line(ctx, "db") else None}
    if ctx.invoked_subcommand is not None:
        return
    if effect is not None and effect not in {e.value for e in Effect}:
        fail(f"unknown effect {effect!r}; expected one of {', '.join(e.value for e in Effect)}", code=2)
    workspace = open_workspace(db, create=False)
    labels = effective_labels(workspace, reviewer=reviewer)
    rows = [
        labels[run_id]
        for run_id in sorted(labels)
        if (effect is None or labels[run_id].effect == effect)
        and (category is None or labels[run_id].category == category)
        and (not unconfirmed or not labels[run_id].confirmed)
    ]
    if json:
        print_json([label.to_dict() for label in rows])
        return
    if not rows:
        err_console.print("no labels match" if labels else "no labels yet (`triage label RUN CATEGORY --note ...`)")
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("run", "category", "effect", "source", "reviewer", "status", "rationale"):
        # Ids and categories wrap rather than lose characters on a narrow terminal; only notes are cut.
        table.add_column(column, overflow="ellipsis" if column == "rationale" else "fold")
    for label in rows:
        status = []
        if not label.confirmed:
            status.append("inherited, unconfirmed")
        if label.conflict:
            status.append("conflict")
        source = f"cluster {label.cluster_id}" if label.source == "cluster" else label.source
        table.add_row(
            label.run_id, label.category, label.effect.value if label.effect else "",
            source, label.reviewer, ", ".join(status) or "ok", (label.rationale or "")[:60],
        )  # fmt: skip
    out_console.print(table)
    counts: dict[str, int] = {}
    for label in rows:
        key = label.effect.value if label.effect else "?"
        counts[key] = counts.get(key, 0) + 1
    err_console.print(
        f"{len(rows)} labelled runs: " + ", ".join(f"{n} {e}" for e, n in sorted(counts.items())), highlight=False
    )


def _from_command_line(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return getattr(source, "name", None) == "COMMANDLINE"


def _db_from(ctx: typer.Context, db: Path | None) -> Path | None:
    """`triage labels --db X export F` and `triage labels export F --db X` both work (over $TRIAGE_DB)."""
    parent = (ctx.obj or {}).get("db")
    if parent is not None and not _from_command_line(ctx, "db"):
        return parent
    return db


@labels_app.command("export")
def export_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE.jsonl", help="Where to write the labels.")],
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", help="Only this reviewer's rows (default: all).", show_default=False)
    ] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Write the label history as JSONL for another workspace to import."""
    from triage.labels import export_labels

    workspace = open_workspace(_db_from(ctx, db), create=False)
    try:
        count = export_labels(workspace, file, reviewer=reviewer)
    except OSError as exc:
        fail(f"{file}: cannot write ({exc.strerror})", code=1)
    if json:
        print_json({"file": str(file), "rows": count})
    else:
        out_console.print(f"Exported {count} label rows to {str(file)}", highlight=False)


@labels_app.command("import")
def import_cmd(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE.jsonl...", help="Labels exported by `triage labels export`.")
    ],
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Merge labels exported elsewhere (idempotent: rows already present are skipped) and report conflicts."""
    from triage.labels import LabelError, import_labels

    workspace = open_workspace(_db_from(ctx, db), create=False)
    reports: list[dict[str, Any]] = []
    failed = False
    for file in files:  # one bad file does not stop the others; each file is all-or-nothing
        try:
            reports.append(import_labels(workspace, file).to_dict())
        except LabelError as exc:
            failed = True
            reports.append({"path": str(file), "error": str(exc)})
            if not json:
                err_console.print(Text.assemble(("error:", "bold red"), " ", str(exc)), highlight=False)
    if json:
        print_json(reports if len(reports) != 1 else reports[0])
    else:
        for report in reports:
            if "error" not in report:
                _print_import(report)
    if failed:
        raise typer.Exit(2)


def _print_import(report: dict[str, Any]) -> None:
    out_console.print(
        f"{report['path']}: {report['added']} rows added, {report['already_present']} already present"
        + (f", {len(report['mismatched'])} uids differ (kept as they were)" if report["mismatched"] else "")
        + (f", {count(report['unknown_runs'], 'run')} not in this workspace" if report["unknown_runs"] else ""),
        highlight=False,
    )
    for source, local in report["clusters_remapped"].items():
        out_console.print(f"  cluster {source} is {local} here", highlight=False)
    if report["conflicts"]:
        out_console.print(f"  {count(len(report['conflicts']), 'run')} in conflict (resolve with `triage adjudicate`):")
        for conflict in report["conflicts"][:20]:
            who = ", ".join(f"{lab['reviewer']}: {lab['category']}" for lab in conflict["labels"])
            out_console.print(f"    {conflict['run_id']}  {who}", highlight=False)


# history, undo, redo and conflicts live in their own module; importing it registers them on `app`.
from triage.cli import label_history  # noqa: E402, F401
