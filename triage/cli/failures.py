"""Failure commands: `triage analyze` (signatures and detector evidence) and `triage show RUN`."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table

from triage.cli.common import DbOption, JsonOption, err_console, fail, open_workspace, out_console, print_json
from triage.cli.progress import progress_bars
from triage.cli.registry import app
from triage.display import count, literal

MESSAGE_CHARS = 2000  # per message in `show` unless --full
ARGUMENT_CHARS = 600


@app.command()
def analyze(
    all_runs: Annotated[
        bool, typer.Option("--all", help="Re-analyse every run, not only new or re-imported ones.")
    ] = False,
    run: Annotated[
        list[str] | None,
        typer.Option("--run", help="Analyse only this run (repeatable).", show_default=False),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-j",
            min=1,
            show_default=False,
            help="Analysis processes (default: the usable cores for a large analysis; 1 analyses in this process). "
            "The result is the same.",
        ),
    ] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Explain failures: a normalised signature for every failed run and detector evidence for every run.

    Only runs that are new or re-imported since the last analysis are analysed unless --all or --run is given. Detector proposals are hints stored apart from labels. Exit code 1 if some run could not be analysed (it still gets a plain signature).
    """  # noqa: E501 (typer keeps the docstring's line breaks in --help)
    from triage.failures import analyze as analyze_runs

    workspace = open_workspace(db, create=False)
    if run:
        known = {r[0] for r in workspace.execute(
            f"SELECT id FROM runs WHERE id IN ({', '.join('?' for _ in run)})", run
        )}  # fmt: skip
        missing = [r for r in run if r not in known]
        if missing:
            fail(f"no such run: {', '.join(missing)}", code=2)
    with progress_bars(err_console.is_terminal and not json) as bars:
        summary = analyze_runs(
            workspace, run_ids=run or None, progress=bars.counter("Analysing"), force=all_runs, workers=workers
        )
    workspace.conn.close()
    if json:
        print_json(summary)
    else:
        kinds = ", ".join(f"{n} {k}" for k, n in summary["signatures"].items()) or "none"
        causes = ", ".join(f"{n} {c}" for c, n in summary["causes"].items()) or "none"
        found = ", ".join(f"{d} {n}" for d, n in summary["detections"].items()) or "none"
        out_console.print(
            f"Analysed {count(summary['analyzed'], 'run')} ({count(summary['failures'], 'failure')}, "
            f"{count(summary['successes'], 'success', 'successes')}) "
            f"in {summary['seconds']:.1f}s.\nSignatures: {kinds}.\nCauses: {causes}.\nDetections: {found}.",
            highlight=False,
            markup=False,
        )
    for note in summary.get("notes", ()):
        err_console.print(literal(f"note: {note}", style="yellow"))
    for error in summary["errors"]:
        err_console.print(literal(f"warning: {error['run_id']}: {error['error']}", style="yellow"))
    if summary["errors"]:
        raise typer.Exit(1)


def _suggest(workspace, run_id: str) -> str:
    from rapidfuzz import process

    ids = [r[0] for r in workspace.execute("SELECT id FROM runs")]
    close = process.extract(run_id, ids, limit=3, score_cutoff=60)
    return f"; did you mean: {', '.join(c[0] for c in close)}" if close else ""


def _clip(text: str, limit: int | None) -> str:
    """Shortened (unless ``limit`` is None) and safe to print: transcripts are data, and ANSI or control
    sequences in them must not drive the reviewer's terminal."""
    from triage.ansi import strip_ansi

    text = strip_ansi(text)
    if limit is None or len(text) <= limit:
        return text
    return text[:limit] + f"\n… [{len(text) - limit} more characters; --full shows all]"


