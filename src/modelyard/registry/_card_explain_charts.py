"""Fairness and explanation charts of the model card: group rates, permutation
importance, partial dependence and SHAP. Bar charts keep the top ``MAX_BARS``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modelyard.registry._card_charts import (
    COLORS,
    MAX_BARS,
    floats,
    label,
    new_figure,
    number,
    thin,
    to_chart,
)
from modelyard.registry._card_doc import Chart

__all__ = ["fairness_chart", "importance_chart", "partial_dependence_chart", "shap_chart"]

FAIRNESS_RATES = (("selection_rate", "Selection rate"), ("tpr", "TPR"), ("fpr", "FPR"))
CATEGORICAL_KINDS = frozenset({"categorical", "category", "nominal", "boolean", "bool", "ordinal"})


def fairness_chart(fairness: Mapping[str, Any]) -> Chart | None:
    """Grouped bars: selection rate, TPR and FPR per group of the sensitive column."""
    groups = [g for g in fairness.get("groups") or [] if isinstance(g, Mapping)][:MAX_BARS]
    rates = [(key, title, floats([g.get(key) for g in groups])) for key, title in FAIRNESS_RATES]
    rates = [rate for rate in rates if np.isfinite(rate[2]).any()]
    if not groups or not rates:
        return None
    fig, ax = new_figure(min(10.0, max(4.6, 0.3 * len(groups) * len(rates) + 1.5)), 3.4)
    positions = np.arange(len(groups))
    width = 0.8 / len(rates)
    for i, (_, title, values) in enumerate(rates):
        offset = (i - (len(rates) - 1) / 2) * width
        ax.bar(positions + offset, np.nan_to_num(values), width, label=title, color=COLORS[i])
    names = [label(g.get("group")) for g in groups]
    ax.set_xticks(positions, names, rotation=30 if len(groups) > 4 else 0, ha="right")
    ax.set(ylim=(0, 1.05), ylabel="Rate", xlabel=label(fairness.get("column") or "group"))
    ax.legend(fontsize=7, frameon=False, ncols=len(rates), loc="upper center")
    return to_chart(fig, f"Rates per group of {fairness.get('column') or 'the sensitive column'}")


def importance_chart(importance: Sequence[Any]) -> Chart | None:
    """Horizontal bars of permutation importance (mean ± std), top features first."""
    rows = _ranked(importance, "feature", "mean", std_key="std")
    if not rows:
        return None
    return _bars(
        rows,
        xlabel="Drop in score when the feature is shuffled",
        caption=f"Permutation importance (top {len(rows)} of {len(importance)} features)",
        color=COLORS[0],
    )


def shap_chart(shap: Mapping[str, Any]) -> Chart | None:
    """Horizontal bars of mean |SHAP value| per feature, top features first."""
    features, values = shap.get("features"), shap.get("mean_abs")
    if not isinstance(features, Sequence) or not isinstance(values, Sequence):
        return None
    entries = [{"feature": f, "value": v} for f, v in zip(features, values, strict=False)]
    rows = _ranked(entries, "feature", "value")
    if not rows:
        return None
    return _bars(
        rows,
        xlabel="Mean |SHAP value|",
        caption=f"SHAP feature attribution (top {len(rows)} of {len(entries)} features)",
        color=COLORS[2],
    )


def partial_dependence_chart(entry: Mapping[str, Any]) -> Chart | None:
    """Average prediction as one feature varies: a line (numeric) or bars (categorical)."""
    grid, average = entry.get("values"), floats(entry.get("average"))
    if not isinstance(grid, Sequence) or isinstance(grid, str) or len(average) == 0:
        return None
    x = floats(grid)
    feature = entry.get("feature")
    categorical = str(entry.get("kind")).lower() in CATEGORICAL_KINDS or not np.isfinite(x).all()
    fig, ax = new_figure(4.4, 3.0)
    if categorical:
        names = [label(v) for v in list(grid)[:MAX_BARS]]
        heights = np.nan_to_num(average[: len(names)])
        ax.bar(np.arange(len(heights)), heights, color=COLORS[3])
        ax.set_xticks(np.arange(len(heights)), names[: len(heights)], rotation=30, ha="right")
    else:
        x, y = thin(x, average)
        keep = np.isfinite(y)
        if not keep.any():
            return None
        ax.plot(x[keep], y[keep], color=COLORS[3], linewidth=1.6, marker="o", ms=2.5)
    ax.set(xlabel=label(feature), ylabel="Average prediction")
    return to_chart(fig, f"Partial dependence on {feature}")


def _ranked(
    entries: Sequence[Any], name_key: str, value_key: str, *, std_key: str | None = None
) -> list[tuple[str, float, float]]:
    """``(name, value, std)`` of the ``MAX_BARS`` largest finite values, largest first."""
    rows = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        value = number(entry.get(value_key))
        if np.isfinite(value):
            std = number(entry.get(std_key)) if std_key else float("nan")
            rows.append((label(entry.get(name_key)), value, std))
    rows.sort(key=lambda row: -row[1])
    return rows[:MAX_BARS]


def _bars(rows: list[tuple[str, float, float]], *, xlabel: str, caption: str, color: str) -> Chart:
    fig, ax = new_figure(5.2, 0.26 * len(rows) + 1.1)
    positions = np.arange(len(rows))[::-1]
    values = np.array([r[1] for r in rows])
    stds = np.array([r[2] for r in rows])
    errors = np.nan_to_num(stds) if np.isfinite(stds).any() else None
    ax.barh(positions, values, xerr=errors, color=color, error_kw={"ecolor": "#555555", "lw": 0.8})
    ax.set_yticks(positions, [r[0] for r in rows])
    ax.set_xlabel(xlabel, fontsize=8)
    ax.grid(False, axis="y")
    return to_chart(fig, caption)
