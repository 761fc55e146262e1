"""Per-slice metrics: the metric suite on the rows of each value of chosen columns.

Groups come from :func:`modelyard.evaluation.groups.group_labels` (quartile bins
for numeric columns, at most 20 values otherwise). A metric undefined on a
slice (ROC AUC on a slice with one class) is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from modelyard.evaluation.groups import group_labels
from modelyard.evaluation.scoring import Scored, score

__all__ = ["slice_metrics"]


def slice_metrics(
    frame: pd.DataFrame, columns: Sequence[str], scored: Scored, names: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Metrics per group of each column in ``columns``.

    Args:
        frame: The holdout rows (the columns to slice by must be in it).
        columns: The columns to slice by, already checked.
        scored: Targets and predictions of ``frame``'s rows.
        names: The metrics.

    Returns:
        ``{column: [{"value": group, "rows": int, "metrics": {name: float | None}}]}``.
    """
    result: dict[str, list[dict[str, Any]]] = {}
    for column in columns:
        labels, order = group_labels(frame[column])
        result[column] = [
            {
                "value": group,
                "rows": int((labels == group).sum()),
                "metrics": score(names, scored.subset(labels == group)),
            }
            for group in order
        ]
    return result
