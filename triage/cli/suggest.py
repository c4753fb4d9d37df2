"""LLM suggestion commands: `triage suggest`, `triage suggestions` (list), `... agreement`, `... accept`."""

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
from triage.cli.progress import progress_bars
from triage.cli.registry import app
from triage.config import SUGGEST_MIN_PROMPT_TOKENS as MIN_PROMPT_TOKENS
from triage.config import reviewer_name

suggestions_app = typer.Typer(
    name="suggestions",
    help="List stored LLM suggestions; `agreement` compares them with human labels; `accept` adopts one.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(suggestions_app, name="suggestions", rich_help_panel=None)


@app.command("suggest")
def suggest_command(
    model: Annotated[str, typer.Option("--model", help="Model name as the server knows it.", show_default=False)],
    cluster: Annotated[
        list[str] | None, typer.Option("--cluster", help="Cluster id to ask about (repeatable).", show_default=False)
    ] = None,
    run: Annotated[
        list[str] | None, typer.Option("--run", help="Run id to ask about (repeatable).", show_default=False)
    ] = None,
    untriaged: Annotated[
        bool, typer.Option("--untriaged", help="Every cluster (and unclustered failed run) not yet labelled.")
    ] = False,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            envvar="OPENAI_BASE_URL",
            help="OpenAI-compatible API root, e.g. http://127.0.0.1:8080/v1 (default: OpenAI).",
            show_default=False,
        ),
    ] = None,
    api_key_env: Annotated[
        str,
        typer.Option("--api-key-env", help="Environment variable holding the API key (never stored or printed)."),
    ] = "OPENAI_API_KEY",
    max_requests: Annotated[
        int | None, typer.Option("--max-requests", min=0, help="Ask at most N questions; skip the rest.")
    ] = None,
    token_budget: Annotated[
        int | None,
        typer.Option("--token-budget", min=1, help="Stop before prompt+reply tokens of this call exceed N."),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Requests in flight.")] = 4,
    prompt_tokens: Annotated[
        int | None,
        typer.Option(
            "--prompt-tokens",
            min=MIN_PROMPT_TOKENS,
            help="Token budget of one prompt (default: workspace setting suggest.prompt_tokens, else 3000).",
            show_default=False,
        ),
    ] = None,
    max_reply_tokens: Annotated[
        int, typer.Option("--max-reply-tokens", min=50, help="Cap on the tokens of one reply.")
    ] = 400,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Ask again where a stored suggestion failed (replaces it).")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for one reply.")] = 120.0,
    max_retries: Annotated[
        int, typer.Option("--max-retries", min=0, help="Retries (with backoff) on 429, 5xx, timeouts.")
    ] = 3,
    skip_model_check: Annotated[
        bool, typer.Option("--skip-model-check", help="Do not require the model in the server's model list.")
    ] = False,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Ask an LLM for a category per cluster or run and store it as a suggestion, never as a label.

    Works with OpenAI and any OpenAI-compatible server (vLLM, llama.cpp, Ollama). Answers are cached per
    target, taxonomy, model and prompt version: asking again makes no request. Exit codes: 0 done,
    1 the server failed or some targets got no answer, 2 bad usage (unknown model or target, no key).
    """
    from triage.suggest import (
        PromptBudgetError,
        SuggestClientError,
        TargetError,
        select_targets,
        suggest,
    )

    if not (cluster or run or untriaged):
        fail("choose what to ask about: --cluster ID, --run ID or --untriaged", code=2)
    workspace = open_workspace(db, create=False)
    try:
        targets = select_targets(workspace, clusters=cluster, runs=run, untriaged=untriaged)
    except TargetError as exc:
        fail(str(exc), code=2)
    if not targets:
        if json:
            print_json({"targets": 0, "requested": 0})
        else:
            err_console.print("Nothing to ask about: every cluster and failed run has a label.")
        return

    try:
        with progress_bars(err_console.is_terminal) as bars:
            report = suggest(
                workspace,
                targets,
                model=model,
                base_url=base_url,
                api_key_env=api_key_env,
                max_requests=max_requests,
                token_budget=token_budget,
                concurrency=concurrency,
                progress=bars.counter("Suggesting"),
                prompt_tokens=prompt_tokens,
                max_reply_tokens=max_reply_tokens,
                retry_failed=retry_failed,
                timeout=timeout,
                max_retries=max_retries,
                check_model=not skip_model_check,
            )
    except SuggestClientError as exc:
        fail(f"{exc} (nothing was written)", code=exc.code)
    except (PromptBudgetError, ValueError) as exc:
        fail(str(exc), code=2)

    if json:
        print_json(report.to_dict())
    else:
        _print_report(report)
    if report.aborted or report.errors:
        if not json:
            err_console.print(
                Text.assemble(
                    ("error:", "bold red"),
                    f" {report.errors} target(s) got no answer"
                    + (f"; stopped: {report.aborted}" if report.aborted else ""),
                ),
                highlight=False,
            )
        raise typer.Exit(1)


def _print_report(report) -> None:
    out_console.print(
        Text.assemble(
            (report.model, "bold"),
            f" at {report.base_url_host or '(no request made)'}: "
            f"{report.targets} target(s), {report.requested} request(s), "
            f"{report.stored_ok} suggestion(s) stored, {report.stored_failed} failed, "
            f"{report.cached + report.cached_failed} cached",
        ),
        highlight=False,
    )
    if report.skipped:
        why = []
        if report.skipped_max_requests:
            why.append(f"{report.skipped_max_requests} by --max-requests")
        if report.skipped_token_budget:
            why.append(f"{report.skipped_token_budget} by --token-budget")
        if report.skipped_aborted:
            why.append(f"{report.skipped_aborted} after the server failed")
        out_console.print(f"skipped {report.skipped}: {', '.join(why)}", highlight=False)
    if report.requested:
        out_console.print(
            f"tokens: {report.prompt_tokens} prompt + {report.completion_tokens} completion "
            f"(reply format: {report.format_mode})",
            highlight=False,
        )
    rows = [o for o in report.outcomes if o["status"] in ("ok", "failed", "error")]
    if rows:
        table = Table(show_edge=False)
        for column in ("target", "status", "category", "confidence", "id / error"):
            table.add_column(column)
        for o in rows:
            confidence = f"{o['confidence']:.2f}" if o.get("confidence") is not None else ""
            detail = str(o.get("suggestion_id") or "") if o["status"] == "ok" else (o.get("error") or "")[:80]
            table.add_row(f"{o['kind']} {o['id']}", o["status"], o.get("category") or "", confidence, detail)
        out_console.print(table)


@suggestions_app.callback()
def suggestions_list(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option("--model", help="Only this model's suggestions.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only 'ok' or 'failed' suggestions.")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", help="Only suggestions for this cluster.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Only suggestions for this run.")] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """List stored LLM suggestions (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    from triage.suggest import list_suggestions

    if status is not None and status not in ("ok", "failed"):
        fail(f"--status must be 'ok' or 'failed', not {status!r}", code=2)
    workspace = open_workspace(db, create=False)
    rows = list_suggestions(workspace, model=model, status=status, run_id=run, cluster_id=cluster)
    if json:
        print_json(rows)
        return
    if not rows:
        out_console.print("No suggestions stored (see `triage suggest --help`).")
        return
    table = Table(show_edge=False)
    for column in ("id", "target", "model", "status", "category", "conf.", "rationale / error", "created"):
        table.add_column(column, overflow="fold")
    for row in rows:
        target = f"cluster {row['cluster_id']}" if row["cluster_id"] is not None else f"run {row['run_id']}"
        confidence = f"{row['confidence']:.2f}" if row["confidence"] is not None else ""
        text = row["rationale"] if row["status"] == "ok" else row["error"]
        table.add_row(
            str(row["id"]),
            target,
            row["model"],
            row["status"],
            row["category"] or "",
            confidence,
            (text or "")[:120],
            row["created_at"][:19],
        )
    out_console.print(table)


@suggestions_app.command("agreement")
def suggestions_agreement(
    model: Annotated[str | None, typer.Option("--model", help="Only this model's suggestions.")] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Suggestions vs human effective labels: accuracy and Cohen's kappa, overall and per category."""
    from triage.suggest.agreement import agreement

    workspace = open_workspace(db, create=False)
    result = agreement(workspace, model)
    if json:
        print_json(result)
        return
    if not result["models"]:
        out_console.print("No suggestions stored (see `triage suggest --help`).")
        return

    def num(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}"

    for entry in result["models"]:
        out_console.print(
            Text.assemble(
                (entry["model"], "bold"),
                f": {entry['pairs']} compared, accuracy {num(entry['accuracy'])}, "
                f"kappa {num(entry['kappa'])} ({entry['unlabelled']} without a human label, "
                f"{entry['failed']} failed suggestions)",
            ),
            highlight=False,
        )
        if entry["per_category"]:
            table = Table(show_edge=False)
            for column in ("category", "human", "suggested", "agree", "recall", "precision", "kappa"):
                table.add_column(column, justify="left" if column == "category" else "right")
            for c in entry["per_category"]:
                table.add_row(
                    c["category"],
                    str(c["human"]),
                    str(c["suggested"]),
                    str(c["agree"]),
                    num(c["recall"]),
                    num(c["precision"]),
                    num(c["kappa"]),
                )
            out_console.print(table)


@suggestions_app.command("accept")
def suggestions_accept(
    suggestion_id: Annotated[int, typer.Argument(help="Id of the suggestion (see `triage suggestions`).")],
    reviewer: ReviewerOption = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Adopt a suggestion: record a human label (yours) that references it."""
    from triage.suggest import SuggestionError, accept_suggestion

    workspace = open_workspace(db, create=False)
    try:
        label = accept_suggestion(workspace, suggestion_id, reviewer_name(reviewer))
    except SuggestionError as exc:
        fail(str(exc), code=2)
    except (KeyError, ValueError) as exc:  # e.g. the category left the taxonomy
        fail(str(exc), code=2)
    data = label.model_dump() if hasattr(label, "model_dump") else dict(label)
    if json:
        print_json(data)
    else:
        target = f"cluster {data.get('cluster_id')}" if data.get("cluster_id") else f"run {data.get('run_id')}"
        out_console.print(f"Labelled {target} as {data.get('category')} (from suggestion {suggestion_id}).")
