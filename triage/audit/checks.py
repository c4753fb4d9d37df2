"""Computed protocol checks: each measures one thing in the workspace and returns the numbers behind it.

A check returns a :class:`Measure`: the headline value compared with the item's thresholds, whether
higher is worse or better, and the evidence (per agent / family / task figures and examples). The
thresholds live in the checklist file, not here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from triage.agreement import reviewer_views
from triage.db.sqlite import Database
from triage.labels import conflicts, effective_labels

EXAMPLES = 10  # evidence lists are capped: the verdict needs a few examples, not thousands

# Covered by the index runs_agent_status (agent, status, task_id, score) of migration 10: no run row is read.
GROUPS_SQL = (
    "SELECT coalesce(agent, '(unknown)'), status, task_id, count(*), "
    "max(score IS NOT NULL AND score NOT IN (0, 1)) FROM runs GROUP BY agent, status, task_id"
)


@dataclass
class Measure:
    """A check's headline ``value`` (None: nothing to measure) and its evidence."""

    value: float | None
    higher_is_worse: bool
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)


class Context:
    """What the checks read, loaded once per audit.

    Nothing here reads every run's row: counts per agent, outcome and task come from one scan of the
    covering index ``runs_agent_status`` (migration 10), and only labelled runs are looked up one by one,
    so an audit of a million runs costs what their index and their labels cost.
    """

    def __init__(self, db: Database):
        self.db = db

    @cached_property
    def groups(self) -> list[tuple[str, str, str | None, int, int]]:
        """(agent, status, task id or None, runs, any continuous score) per agent, outcome and task."""
        return self.db.execute(GROUPS_SQL).fetchall()

    @cached_property
    def tasks(self) -> dict[str, tuple[str | None, bool, bool]]:
        """task id -> (family, no human minutes, no threshold)."""
        rows = self.db.execute("SELECT id, family, human_minutes IS NULL, threshold IS NULL FROM tasks")
        return {task: (family, bool(no_minutes), bool(no_threshold)) for task, family, no_minutes, no_threshold in rows}

    def family(self, task: str | None) -> str:
        """A run's family as the evidence names it: the task's family, else the task id, else "(none)"."""
        if task is None:
            return "(none)"
        known = self.tasks.get(task)
        return known[0] if known is not None and known[0] is not None else task

    @cached_property
    def labels(self):
        return effective_labels(self.db)

    @cached_property
    def labelled(self) -> dict[str, tuple[str, str | None, str, int | None, bool]]:
        """Labelled runs still in the workspace: run id -> (agent, task id, status, success, is a variant)."""
        ids = orjson.dumps(list(self.labels)).decode()
        return {
            row[0]: row[1:]
            for row in self.db.execute(
                "SELECT r.id, coalesce(r.agent, '(unknown)'), r.task_id, r.status, r.success, r.variant IS NOT NULL "
                "FROM json_each(?) j JOIN runs r ON r.id = j.value",
                [ids],
            )
        }


