"""Closing the elicitation loop: `triage writeback`, `triage rerun-plan`, `triage check-labels`, `triage compare`.

The work is in :mod:`triage.loop`; these commands print it (tables, or ``--json``). See docs/loop.md.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from triage.cli.common import DbOption, JsonOption, err_console, fail, open_workspace, out_console, print_json
from triage.cli.registry import app
from triage.display import literal

BootstrapOption = Annotated[
    int, typer.Option("--bootstrap", min=0, help="Hierarchical bootstrap samples for the intervals (0: none).")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Bootstrap seed (same seed, same intervals).")]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _ci(pair: list[float] | None, pct: bool = True) -> str:
    if not pair:
        return "-"
    return f"[{pair[0]:.1%}, {pair[1]:.1%}]" if pct else f"[{pair[0]:.3g}, {pair[1]:.3g}]"


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g} min"


def _say_log(path: str, index: int, total: int) -> None:
    err_console.print(literal(f"[{index + 1}/{total}] writing back {path}", "dim"), soft_wrap=True)


@app.command("writeback")
def writeback_command(
    source: Annotated[
        list[Path] | None,
        typer.Option(
            "--source", help="Only this imported log (repeatable; default: every labelled one).", show_default=False
        ),
    ] = None,
    in_place: Annotated[
        bool,
        typer.Option("--in-place", help="Rewrite the logs themselves (the originals are kept in .triage-backup/)."),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the new logs into this folder (default: beside each original, NAME.triage.eval).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Write the team's labels into their Inspect logs (needs inspect_ai: pip install 'triage\\[inspect]').

    Invalid runs are invalidated (so `inspect eval-set` retries them), scorer errors and cheats get a score
    edit with provenance and recomputed metrics, and every labelled sample gets metadata["triage"].
    A log changed since import is refused. Exit code 1 when any log was refused or failed.
    """
    if importlib.util.find_spec("inspect_ai") is None:
        fail(
            "writeback needs the inspect_ai package: pip install 'triage[inspect]' (or pip install inspect-ai)", code=2
        )
    if in_place and out is not None:
        fail("--in-place and --out exclude each other: choose where the written logs go", code=2)
    from triage.loop.writeback import writeback

    workspace = open_workspace(db, create=False)
    try:
        results = writeback(workspace, sources=[str(s) for s in source] if source else None, in_place=in_place,
                            out_dir=out, progress=_say_log if err_console.is_terminal else None)  # fmt: skip
    finally:
        workspace.conn.close()
    bad = [r for r in results if r.status != "ok"]
    if json:
        print_json({"logs": [r.to_dict() for r in results], "failed": len(bad)})
    else:
        for r in results:
            if r.status == "ok":
                line = (f"wrote {r.out_path}: {r.n_annotated} samples annotated, {r.n_invalidated} invalidated, "
                        f"{r.n_edited} scores edited")  # fmt: skip
                out_console.print(literal(line), soft_wrap=True)
            for problem in r.problems:
                err_console.print(literal(f"warning: {problem}"), soft_wrap=True)
        if not results:
            out_console.print("No imported Inspect log has labelled samples: nothing to write back.")
    for r in bad:
        err_console.print(literal(f"error: {r.error}", "bold red"), soft_wrap=True)
    if bad:
        raise typer.Exit(1)


@app.command("rerun-plan")
def rerun_plan_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the plan into.")] = Path("exports/rerun-plan"),
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Write what to run again: failures labelled spurious or invalid, grouped by their fix.

    Per fix (a labelled cluster, or a category and note) a folder with the Inspect tasks, sample ids and
    epochs (inspect.json, *.sample-ids.txt, for `inspect eval --sample-id`) and runs.csv for other formats.
    """
    from triage.loop.rerun import write_plan

    workspace = open_workspace(db, create=False)
    try:
        plan = write_plan(workspace, out)
    finally:
        workspace.conn.close()
    if json:
        print_json(plan)
        return
    table = Table(title=f"Re-run plan: {plan['n_runs']} runs in {len(plan['fixes'])} fixes ({out})")
    for col in ("fix", "category", "effect", "runs", "tasks", "Inspect commands"):
        table.add_column(col)
    for fix in plan["fixes"]:
        table.add_row(literal(fix["fix"]), literal(fix["category"]), literal(fix["effect"]), str(fix["n_runs"]),
                      str(fix["n_tasks"]), str(len(fix["inspect"])))  # fmt: skip
    out_console.print(table)


def _verdict_table(title: str, groups: dict[str, dict[str, Any]], name: str) -> Table:
    table = Table(title=title)
    for col in (name, "supported", "questioned", "not re-run", "support", "mark"):
        table.add_column(col)
    for key, g in groups.items():
        table.add_row(literal(key), str(g["supported"]), str(g["questioned"]), str(g["not_rerun"]),
                      _pct(g["support_rate"]), g["mark"] or "-")  # fmt: skip
    return table


@app.command("check-labels")
def check_labels_command(
    variant: Annotated[
        str | None, typer.Option("--variant", help="Only re-runs of this variant (default: all).", show_default=False)
    ] = None,
    bootstrap: BootstrapOption = 1000,
    seed: SeedOption = 0,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Check labels against re-runs: spurious/invalid failures that succeeded (supported) or failed again (questioned).

    Per category and per cluster, the questioned runs listed, and the predicted elicited estimate beside
    the one measured with the re-runs, with bootstrap intervals. Import re-runs with `triage import --variant`.
    """
    from triage.loop.check import check_labels

    workspace = open_workspace(db, create=False)
    try:
        doc = check_labels(workspace, variant=variant, bootstrap=bootstrap, seed=seed)
    finally:
        workspace.conn.close()
    if json:
        print_json(doc)
        return
    t = doc["totals"]
    out_console.print(f"{t['n']} failures labelled spurious or invalid: {t['supported']} supported by a re-run, "
                      f"{t['questioned']} questioned, {t['not_rerun']} not re-run.")  # fmt: skip
    if doc["by_category"]:
        out_console.print(_verdict_table("By category", doc["by_category"], "category"))
    if doc["by_cluster"]:
        out_console.print(_verdict_table("By cluster", doc["by_cluster"], "cluster"))
    if doc["questioned"]:
        table = Table(title="Questioned: failed again when re-run")
        for col in ("run", "category", "cluster", "re-runs", "note"):
            table.add_column(col)
        for q in doc["questioned"]:
            table.add_row(literal(q["run_id"]), literal(q["category"]), literal(q["cluster"] or "-"),
                          literal(", ".join(r["run_id"] for r in q["reruns"])), literal(q["note"] or ""))  # fmt: skip
        out_console.print(table)
    if doc["estimates"]:
        table = Table(title="Elicited estimate: predicted by the labels vs measured with the re-runs")
        for col in ("agent", "predicted", "interval", "measured", "interval", "measured - predicted"):
            table.add_column(col)
        for name, e in doc["estimates"].items():
            p, m = e["predicted"], e["measured"]
            gap = e["measured_minus_predicted"]
            table.add_row(literal(name), _pct(p["success_rate"]), _ci(p["ci"]), _pct(m["success_rate"]), _ci(m["ci"]),
                          "-" if gap is None else f"{gap:+.1%}")  # fmt: skip
        out_console.print(table)