def _header(row: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    fields = [
        ("task", row.get("task_id")), ("agent", row.get("agent")), ("model", row.get("model")),
        ("status", row.get("status")), ("score", row.get("score")), ("success", row.get("success")),
        ("error", row.get("error_type") and f"{row['error_type']}: {row.get('error') or ''}" or row.get("error")),
        ("limit", row.get("limit_type") and f"{row['limit_type']} ({row.get('limit_value')})"),
        ("exit status", row.get("exit_status")), ("sample", row.get("sample_id")), ("epoch", row.get("epoch")),
        ("source", row.get("source_path")), ("messages", row.get("n_messages")),
    ]  # fmt: skip
    for name, value in fields:
        if value is not None and value != "":
            # literal(), never markup: transcripts and errors are data and may contain [brackets].
            table.add_row(name, literal(_clip(str(value), 500)))
    return table


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _detections_table(detections: list[dict[str, Any]]) -> Table:
    """Strongest first (the order run_detail gives). Contrast: how often the same finding occurs among the
    failed and the successful runs it was compared with (— when there were too few successes)."""
    table = Table(
        title="Detector evidence, strongest first (proposals, not labels)", title_justify="left",
        caption="fail / success: share of failed and of successful runs of this agent (same task, else family, "
        "else all) showing it; — with fewer than 3 successes to compare", caption_justify="left",
    )  # fmt: skip
    table.add_column("detector", style="bold")
    table.add_column("cause")
    table.add_column("strength", justify="right")
    table.add_column("fail / success", justify="right")
    table.add_column("proposes")
    table.add_column("msg", justify="right")
    table.add_column("excerpt")
    for d in detections:
        index = "" if d["message_index"] is None else str(d["message_index"])
        strength = "—" if d.get("strength") is None else f"{d['strength']:.2f}"
        contrast = f"{_rate(d.get('fail_rate'))} / {_rate(d.get('success_rate'))}"
        cause = (d.get("detail") or {}).get("cause") or ""
        proposed = d["category"] or "—"
        withdrawn = (d.get("detail") or {}).get("proposed")
        if d["category"] is None and withdrawn:
            proposed = f"— (withdrawn: {withdrawn})"
        table.add_row(
            literal(d["detector"]), literal(cause), strength, contrast, literal(proposed), index,
            literal(_clip(d["excerpt"] or "", None)),
        )  # fmt: skip
    return table


_ROLE_STYLE = {"system": "magenta", "user": "green", "assistant": "cyan", "tool": "yellow"}


def _message_block(index: int, message, marks: list[str], limit: int | None) -> Group:
    from triage.failures.context import arguments_text

    title = literal(f"[{index}] {message.role}", style=f"bold {_ROLE_STYLE.get(message.role, '')}")
    if message.function and message.role == "tool":
        title.append(f" ← {message.function}", style="dim")
    if marks:
        title.append("  ◀ " + ", ".join(marks), style="bold red")
    parts: list[Any] = [Rule(title, align="left", style="dim")]
    if message.content:
        parts.append(literal(_clip(message.content, limit)))
    for call in message.tool_calls:
        args = arguments_text(call.arguments)
        shown = _clip(args, None if limit is None else ARGUMENT_CHARS)
        parts.append(literal(f"→ {call.function}: {shown}", style="cyan"))
    if message.error:
        parts.append(literal(f"tool error: {_clip(message.error, limit)}", style="red"))
    return Group(*parts)


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id (see `triage runs`).", show_default=False)],
    full: Annotated[bool, typer.Option("--full", help="Do not shorten long messages.")] = False,
    transcript: Annotated[
        bool, typer.Option("--transcript/--no-transcript", help="Print the transcript after the evidence.")
    ] = True,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Print one run: its record, failure signature, cluster, detector evidence and transcript.

    Message numbers ([i]) are the indices the signature and detectors cite; cited messages are marked.
    """
    from triage.views import run_detail

    workspace = open_workspace(db, create=False)
    detail = run_detail(workspace, run_id)
    if detail is None:
        fail(f"no such run: {run_id}{_suggest(workspace, run_id)}", code=2)
    workspace.conn.close()
    if json:
        print_json(detail.to_dict())
        return
    row, signature, detections = detail.run, detail.signature, detail.detections
    membership, messages = detail.cluster, detail.messages
    console: Console = out_console
    console.print(literal(run_id, style="bold underline"))
    console.print(_header(row))
    if signature:
        where = "run record" if signature["message_index"] is None else f"message {signature['message_index']}"
        cause = literal("cause: ", style="bold")
        cause.append_text(literal(signature.get("cause") or "unknown", style="bold red"))
        if signature.get("detail"):
            cause.append_text(literal(" · " + _clip(signature["detail"], None)))
        if signature.get("outcome_cause") and signature["outcome_cause"] != signature.get("cause"):
            cause.append_text(literal(f" (outcome alone: {signature['outcome_cause']})", style="dim"))
        body = Group(
            cause,
            literal(_clip(signature["signature"], None), style="bold"),
            literal(f"kind: {signature['kind']} · evidence: {where}", style="dim"),
            literal(_clip(signature["raw"] or "", None if full else 600)),
        )
        console.print(Panel(body, title="Why it failed", title_align="left"))
    elif row["status"] == "success":
        console.print(
            literal("Succeeded: no failure signature (detectors that check successes still ran).", style="dim")
        )
    else:
        console.print(literal("Not analysed yet: run `triage analyze`.", style="yellow"))
    if membership:
        console.print(
            literal(
                f"Cluster {membership['cluster_id']} ({count(membership['size'], 'run')}, similarity "
                f"{membership['similarity']:.0f}, exemplar {membership['exemplar_run_id']}, "
                f"joined {membership['joined_at']})"
            )
        )
    if detections:
        console.print(_detections_table(detections))
    if not transcript:
        return
    if not messages:
        console.print(literal("No transcript recorded for this run.", style="dim"))
        return
    marks: dict[int, list[str]] = defaultdict(list)
    if signature and signature["message_index"] is not None:
        marks[signature["message_index"]].append("signature")
    for d in detections:
        if d["message_index"] is not None:
            marks[d["message_index"]].append(d["detector"])
    limit = None if full else MESSAGE_CHARS
    for index, message in enumerate(messages):
        console.print(_message_block(index, message, marks.get(index, []), limit))
