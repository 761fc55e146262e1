"""The run search language: parsing filters and order-by clauses into a small AST.

Filters read like MLflow's, with ``or`` and parentheses added::

    metrics.auc > 0.9 and params.model = 'rf'
    (tags.team = 'risk' or tags.team = 'growth') and attributes.status != 'FAILED'
    params.model IN ('rf', 'gbm') and run_name LIKE 'cv-%'

Fields are ``metrics.<key>``, ``params.<key>``, ``tags.<key>`` and
``attributes.<name>`` (or the bare attribute name). A key with spaces or dots
goes in backquotes or double quotes: ``metrics.`val auc```. Every syntax error is
a :class:`~modelyard.exceptions.FilterSyntaxError` whose message points at the
offending token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from modelyard.exceptions import FilterSyntaxError

__all__ = [
    "ATTRIBUTES",
    "MAX_COMPARISONS",
    "MAX_FILTER_LENGTH",
    "MAX_NESTING",
    "BoolOp",
    "Comparison",
    "Field",
    "OrderKey",
    "parse_filter",
    "parse_order_by",
]

MAX_FILTER_LENGTH = 10_000
MAX_NESTING = 32
MAX_COMPARISONS = 100

FieldKind = Literal["metric", "param", "tag", "attribute"]
Value = float | str | tuple[float | str, ...] | None

# attribute name -> (column in ``runs``, is numeric)
ATTRIBUTES: dict[str, tuple[str, bool]] = {
    "run_id": ("run_id", False),
    "run_name": ("name", False),
    "status": ("status", False),
    "user_id": ("user_id", False),
    "parent_run_id": ("parent_run_id", False),
    "experiment_id": ("experiment_id", True),
    "start_time": ("start_time", True),
    "end_time": ("end_time", True),
}
_PREFIXES: dict[str, FieldKind] = {
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE", "IN", "NOT IN"})

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<quoted>`[^`]*`)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),.])
  | (?P<word>[A-Za-z_][\w\-:/]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Field:
    """A searchable field: a metric/param/tag key or a run attribute."""

    kind: FieldKind
    key: str


@dataclass(frozen=True)
class Comparison:
    """``field op value``; ``value`` is a tuple for IN, ``None`` for IS [NOT] NULL."""

    field: Field
    op: str
    value: Value


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` over two or more sub-expressions."""

    op: Literal["and", "or"]
    items: tuple[Comparison | BoolOp, ...]


@dataclass(frozen=True)
class OrderKey:
    """One order-by key."""

    field: Field
    descending: bool


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise FilterSyntaxError(
                f"unexpected character {text[pos]!r} at position {pos}", text=text, position=pos
            )
        kind = match.lastgroup or ""
        if kind != "ws":
            toks.append(_Tok(kind, match.group(), pos))
        pos = match.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