@app.command("compare")
def compare_command(
    a: Annotated[str, typer.Argument(help="Agent or variant A (the baseline).")],
    b: Annotated[str, typer.Argument(help="Agent or variant B.")],
    estimate: Annotated[
        str, typer.Option("--estimate", help="Estimate to compare: raw, strict, elicited or excluded.")
    ] = "strict",
    weighting: Annotated[
        str, typer.Option("--weighting", help="Run weights: invsqrt, equal, none or buckets.")
    ] = "invsqrt",
    tradeoff: Annotated[
        str | None,
        typer.Option("--tradeoff", help="Tradeoff policy: fail, success or exclude (default: the workspace's)."),
    ] = None,
    bootstrap: BootstrapOption = 1000,
    seed: SeedOption = 0,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Compare two agents or scaffold variants on their shared tasks, paired by task.

    B - A in weighted success and in 50% horizon with hierarchical bootstrap intervals, per task and
    overall, and how much of the difference A's spurious labels had predicted.
    """
    from triage.loop.compare import CompareError, compare
    from triage.scoring import ESTIMATES, TRADEOFF_POLICIES, WEIGHTINGS
    from triage.scoring.options import ScoreOptions

    for value, allowed, what in ((estimate, ESTIMATES, "estimate"), (weighting, WEIGHTINGS, "weighting"),
                                 (tradeoff or "fail", TRADEOFF_POLICIES, "tradeoff policy")):  # fmt: skip
        if value not in allowed:
            fail(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}", code=2)
    workspace = open_workspace(db, create=False)
    # One rule for the policy left unset, as `triage score` and `check-labels` apply it.
    tradeoff = ScoreOptions(tradeoff=tradeoff).from_workspace(workspace).policy
    try:
        doc = compare(workspace, a, b, estimate=estimate, weighting=weighting, tradeoff=tradeoff,
                      bootstrap=bootstrap, seed=seed)  # fmt: skip
    except CompareError as exc:
        fail(str(exc), code=2)
    finally:
        workspace.conn.close()
    if json:
        print_json(doc)
        return
    table = Table(title=f"{estimate} on {doc['shared_tasks']} shared tasks (B - A, paired bootstrap)")
    for col in ("", "success", "interval", "50% horizon", "interval"):
        table.add_column(col)
    for key, label in (("a", f"A: {a}"), ("b", f"B: {b}"), ("a_elicited", f"A elicited: {a}")):
        s = doc["sides"][key]
        table.add_row(literal(label), _pct(s["success_rate"]), _ci(s["ci"]), _minutes(s["p50_minutes"]),
                      _ci(s["p50_ci"], pct=False))  # fmt: skip
    d = doc["difference"]
    r = d["success_rate"]
    h = d["p50_log2_ratio"]
    table.add_row("B - A", "-" if r["value"] is None else f"{r['value']:+.1%}", _ci(r["ci"]),
                  "-" if h["value"] is None else f"x{2 ** h['value']:.3g}",
                  "-" if not h["ci"] else f"[x{2 ** h['ci'][0]:.3g}, x{2 ** h['ci'][1]:.3g}]")  # fmt: skip
    out_console.print(table)
    pred = doc["predicted_by_a_labels"]
    share = pred["share_of_difference"]
    out_console.print(
        f"A's labels predicted a gain of {_pct(pred['gain']['value'])} {_ci(pred['gain']['ci'])}"
        + (f": {share:.0%} of the observed difference." if share is not None else ".")
    )
