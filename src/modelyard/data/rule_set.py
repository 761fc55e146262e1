"""The rule set, :class:`Rules`, and its YAML form.

YAML form (or the same structure as Python lists and dicts, see :meth:`Rules.from_dict`)::

    on_fail: error                  # default for rules that do not say: error | warn | quarantine
    rules:
      - not_null: [customer_id, signup_at]          # one rule per column
      - unique: customer_id                         # a list = a unique combination
      - in_range: {column: age, min: 18, max: 110}  # inclusive, either bound optional
      - in_set: {column: plan, values: [basic, standard, premium]}
      - matches: {column: email, pattern: '^[^@]+@[^@]+$'}  # RE2; the whole value must match
      - row_count: {min: 100, max: 10000000}
      - schema: {columns: {customer_id: string, age: int64}, exact: false}
      - sql: {name: charges_ok, predicate: "total_charges >= monthly_charges"}
        on_fail: warn

Parse errors name the rule by position (``rule #3 (in_range): ...``) and YAML syntax
errors give the line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from modelyard._utils.yaml_source import load_yaml_source
from modelyard.data._rule_values import brief
from modelyard.data.report import ACTIONS
from modelyard.data.rule_kinds import InRange, InSet, Matches, NotNull, Rule
from modelyard.data.table_rules import RowCount, SchemaMatches, SqlPredicate, Unique
from modelyard.exceptions import ValidationError

__all__ = ["RULE_KINDS", "Rules"]


@dataclass(frozen=True)
class Rules:
    """An ordered set of rules plus the default action for those that do not set one.

    Args:
        rules: The rules; their names must be unique.
        on_fail: Default action: ``error`` (the default), ``warn`` or ``quarantine``.

    Raises:
        ValidationError: A rule is not a :class:`Rule`, two rules share a name, or
            ``on_fail`` is unknown.

    Example:
        >>> from modelyard.data.rules import in_range, not_null
        >>> rules = Rules([not_null("id"), in_range("age", min=18)], on_fail="warn")
        >>> [r.name for r in rules.rules]
        ['not_null(id)', 'in_range(age)']
    """

    rules: Sequence[Rule] = ()
    on_fail: str = "error"

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        if self.on_fail not in ACTIONS:
            raise ValidationError(
                f"default on_fail {self.on_fail!r} is not valid; use one of: {', '.join(ACTIONS)}"
            )
        seen: set[str] = set()
        for rule in self.rules:
            if not isinstance(rule, Rule):
                raise ValidationError(
                    f"Rules holds rule objects (not_null(...), in_range(...), ...), got {brief(rule)}"
                )
            if rule.name in seen:
                raise ValidationError(
                    f"two rules are named {rule.name!r}; give one of them a distinct name"
                )
            seen.add(rule.name)

    def action_for(self, rule: Rule) -> str:
        """The configured action of ``rule``: its own ``on_fail`` or the default."""
        return rule.on_fail or self.on_fail

    @classmethod
    def from_yaml(cls, source: str | Path) -> Rules:
        """Parse rules from YAML text, or from a file.

        Args:
            source: A :class:`~pathlib.Path`, a one-line string ending in ``.yaml`` or
                ``.yml`` (read as a path), or YAML text.

        Raises:
            ValidationError: The YAML does not parse (the message gives the line) or
                does not describe valid rules.
            NotFoundError: ``source`` names a file that does not exist.
        """
        data = load_yaml_source(source, "rules")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, obj: Any) -> Rules:
        """Build rules from parsed YAML: a list of rules, or ``{rules: [...], on_fail: ...}``.

        Raises:
            ValidationError: The structure, a rule kind or a rule parameter is invalid;
                the message names the rule by position.
        """
        items: Any
        default: Any
        if isinstance(obj, list):
            items, default = obj, "error"
        elif isinstance(obj, Mapping):
            unknown = [k for k in obj if k not in ("rules", "on_fail")]
            if unknown:
                raise ValidationError(
                    f"unknown top-level key(s) {unknown}; a rules document has 'rules' "
                    "(a list) and optionally 'on_fail'"
                )
            items, default = obj.get("rules"), obj.get("on_fail", "error")
            if not isinstance(items, list):
                raise ValidationError(f"'rules' must be a list of rules, got {brief(items)}")
        else:
            raise ValidationError(
                f"a rules document is a list of rules or a mapping with 'rules:', got {brief(obj)}"
            )
        if not isinstance(default, str):
            raise ValidationError(
                f"default on_fail must be one of {', '.join(ACTIONS)}, got {brief(default)}"
            )
        parsed = [rule for index, item in enumerate(items) for rule in _parse_rule(item, index)]
        return cls(parsed, on_fail=default)

    def to_dict(self) -> dict[str, Any]:
        """The rules in YAML form (plain Python values); ``from_dict`` reads it back."""
        return {"on_fail": self.on_fail, "rules": [rule.to_dict() for rule in self.rules]}

    def check_columns(self, schema: pa.Schema) -> None:
        """Check that every column a rule reads exists in ``schema`` with a fitting type.

        ``schema`` rules are exempt (a missing column is what they report), and ``sql``
        predicates are checked against the data when evaluated.

        Raises:
            ValidationError: A column is unknown (the message lists the available ones)
                or its type does not fit the rule.
        """
        available = set(schema.names)
        for rule in self.rules:
            for col in rule.columns_used:
                if col not in available:
                    raise ValidationError(
                        f"unknown column {col!r} in rule {rule.name!r}; available columns: "
                        f"{', '.join(schema.names) or '(none)'}",
                        rule=rule.name,
                        column=col,
                    )
            rule.check_schema(schema)


def _fields(
    value: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Check a mapping of rule parameters: required keys present, no unknown keys."""
    valid = ", ".join(required + optional)
    if not isinstance(value, Mapping):
        raise ValidationError(f"expected a mapping with keys {valid}, got {brief(value)}")
    unknown = [k for k in value if k not in required + optional]
    missing = [k for k in required if k not in value]
    if unknown or missing:
        problem = f"unknown key(s) {unknown}" if unknown else f"missing key(s) {missing}"
        raise ValidationError(f"{problem}; valid keys: {valid}")
    return dict(value)