def _shares(counts: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
    """``{key: [runs, counted]}`` as each key's n, count and share, sorted by key."""
    return {
        key: {"n": n, "count": count, "share": round(count / n, 4)} for key, (n, count) in sorted(counts.items()) if n
    }


def _worst_share(by_agent: dict[str, dict[str, Any]], what: str, empty: str) -> Measure:
    """The highest per-agent share (higher is worse), with every agent's figures as evidence."""
    if not by_agent:
        return Measure(None, True, empty)
    agent, worst = max(by_agent.items(), key=lambda kv: kv[1]["share"])
    # With no agent above zero, naming the first one alphabetically would single it out for nothing.
    text = f"{agent} {worst['share']:.1%}" if worst["share"] else f"0.0% for every agent ({len(by_agent)})"
    return Measure(worst["share"], True, f"highest share of {what}: {text}", {"by_agent": by_agent})


def runs_per_task(ctx: Context) -> Measure:
    counts: Counter = Counter()
    for agent, _, task, n, _ in ctx.groups:
        counts[agent, "(none)" if task is None else task] += n
    if not counts:
        return Measure(None, False, "no runs")
    low = sorted(((n, agent, task) for (agent, task), n in counts.items()))
    minimum = low[0][0]
    return Measure(
        float(minimum),
        False,
        f"fewest runs of one agent on one task: {minimum} (median {sorted(counts.values())[len(counts) // 2]})",
        {"fewest": [{"agent": a, "task": t, "runs": n} for n, a, t in low[:EXAMPLES]], "agent_task_pairs": len(counts)},
    )


def usage_limit_share(ctx: Context) -> Measure:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for agent, status, _, n, _ in ctx.groups:
        counts[agent][0] += n
        counts[agent][1] += n if status == "limit" else 0
    return _worst_share(_shares(counts), "runs ending on a usage limit", "no runs")


def _effect_share(ctx: Context, effect: str, *, failures_only: bool) -> dict[str, dict[str, Any]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for agent, status, _, n, _ in ctx.groups:
        if not (failures_only and status == "success"):
            counts[agent][0] += n
    for run_id, (agent, _, status, _, _) in ctx.labelled.items():
        if failures_only and status == "success":
            continue
        lab = ctx.labels[run_id]
        if lab.effect is not None and lab.effect.value == effect:
            counts[agent][1] += 1
    return _shares(counts)


def invalid_share(ctx: Context) -> Measure:
    return _worst_share(_effect_share(ctx, "invalid", failures_only=False), "invalid runs", "no runs")


def failures_reviewed(ctx: Context) -> Measure:
    by_agent: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_family: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for agent, status, task, n, _ in ctx.groups:
        if status != "success":
            by_agent[agent][0] += n
            by_family[ctx.family(task)][0] += n
    for agent, task, status, _, _ in ctx.labelled.values():
        if status != "success":
            by_agent[agent][1] += 1
            by_family[ctx.family(task)][1] += 1
    agents, families = _shares(by_agent), _shares(by_family)
    if not agents:
        return Measure(None, False, "no failures to review")
    groups = [("agent", k, v) for k, v in agents.items()] + [("family", k, v) for k, v in families.items()]
    kind, name, worst = min(groups, key=lambda g: g[2]["share"])
    total = sum(v["n"] for v in agents.values())
    done = sum(v["count"] for v in agents.values())
    least = f"least reviewed {kind} {name}: {worst['share']:.1%}" if done else "none reviewed yet"
    return Measure(
        worst["share"], False,
        f"{done}/{total} failures reviewed; {least}",
        {"by_agent": agents, "by_family": families, "reviewed": done, "failures": total},
    )  # fmt: skip


def missing_rationale(ctx: Context) -> Measure:
    missing = [
        lab for lab in ctx.labels.values()
        if lab.effect is not None and lab.effect.value != "real" and not (lab.rationale or "").strip()
    ]  # fmt: skip
    return Measure(
        float(len(missing)), True, f"{len(missing)} effective labels with a non-real effect and no rationale",
        {"runs": sorted(lab.run_id for lab in missing)[:EXAMPLES]},
    )  # fmt: skip


def spurious_share(ctx: Context) -> Measure:
    by_agent = _effect_share(ctx, "spurious", failures_only=True)
    return _worst_share(by_agent, "failures labelled spurious", "no failures")


def unconfirmed_suggestions(ctx: Context) -> Measure:
    rows = ctx.db.execute(
        "SELECT s.id, s.run_id, s.cluster_id, s.category FROM suggestions s WHERE s.status = 'ok' "
        "AND s.id NOT IN (SELECT suggestion_id FROM labels WHERE suggestion_id IS NOT NULL)"
    ).fetchall()
    members: dict[str, list[str]] = defaultdict(list)
    wanted = orjson.dumps(sorted({cluster for _, run_id, cluster, _ in rows if not run_id and cluster})).decode()
    for cluster_id, run_id in ctx.db.execute(  # only the clusters a suggestion names, not every membership
        "SELECT cluster_id, run_id FROM cluster_members WHERE cluster_id IN (SELECT value FROM json_each(?))", [wanted]
    ):
        members[cluster_id].append(run_id)
    open_ = []
    for sid, run_id, cluster_id, category in rows:
        targets = [run_id] if run_id else members.get(cluster_id, [])
        if not any(t in ctx.labels for t in targets):
            open_.append({"suggestion": sid, "run_id": run_id, "cluster_id": cluster_id, "category": category})
    return Measure(
        float(len(open_)), True, f"{len(open_)} LLM suggestions whose run or cluster no human has labelled",
        {"suggestions": open_[:EXAMPLES]},
    )  # fmt: skip


def unsolved_tasks(ctx: Context) -> Measure:
    solved: dict[str, bool] = {}
    for _, status, task, _, _ in ctx.groups:
        key = "(none)" if task is None else task
        solved[key] = solved.get(key, False) or status == "success"
    unsolved = sorted(t for t, ok in solved.items() if not ok)
    return Measure(
        float(len(unsolved)), True, f"{len(unsolved)} of {len(solved)} tasks solved by no run of any agent",
        {"tasks": unsolved[:EXAMPLES * 3], "tasks_total": len(solved)},
    )  # fmt: skip


def disagreement_rate(ctx: Context) -> Measure:
    # The runs two or more reviewers labelled (run labels or cluster decisions), as `triage agreement` sees them.
    reviewers = ctx.db.execute("SELECT count(DISTINCT reviewer) FROM labels WHERE action IN ('label', 'cluster')")
    if reviewers.fetchone()[0] < 2:  # no run can have two reviewers: skip resolving every reviewer's view
        return Measure(None, True, "no run labelled by two or more reviewers")
    views = reviewer_views(ctx.db, "effect")
    seen: Counter = Counter(run for view in views.values() for run in view)
    base = sum(1 for n in seen.values() if n > 1)
    if base == 0:
        return Measure(None, True, "no run labelled by two or more reviewers")
    found = [c for c in conflicts(ctx.db) if not c.same_effect]
    return Measure(
        round(len(found) / base, 4), True, f"{len(found)} of {base} multiply-labelled runs disagree on the effect",
        {"runs": [c.run_id for c in found[:EXAMPLES]], "multiply_labelled": base},
    )  # fmt: skip


def task_metadata(ctx: Context) -> Measure:
    continuous: dict[str, bool] = {}  # tasks with runs -> any run with a score other than 0 or 1
    for _, _, task, _, cont in ctx.groups:
        if task is not None and task in ctx.tasks:
            continuous[task] = continuous.get(task, False) or bool(cont)
    no_minutes = sorted(t for t in continuous if ctx.tasks[t][1])
    no_threshold = sorted(t for t, cont in continuous.items() if cont and ctx.tasks[t][2])
    missing = len(set(no_minutes) | set(no_threshold))
    return Measure(
        float(missing), True,
        f"{len(no_minutes)} tasks without human minutes, "
        f"{len(no_threshold)} continuous-score tasks without a threshold",
        {"no_human_minutes": no_minutes[:EXAMPLES], "no_threshold": no_threshold[:EXAMPLES], "tasks": len(continuous)},
    )  # fmt: skip


def labels_questioned(ctx: Context) -> Measure:
    """Failures labelled spurious or invalid that failed again when re-run, among those re-run.

    The verdict rule is ``triage check-labels``' (triage.loop.check, a layer above the audit): supported
    when a re-run succeeded, questioned when every re-run with a known outcome failed; tests check that
    both agree.
    """
    reruns: dict[str, list[int]] = defaultdict(list)
    for original, success in ctx.db.execute(
        "SELECT rerun_of, success FROM runs WHERE rerun_of IS NOT NULL AND success IS NOT NULL"
    ):
        reruns[original].append(success)
    counts: dict[str, Counter] = defaultdict(Counter)
    questioned = []
    for run_id, label in ctx.labels.items():
        effect = label.effect.value if label.effect is not None else None
        run = ctx.labelled.get(run_id)
        if effect not in ("spurious", "invalid") or run is None or run[4]:  # gone, or a variant
            continue
        if run[3] == 1 and effect != "invalid":
            continue
        known = reruns.get(run_id)
        verdict = "not_rerun" if not known else "supported" if any(known) else "questioned"
        counts[label.category][verdict] += 1
        if verdict == "questioned":
            questioned.append(run_id)
    n_rerun = sum(c["supported"] + c["questioned"] for c in counts.values())
    not_rerun = sum(c["not_rerun"] for c in counts.values())
    if n_rerun == 0:
        return Measure(None, True, f"no failure labelled spurious or invalid was re-run ({not_rerun} could be)")
    return Measure(
        round(len(questioned) / n_rerun, 4), True,
        f"{len(questioned)} of {n_rerun} re-run failures labelled spurious/invalid failed again "
        f"({not_rerun} not re-run)",
        {"by_category": {k: dict(v) for k, v in sorted(counts.items())}, "questioned": sorted(questioned)[:EXAMPLES],
         "not_rerun": not_rerun},
    )  # fmt: skip


CHECKS: dict[str, Callable[[Context], Measure]] = {
    "runs_per_task": runs_per_task,
    "usage_limit_share": usage_limit_share,
    "invalid_share": invalid_share,
    "failures_reviewed": failures_reviewed,
    "missing_rationale": missing_rationale,
    "spurious_share": spurious_share,
    "unconfirmed_suggestions": unconfirmed_suggestions,
    "unsolved_tasks": unsolved_tasks,
    "disagreement_rate": disagreement_rate,
    "task_metadata": task_metadata,
    "labels_questioned": labels_questioned,
}
