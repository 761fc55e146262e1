"""Compiling parsed filters and order-by keys into SQL over the tracking tables."""

from __future__ import annotations

import base64
import binascii
import json
import operator
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    not_,
    or_,
    true,
)
from sqlalchemy.sql.elements import KeyedColumnElement

from modelyard.exceptions import ValidationError
from modelyard.store.filters import ATTRIBUTES, BoolOp, Comparison, Field, OrderKey
from modelyard.store.schema import latest_metrics, params, runs, tags

__all__ = ["apply_order", "compile_filter", "decode_page_token", "encode_page_token"]


def compile_filter(expr: Comparison | BoolOp | None) -> ColumnElement[bool]:
    """The WHERE clause for a parsed filter (``true()`` for no filter)."""
    if expr is None:
        return true()
    if isinstance(expr, BoolOp):
        parts = [compile_filter(item) for item in expr.items]
        return and_(*parts) if expr.op == "and" else or_(*parts)
    return _compile_comparison(expr)


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "LIKE": lambda column, value: column.like(value),
    "NOT LIKE": lambda column, value: not_(column.like(value)),
    "ILIKE": lambda column, value: column.ilike(value),
    "NOT ILIKE": lambda column, value: not_(column.ilike(value)),
    "IN": lambda column, value: column.in_(value),
    "NOT IN": lambda column, value: column.not_in(value),
}


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = _OPS[op](column, value)
    return result


def _compile_comparison(cmp: Comparison) -> ColumnElement[bool]:
    field = cmp.field
    if field.kind == "attribute":
        column = runs.c[ATTRIBUTES[field.key][0]]
        if cmp.op == "IS NULL":
            return column.is_(None)
        if cmp.op == "IS NOT NULL":
            return column.is_not(None)
        value = cmp.value
        if ATTRIBUTES[field.key][1]:
            value = tuple(int(v) for v in value) if isinstance(value, tuple) else value
        return _compare(column, cmp.op, value)
    table = {"metric": latest_metrics, "param": params, "tag": tags}[field.kind]
    keyed = and_(table.c.run_id == runs.c.run_id, table.c.key == field.key)
    if cmp.op == "IS NULL":
        return not_(exists().where(keyed))
    if cmp.op == "IS NOT NULL":
        return exists().where(keyed)
    condition = _compare(table.c.value, cmp.op, cmp.value)
    if field.kind == "metric":
        condition = and_(table.c.is_nan == false(), condition)
    return exists().where(keyed, condition)


def apply_order(query: Select[Any], keys: Sequence[OrderKey]) -> Select[Any]:
    """Add ORDER BY for ``keys`` (missing values last), then start time and run id."""
    for index, key in enumerate(keys):
        query, expr = _order_column(key.field, index, query)
        query = query.order_by(expr.is_(None), expr.desc() if key.descending else expr.asc())
    return query.order_by(runs.c.start_time.desc(), runs.c.run_id)


def _order_column(
    field: Field, index: int, query: Select[Any]
) -> tuple[Select[Any], KeyedColumnElement[Any]]:
    if field.kind == "attribute":
        return query, runs.c[ATTRIBUTES[field.key][0]]
    table = {"metric": latest_metrics, "param": params, "tag": tags}[field.kind]
    alias = table.alias(f"order_{index}")
    query = query.outerjoin(alias, and_(alias.c.run_id == runs.c.run_id, alias.c.key == field.key))
    return query, alias.c.value


def encode_page_token(offset: int) -> str:
    """An opaque token for the page starting at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """The offset inside a page token (0 for none).

    Raises:
        ValidationError: The token was not produced by :func:`encode_page_token`.
    """
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"invalid page_token {token[:40]!r}; pass back the next_page_token of a previous "
            "search unchanged"
        ) from exc
    if not isinstance(offset, int) or offset < 0:
        raise ValidationError(f"invalid page_token {token[:40]!r}")
    return offset