def _name_list(value: Any) -> list[Any]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise ValidationError(
            f"expected a column name or a list of column names, got {brief(value)}"
        )
    return names


def _parse_not_null(value: Any, name: str, on_fail: str | None) -> list[Rule]:
    columns = _name_list(value)
    if name and len(columns) > 1:
        raise ValidationError("a name applies to one rule; give each column its own not_null entry")
    return [NotNull(col, name=name, on_fail=on_fail) for col in columns]


def _parse_sql(value: Any, name: str, on_fail: str | None) -> list[Rule]:
    f = (
        {"predicate": value}
        if isinstance(value, str)
        else _fields(value, ("predicate",), ("name",))
    )
    if "name" in f and name:
        raise ValidationError("give the sql rule's name once, inside or beside the mapping")
    return [SqlPredicate(f["predicate"], name=f.get("name", name), on_fail=on_fail)]


def _parse_schema(value: Any, name: str, on_fail: str | None) -> list[Rule]:
    f = _fields(value, ("columns",), ("exact",))
    if not isinstance(f["columns"], Mapping):
        raise ValidationError(
            f"schema columns must map column names to type names, got {brief(f['columns'])}"
        )
    pairs = tuple((k, v) for k, v in f["columns"].items())
    return [SchemaMatches(pairs, exact=f.get("exact", False), name=name, on_fail=on_fail)]


def _parse_in_set(value: Any, name: str, on_fail: str | None) -> list[Rule]:
    f = _fields(value, ("column", "values"))
    if not isinstance(f["values"], list):
        raise ValidationError(f"in_set values must be a list, got {brief(f['values'])}")
    return [InSet(f["column"], tuple(f["values"]), name=name, on_fail=on_fail)]


_Parser = Callable[[Any, str, "str | None"], list[Rule]]
_PARSERS: dict[str, _Parser] = {
    "not_null": _parse_not_null,
    "unique": lambda v, n, o: [Unique(tuple(_name_list(v)), name=n, on_fail=o)],
    "in_range": lambda v, n, o: [
        InRange(**_fields(v, ("column",), ("min", "max")), name=n, on_fail=o)
    ],
    "in_set": _parse_in_set,
    "matches": lambda v, n, o: [Matches(**_fields(v, ("column", "pattern")), name=n, on_fail=o)],
    "row_count": lambda v, n, o: [RowCount(**_fields(v, (), ("min", "max")), name=n, on_fail=o)],
    "schema": _parse_schema,
    "sql": _parse_sql,
}
RULE_KINDS = tuple(_PARSERS)
"""Every rule kind, as spelled in YAML."""


def _parse_rule(item: Any, index: int) -> list[Rule]:
    where = f"rule #{index + 1}"
    kinds = ", ".join(RULE_KINDS)
    if not isinstance(item, Mapping):
        raise ValidationError(
            f"{where}: expected a mapping like {{not_null: column}}, got {brief(item)}"
        )
    found = [k for k in item if k in _PARSERS]
    unknown = [k for k in item if k not in _PARSERS and k not in ("name", "on_fail")]
    if unknown or len(found) != 1:
        problem = f"unknown key(s) {unknown}" if unknown else f"{len(found)} rule kinds {found}"
        raise ValidationError(
            f"{where}: {problem}; a rule has exactly one kind ({kinds}) and optionally "
            "name and on_fail",
            rule_index=index,
        )
    kind, name, on_fail = found[0], item.get("name", ""), item.get("on_fail")
    if not isinstance(name, str) or not (on_fail is None or isinstance(on_fail, str)):
        raise ValidationError(f"{where} ({kind}): name and on_fail must be strings")
    try:
        return _PARSERS[kind](item[kind], name, on_fail)
    except ValidationError as exc:
        raise ValidationError(
            f"{where} ({kind}): {exc.message}", rule_index=index, kind=kind
        ) from exc
