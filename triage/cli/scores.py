"""`triage score`: raw, strict, elicited and excluded estimates side by side, with intervals and horizons."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from triage.cli.common import (
    DbOption,
    JsonOption,
    err_console,
    fail,
    open_workspace,
    print_json,
    table_console,
)
from triage.cli.registry import app


class By(StrEnum):
    agent = "agent"
    family = "family"
    task = "task"


class EstimateChoice(StrEnum):
    raw = "raw"
    strict = "strict"
    elicited = "elicited"
    excluded = "excluded"
    all = "all"


class Weighting(StrEnum):
    equal = "equal"
    invsqrt = "invsqrt"
    none = "none"
    buckets = "buckets"


class Tradeoff(StrEnum):
    fail = "fail"
    success = "success"
    exclude = "exclude"


@app.command("score")
def score_command(
    db: DbOption = None,
    by: Annotated[By, typer.Option("--by", help="Group runs by agent, task family or task.")] = By.agent,
    estimate: Annotated[
        list[EstimateChoice] | None,
        typer.Option("--estimate", help="Estimate(s) to compute (repeatable; default: all).", show_default=False),
    ] = None,
    weighting: Annotated[
        Weighting,
        typer.Option(
            "--weighting",
            help="Run weights: equal task weight, invsqrt (also / sqrt(tasks in family), METR's headline), "
            "none, or difficulty buckets by human minutes.",
        ),
    ] = Weighting.invsqrt,
    horizon: Annotated[bool, typer.Option("--horizon/--no-horizon", help="Fit METR's 50%/80% time horizons.")] = True,
    bootstrap: Annotated[
        int,
        typer.Option(
            "--bootstrap", min=0, help="Hierarchical bootstrap samples for the confidence intervals (0: none)."
        ),
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap random seed (same seed, same intervals).")] = 0,
    tradeoff: Annotated[
        Tradeoff | None,
        typer.Option(
            "--tradeoff",
            help="Tradeoff failures in elicited/excluded: fail, success or exclude "
            "(default: the workspace setting tradeoff_policy, else fail).",
            show_default=False,
        ),
    ] = None,
    bucket_edges: Annotated[
        str | None,
        typer.Option(
            "--bucket-edges",
            help="Difficulty bucket edges in human minutes, comma-separated "
            "(default: the workspace setting bucket_edges, else 1,4,16,64,256,960,2880).",
            show_default=False,
        ),
    ] = None,
    ci_level: Annotated[float, typer.Option("--ci-level", min=0.5, max=0.999, help="Confidence level.")] = 0.95,
    regularization: Annotated[
        float, typer.Option("--regularization", min=1e-9, help="L2 regularisation of the horizon fit (METR: 0.1).")
    ] = 0.1,
    json: JsonOption = False,
) -> None:
    """Adjusted success rates and time horizons per agent (or family, or task), every estimate side by side.

    raw: as scored. strict: invalid runs dropped, scoring errors and cheats corrected. elicited: spurious
    failures counted as successes. excluded: spurious runs dropped. Unlabelled failures stay as scored.
    """
    from triage.scoring import ScoreOptions, ScoringError, score_workspace

    estimates = [e.value for e in estimate] if estimate else ["all"]
    edges = None
    if bucket_edges is not None:
        try:
            edges = [float(v) for v in bucket_edges.split(",") if v.strip()]
        except ValueError:
            fail(f"--bucket-edges: expected comma-separated numbers of minutes, got {bucket_edges!r}", code=2)
    workspace = open_workspace(db, create=False)
    show = err_console.is_terminal and not json

    def progress(message: str) -> None:
        if show:
            err_console.print(f"{message}…", style="dim", highlight=False)

    try:
        options = ScoreOptions(
            by=by.value, estimates=estimates, weighting=weighting.value, horizon=horizon, bootstrap=bootstrap,
            seed=seed, tradeoff=tradeoff.value if tradeoff else None, buckets=edges, regularization=regularization,
            ci_level=ci_level,
        )  # fmt: skip
        doc = score_workspace(workspace, options, progress=progress)
    except ScoringError as exc:
        fail(str(exc), code=2)
    if doc["policy"]["n_runs"] - doc["policy"]["n_unknown_outcome"] == 0:
        fail("nothing to score: the workspace has no runs with a known outcome (import some first)", code=1)
    if json:
        print_json(doc)
    else:
        print_report(doc)


def _fmt_rate(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _fmt_minutes(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 0.01:
        return f"{value:.3g}"
    return f"{value:.1e}"


def _fmt_ci(ci: list[float] | None, fmt) -> str:
    return "" if not ci else f" [{fmt(ci[0])}–{fmt(ci[1])}]"


def print_report(doc: dict[str, Any]) -> None:
    """The human-readable report: one block per group, one row per estimate; then moved and sensitivity."""
    from triage.scoring.report import GROUP_KEYS

    policy = doc["policy"]
    groups = {**doc[GROUP_KEYS[doc["by"]]], "overall": doc["overall"]}
    level = f"{100 * policy['ci_level']:g}%"
    boot = f"{policy['bootstrap']} bootstrap samples, {level} CIs" if policy["bootstrap"] else "no bootstrap"
    title = f"Scores by {doc['by']} (weighting {policy['weighting']}, tradeoff → {policy['tradeoff']}, {boot})"
    table = Table(title=title, title_justify="left")
    table.add_column(doc["by"], no_wrap=True)
    table.add_column("estimate", no_wrap=True)
    table.add_column("runs", justify="right")
    table.add_column("succ", justify="right")
    table.add_column("success rate", justify="right", no_wrap=True)
    table.add_column("50% horizon, min", justify="right", no_wrap=True)
    table.add_column("80% horizon", justify="right", no_wrap=True)
    notes: list[str] = []
    for gname, estimates in groups.items():
        for i, (est, fig) in enumerate(estimates.items()):
            p50 = _fmt_minutes(fig.get("p50_minutes"))
            mark = ""
            for note in fig.get("horizon_notes") or []:
                line = f"{gname} / {est}: {note}"
                if fig.get("horizon_status") != "ok" or "p50" in note:
                    notes.append(line)
                    mark = f" ({len(notes)})"
            table.add_row(
                gname if i == 0 else "",
                est,
                str(fig["n_runs"]),
                str(fig["n_success"]),
                _fmt_rate(fig["success_rate"]) + _fmt_ci(fig.get("ci"), _fmt_rate),
                p50 + _fmt_ci(fig.get("p50_ci"), _fmt_minutes) + mark,
                _fmt_minutes(fig.get("p80_minutes")),
                end_section=i == len(estimates) - 1,
            )
    # A pipe gets a wide page rather than rich's 80 columns, so rows stay one line each.
    console = table_console(160)
    console.print(table)
    for i, note in enumerate(notes, 1):
        console.print(f"({i}) {note}", highlight=False)

    moved_rows = []
    for gname, moves in doc["moved"].items():
        for key, m in moves.items():
            parts = [f"{m[k]} {k.replace('_', ' ')}" for k in ("to_success", "to_failure") if m[k]]
            dropped = m["dropped_success"] + m["dropped_failure"]
            added = m["added_success"] + m["added_failure"]
            parts += [f"{dropped} dropped"] if dropped else []
            parts += [f"{added} added"] if added else []
            if parts:
                effects = ", ".join(f"{e}: {sum(c.values())}" for e, c in m["by_effect"].items())
                moved_rows.append((gname, key.replace("_vs_", " vs "), f"vs {m['vs']}", "; ".join(parts), effects))
    if moved_rows:
        moved = Table(title="What moved the score (runs)", title_justify="left")
        for col in (doc["by"], "estimate", "base", "moved", "by effect"):
            moved.add_column(col)
        for row in moved_rows:
            moved.add_row(*row)
        console.print(moved)

    sens = Table(title="Sensitivity of elicited to unlabelled failures", title_justify="left")
    for col, kw in [(doc["by"], {}), ("unlabelled failures", {"justify": "right"}),
                    ("none spurious", {"justify": "right"}), ("all spurious", {"justify": "right"})]:  # fmt: skip
        sens.add_column(col, **kw)
    for gname, s in doc["sensitivity"].items():
        sens.add_row(gname, str(s["unlabelled_failures"]), _fmt_rate(s["lower"]["success_rate"]),
                     _fmt_rate(s["upper"]["success_rate"]))  # fmt: skip
    console.print(sens)
