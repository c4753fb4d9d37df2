"""Reviewer agreement: Cohen's kappa per pair of reviewers, Krippendorff's alpha across all.

Each reviewer's view is their own effective labels (run labels and cluster decisions, no adjudication;
see :func:`triage.labels.effective_labels`). Agreement is measured on the runs two (or more) reviewers
both labelled, at the level of the label's *effect* (what moves the score) or its *category*.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any, Literal

import numpy as np

from triage.db.sqlite import Database
from triage.labels import labels_by_reviewer

Level = Literal["effect", "category"]


@dataclass
class PairAgreement:
    """Agreement of two reviewers on the runs both labelled."""

    reviewers: tuple[str, str]
    n_runs: int
    agreed: int
    observed: float | None  # share of common runs with the same value
    kappa: float | None  # None when undefined (no common runs, or chance agreement is 1)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reviewers"] = list(self.reviewers)
        return data


@dataclass
class Agreement:
    """Pairwise kappas, the all-reviewer alpha, and the runs where reviewers disagree."""

    level: Level
    reviewers: list[str]
    n_runs: int  # runs labelled by at least two reviewers
    alpha: float | None
    pairs: list[PairAgreement] = field(default_factory=list)
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "reviewers": self.reviewers,
            "n_runs": self.n_runs,
            "krippendorff_alpha": self.alpha,
            "pairs": [p.to_dict() for p in self.pairs],
            "disagreements": self.disagreements,
        }


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two equally long label lists: ``(p_o - p_e) / (1 - p_e)``, with ``p_o`` the observed
    agreement and ``p_e`` the agreement expected by chance from each rater's own label frequencies.

    None when undefined: no pairs, or chance agreement of 1 (both raters used one and the same value).
    The one implementation: reviewer agreement and suggestion-vs-human agreement both use it.
    """
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa needs equally long lists, got {len(a)} and {len(b)}")
    if not a:
        return None
    values = {v: i for i, v in enumerate(dict.fromkeys([*a, *b]))}
    x = np.fromiter((values[v] for v in a), dtype=np.int64, count=len(a))
    y = np.fromiter((values[v] for v in b), dtype=np.int64, count=len(b))
    observed = float(np.mean(x == y))
    chance = float(np.dot(np.bincount(x, minlength=len(values)), np.bincount(y, minlength=len(values)))) / len(a) ** 2
    if chance >= 1.0:
        return None
    return _finite((observed - chance) / (1.0 - chance))


def krippendorff_alpha(matrix: list[list[str | None]]) -> float | None:
    """Nominal Krippendorff's alpha of a reviewers × units matrix (None = not labelled)."""
    values = sorted({v for row in matrix for v in row if v is not None})
    if len(values) < 2:
        return None  # one value in all: alpha is undefined (no variation to agree on)
    import krippendorff

    code = {v: i for i, v in enumerate(values)}
    data = np.array([[np.nan if v is None else code[v] for v in row] for row in matrix], dtype=float)
    return _finite(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def reviewer_views(db: Database, level: Level = "effect") -> dict[str, dict[str, str]]:
    """Each reviewer's value (effect or category) per run they labelled."""
    views: dict[str, dict[str, str]] = {}
    for reviewer, labels in sorted(labels_by_reviewer(db).items()):
        view = {}
        for run_id, lab in labels.items():
            value = (lab.effect.value if lab.effect is not None else None) if level == "effect" else lab.category
            if value is not None:
                view[run_id] = value
        if view:
            views[reviewer] = view
    return views


def agreement(db: Database, level: Level = "effect") -> Agreement:
    """Agreement figures for every pair of reviewers and across all of them."""
    views = reviewer_views(db, level)
    reviewers = sorted(views)
    pairs = []
    for a, b in combinations(reviewers, 2):
        common = sorted(views[a].keys() & views[b].keys())
        ya = [views[a][r] for r in common]
        yb = [views[b][r] for r in common]
        agreed = sum(x == y for x, y in zip(ya, yb, strict=True))
        pairs.append(
            PairAgreement((a, b), len(common), agreed, agreed / len(common) if common else None, cohen_kappa(ya, yb))
        )
    seen = Counter(run for view in views.values() for run in view)
    shared = sorted(run for run, n in seen.items() if n >= 2)
    matrix = [[views[rev].get(run) for run in shared] for rev in reviewers]
    disagreements = []
    for run in shared:
        values = {rev: views[rev][run] for rev in reviewers if run in views[rev]}
        if len(set(values.values())) > 1:
            disagreements.append({"run_id": run, "values": values})
    alpha = krippendorff_alpha(matrix) if shared else None
    return Agreement(level, reviewers, len(shared), alpha, pairs, disagreements)
