"""Candidates, the leaderboard, and the rule that picks the winner.

The winner is the best candidate that fits the budgets (latency, size), and,
when ``prefer_simpler_within`` is set, the simplest candidate whose primary
score is within that distance of the best: a model that is 0.001 AUC worse but
ten times smaller and faster is usually the better choice to serve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from modelyard.exceptions import ValidationError
from modelyard.training.metrics import Metric
from modelyard.training.spec import SelectionSpec

__all__ = ["Candidate", "leaderboard_rows", "select"]


@dataclass
class Candidate:
    """One scored candidate: a family's best trial, or an ensemble of candidates."""

    name: str
    family: str
    params: dict[str, Any]
    score: float
    summary: dict[str, float]
    run_id: str | None
    complexity: int
    members: list[Candidate] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def latency_ms(self) -> float | None:
        """Median single-row predict time measured on the first fold."""
        return self.summary.get("latency_ms")

    @property
    def size_mb(self) -> float | None:
        """Pickled size of the fitted pipeline, in MB."""
        return self.summary.get("model_size_mb")


def select(
    candidates: list[Candidate], metric: Metric, rule: SelectionSpec
) -> tuple[Candidate, str]:
    """The winner and a sentence saying why it won.

    Raises:
        ValidationError: No candidate fits the latency/size budgets (the message
            gives the closest ones).
    """
    scored = [c for c in candidates if not math.isnan(c.score)]
    fitting = [c for c in scored if _fits(c, rule)]
    if not fitting:
        closest = ", ".join(
            f"{c.name} ({c.latency_ms or 0:.2f} ms, {c.size_mb or 0:.1f} MB)" for c in scored[:5]
        )
        raise ValidationError(
            f"no candidate fits the budget (max_latency_ms={rule.max_latency_ms}, "
            f"max_size_mb={rule.max_size_mb}); candidates: {closest}"
        )
    ranked = sorted(fitting, key=lambda c: c.score, reverse=metric.greater_is_better)
    best = ranked[0]
    if rule.prefer_simpler_within <= 0:
        return best, f"best {metric.name} ({best.score:.4f})"
    margin = rule.prefer_simpler_within + 1e-12  # 0.905 - 0.903 is not exactly 0.002 in floats
    near = [c for c in ranked if abs(c.score - best.score) <= margin]
    simplest = min(near, key=lambda c: (c.complexity, c.latency_ms or 0.0, c.size_mb or 0.0))
    if simplest is best:
        return best, f"best {metric.name} ({best.score:.4f})"
    return simplest, (
        f"simplest within {rule.prefer_simpler_within} of the best {metric.name} "
        f"({simplest.score:.4f} vs {best.name} {best.score:.4f})"
    )


def _fits(candidate: Candidate, rule: SelectionSpec) -> bool:
    if rule.max_latency_ms is not None and (candidate.latency_ms or 0.0) > rule.max_latency_ms:
        return False
    return not (rule.max_size_mb is not None and (candidate.size_mb or 0.0) > rule.max_size_mb)


def leaderboard_rows(
    candidates: list[Candidate], metric: Metric, metrics: list[str], winner: Candidate
) -> list[dict[str, Any]]:
    """One row per candidate, best first: scores (mean and std), timings, size, params."""
    ranked = sorted(
        candidates,
        key=lambda c: (math.isnan(c.score), -c.score if metric.greater_is_better else c.score),
    )
    rows = []
    for rank, c in enumerate(ranked, start=1):
        row: dict[str, Any] = {"rank": rank, "candidate": c.name, "family": c.family}
        for name in metrics:
            row[name] = c.summary.get(f"cv_{name}")
            row[f"{name}_std"] = c.summary.get(f"cv_{name}_std")
        row["fit_seconds"] = c.summary.get("fit_seconds")
        row["latency_ms"] = c.latency_ms
        row["size_mb"] = c.size_mb
        row.update(c.extra)
        row["chosen"] = c is winner
        row["run_id"] = c.run_id
        row["params"] = c.params
        rows.append(row)
    return rows
