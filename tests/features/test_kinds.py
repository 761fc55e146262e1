"""column_kinds: one kind per column, from the dtype or, for object columns, the values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from modelyard.features import column_kind, column_kinds


@pytest.mark.parametrize(
    ("series", "kind"),
    [
        (pd.Series([1, 2, 3]), "numeric"),
        (pd.Series([1.5, np.nan]), "numeric"),
        (pd.Series([1, None], dtype="Int64"), "numeric"),
        (pd.Series([1.5, None], dtype="Float64"), "numeric"),
        (pd.Series(np.array([1, 2], dtype=np.uint8)), "numeric"),
        (pd.Series(pd.to_timedelta(["1D", "2h"])), "numeric"),
        (pd.Series([True, False]), "boolean"),
        (pd.Series([True, None], dtype="boolean"), "boolean"),
        (pd.Series([True, None, False], dtype=object), "boolean"),
        (pd.Series(["a", "b"], dtype=object), "categorical"),
        (pd.Series(["a", None], dtype="string"), "categorical"),
        (pd.Series(["a", None], dtype="str"), "categorical"),
        (pd.Series(["a", "b"], dtype="category"), "categorical"),
        (pd.Series([1, 2], dtype="category"), "categorical"),
        (pd.Series(["a", 1], dtype=object), "categorical"),
        (pd.Series([1 + 2j]), "categorical"),
        (pd.Series([Decimal("1.5"), None], dtype=object), "numeric"),
        (pd.Series([1, 2.5, None], dtype=object), "numeric"),
        (pd.Series(pd.date_range("2024-01-01", periods=2)), "datetime"),
        (pd.Series(pd.date_range("2024-01-01", periods=2, tz="Asia/Tokyo")), "datetime"),
        (pd.Series([dt.date(2024, 1, 1), None], dtype=object), "datetime"),
        (pd.Series([None, None], dtype=object), "categorical"),
        (pd.Series([np.nan, np.nan]), "numeric"),
    ],
)
def test_column_kind(series: pd.Series, kind: str) -> None:
    assert column_kind(series) == kind


def test_column_kinds_keeps_column_order() -> None:
    frame = pd.DataFrame({"z": ["a"], "a": [1.0], "m": [True]})
    assert column_kinds(frame) == {"z": "categorical", "a": "numeric", "m": "boolean"}
    assert column_kinds(pd.DataFrame()) == {}