class _Parser:
    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise FilterSyntaxError(
                f"a filter must be a string, got {type(text).__name__}", text=repr(text), position=0
            )
        if len(text) > MAX_FILTER_LENGTH:
            raise FilterSyntaxError(
                f"the filter is {len(text):,} characters; the limit is {MAX_FILTER_LENGTH:,}",
                text=text[:60] + "...",
                position=0,
            )
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0
        self.comparisons = 0

    # -- helpers ---------------------------------------------------------
    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def error(self, message: str, tok: _Tok | None = None) -> FilterSyntaxError:
        tok = tok or self.tok
        shown = repr(tok.text) if tok.kind != "end" else "end of input"
        return FilterSyntaxError(
            f"{message}, found {shown} at position {tok.pos}", text=self.text, position=tok.pos
        )

    def keyword(self, *words: str) -> bool:
        if self.tok.kind == "word" and self.tok.text.upper() in words:
            self.i += 1
            return True
        return False

    def punct(self, char: str) -> bool:
        if self.tok.kind == "punct" and self.tok.text == char:
            self.i += 1
            return True
        return False

    def expect_punct(self, char: str, what: str) -> None:
        if not self.punct(char):
            raise self.error(f"expected {what}")

    # -- grammar ---------------------------------------------------------
    def parse(self) -> Comparison | BoolOp:
        expr = self.or_expr()
        if self.tok.kind != "end":
            raise self.error("expected 'and', 'or' or the end of the filter")
        return expr

    def or_expr(self) -> Comparison | BoolOp:
        items = [self.and_expr()]
        while self.keyword("OR"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_expr(self) -> Comparison | BoolOp:
        items = [self.primary()]
        while self.keyword("AND"):
            items.append(self.primary())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def primary(self) -> Comparison | BoolOp:
        tok = self.tok
        if self.punct("("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.error(f"parentheses nest deeper than {MAX_NESTING} levels", tok)
            expr = self.or_expr()
            self.expect_punct(")", "')' to close the parenthesis")
            self.depth -= 1
            return expr
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise self.error(f"the filter has more than {MAX_COMPARISONS} conditions", tok)
        return self.comparison()

    def field(self) -> Field:
        tok = self.tok
        if tok.kind != "word":
            raise self.error("expected a field such as metrics.auc, params.model or status")
        self.i += 1
        prefix = tok.text.lower()
        if prefix in _PREFIXES and self.punct("."):
            key_tok = self.tok
            if key_tok.kind in ("word", "number"):
                key = key_tok.text
            elif key_tok.kind in ("quoted", "string") and key_tok.text[0] in '`"':
                key = key_tok.text[1:-1]
            else:
                raise self.error(f"expected a key after '{tok.text}.'")
            self.i += 1
            while key_tok.kind == "word" and self.tok.kind == "punct" and self.tok.text == ".":
                self.i += 1  # dotted keys: metrics.val.auc
                if self.tok.kind not in ("word", "number"):
                    raise self.error("expected the rest of a dotted key")
                key += "." + self.tok.text
                self.i += 1
            kind = _PREFIXES[prefix]
            if kind == "attribute":
                return self.attribute(key, key_tok)
            return Field(kind, key)
        return self.attribute(tok.text, tok)

    def attribute(self, name: str, tok: _Tok) -> Field:
        if name.lower() not in ATTRIBUTES:
            raise self.error(
                f"unknown attribute {name!r}; valid: {', '.join(sorted(ATTRIBUTES))} "
                "(or prefix a key with metrics., params. or tags.)",
                tok,
            )
        return Field("attribute", name.lower())

    def operator(self) -> str:
        tok = self.tok
        if tok.kind == "op":
            self.i += 1
            return "!=" if tok.text == "<>" else tok.text
        if self.keyword("LIKE", "ILIKE", "IN", "IS"):
            return tok.text.upper()
        if self.keyword("NOT"):
            follow = self.tok
            if self.keyword("LIKE", "ILIKE", "IN"):
                return "NOT " + follow.text.upper()
            raise self.error("expected LIKE, ILIKE or IN after NOT")
        raise self.error("expected a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN)")

    def literal(self) -> float | str:
        tok = self.tok
        if tok.kind == "number":
            self.i += 1
            return float(tok.text)
        if tok.kind == "string":
            self.i += 1
            quote = tok.text[0]
            return tok.text[1:-1].replace(quote * 2, quote)
        raise self.error("expected a number or a quoted string")

    def comparison(self) -> Comparison:
        field = self.field()
        op_tok = self.tok
        op = self.operator()
        value: Value
        if op == "IS":
            negated = self.keyword("NOT")
            if not self.keyword("NULL"):
                raise self.error("expected NULL after IS")
            op, value = ("IS NOT NULL" if negated else "IS NULL"), None
        elif op in ("IN", "NOT IN"):
            self.expect_punct("(", "'(' to start the IN list")
            values = [self.literal()]
            while self.punct(","):
                values.append(self.literal())
            self.expect_punct(")", "')' to close the IN list")
            value = tuple(values)
        else:
            val_tok = self.tok
            value = self.literal()
            self.check_types(field, op, value, op_tok, val_tok)
            return Comparison(field, op, value)
        self.check_types(field, op, value, op_tok, op_tok)
        return Comparison(field, op, value)

    def check_types(self, field: Field, op: str, value: Value, op_tok: _Tok, tok: _Tok) -> None:
        numeric = field.kind == "metric" or (field.kind == "attribute" and ATTRIBUTES[field.key][1])
        if op in ("IS NULL", "IS NOT NULL"):
            return
        if numeric:
            if op not in _NUMERIC_OPS and op not in ("IN", "NOT IN"):
                raise self.error(f"{op} does not apply to numeric field {_show(field)}", op_tok)
            values = value if isinstance(value, tuple) else (value,)
            if any(not isinstance(v, float) for v in values):
                raise self.error(f"{_show(field)} is numeric; compare it with a number", tok)
        else:
            if op not in _STRING_OPS:
                raise self.error(
                    f"{op} does not apply to string field {_show(field)} "
                    "(use =, !=, LIKE, ILIKE or IN)",
                    op_tok,
                )
            values = value if isinstance(value, tuple) else (value,)
            if any(not isinstance(v, str) for v in values):
                raise self.error(
                    f"{_show(field)} is a string; quote the value, e.g. '{_fmt(values[0])}'", tok
                )


def _fmt(value: float | str | None) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _show(field: Field) -> str:
    return f"{field.kind}s.{field.key}" if field.kind != "attribute" else field.key


def parse_filter(text: str | None) -> Comparison | BoolOp | None:
    """Parse a filter string; ``None`` or blank means "no filter".

    Raises:
        FilterSyntaxError: With the position of the offending token.
    """
    if text is None or not text.strip():
        return None
    return _Parser(text).parse()


def parse_order_by(clause: str) -> OrderKey:
    """Parse one order-by clause such as ``metrics.auc DESC`` or ``start_time``.

    Raises:
        FilterSyntaxError: With the position of the offending token.
    """
    parser = _Parser(clause)
    field = parser.field()
    descending = False
    if parser.keyword("DESC"):
        descending = True
    else:
        parser.keyword("ASC")
    if parser.tok.kind != "end":
        raise parser.error("expected ASC, DESC or the end of the order-by clause")
    return OrderKey(field, descending)
