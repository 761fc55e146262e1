"""The ONNX form of ``DatetimeFeatures``: epoch days, month and weekday from int64 nanoseconds.

Days since 1970 are ``nanoseconds / 86400e9`` in double, as pandas computes them; the
month and the weekday come from the whole day count with integer ops only (Howard
Hinnant's ``civil_from_days``), so they are exact for every date. ``INT64_MIN`` (the
convention's missing datetime) gives ``NaN`` in all three, like ``NaT`` natively.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto

from modelyard.registry._onnx_graph import (
    add_const,
    add_node,
    columns_of,
    expect_kind,
    missing_mask,
    set_output,
)

__all__ = ["convert_datetime", "shape_datetime"]

_NS_PER_DAY = 86_400 * 10**9
_DAYS_FROM_0000_03_01 = 719_468  # from 0000-03-01 to 1970-01-01, proleptic Gregorian


class _Ops:
    """Terse node building for the integer arithmetic below."""

    def __init__(self, scope: Any, container: Any) -> None:
        self.scope, self.container = scope, container

    def k(self, value: int) -> str:
        return add_const(self.scope, self.container, "k", np.array(value, dtype=np.int64))

    def __call__(self, op: str, *inputs: str, **attrs: Any) -> str:
        return add_node(self.scope, self.container, op, list(inputs), **attrs)

    def floor_div(self, a: str, divisor: int) -> str:
        """``floor(a / divisor)`` for a positive divisor (ONNX Div truncates toward zero)."""
        d = self.k(divisor)
        rest = self("Mod", a, d, fmod=0)  # takes the divisor's sign: >= 0
        return self("Div", self("Sub", a, rest), d)


def _month(op: _Ops, days: str) -> str:
    """The month (1-12) of a day count since 1970-01-01."""
    z = op("Add", days, op.k(_DAYS_FROM_0000_03_01))
    era = op.floor_div(z, 146_097)
    doe = op("Sub", z, op("Mul", era, op.k(146_097)))  # day of era, 0..146096
    yoe = op("Add", op("Sub", doe, op("Div", doe, op.k(1460))), op("Div", doe, op.k(36_524)))
    yoe = op("Div", op("Sub", yoe, op("Div", doe, op.k(146_096))), op.k(365))  # 0..399
    start = op("Add", op("Mul", yoe, op.k(365)), op("Div", yoe, op.k(4)))
    doy = op("Sub", doe, op("Sub", start, op("Div", yoe, op.k(100))))  # from March 1, 0..365
    mp = op("Div", op("Add", op("Mul", doy, op.k(5)), op.k(2)), op.k(153))  # 0 = March
    return op("Where", op("Less", mp, op.k(10)), op("Add", mp, op.k(3)), op("Sub", mp, op.k(9)))


def shape_datetime(operator: Any) -> None:
    """Three double columns per int64 input column."""
    expect_kind(operator, "int64", "nanoseconds since the epoch as int64")
    width = columns_of(operator)
    set_output(operator, "double", None if width is None else 3 * width)


def convert_datetime(scope: Any, operator: Any, container: Any) -> None:
    """``<col>_epoch_days``, ``<col>_month``, ``<col>_dayofweek`` for each column, in order."""
    op = _Ops(scope, container)
    missing = missing_mask(scope, container, operator)
    safe = op("Where", missing, op.k(0), operator.inputs[0].full_name)
    days = op.floor_div(safe, _NS_PER_DAY)
    per_day = add_const(scope, container, "ns_per_day", np.array(float(_NS_PER_DAY)))
    weekday = op("Mod", op("Add", days, op.k(3)), op.k(7), fmod=0)  # 1970-01-01: Thursday
    parts = [
        op("Div", op("Cast", safe, to=TensorProto.DOUBLE), per_day),
        op("Cast", _month(op, days), to=TensorProto.DOUBLE),
        op("Cast", weekday, to=TensorProto.DOUBLE),
    ]
    nan = add_const(scope, container, "nan", np.array(np.nan))
    axis = add_const(scope, container, "axis", np.array([2], dtype=np.int64))
    stacked = [op("Unsqueeze", op("Where", missing, nan, part), axis) for part in parts]
    joined = op("Concat", *stacked, axis=2)  # [N, columns, 3]
    shape = add_const(scope, container, "shape", np.array([0, -1], dtype=np.int64))
    op("Reshape", joined, shape, out=operator.outputs[0].full_name)
