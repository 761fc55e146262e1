"""The feature spec: type defaults, per-column options, interactions, include and drop lists.

Written in YAML (usually the ``features:`` section of ``modelyard.yaml``) or in Python::

    features:
      defaults:
        numeric: {impute: median, scale: standard}
      columns:
        monthly_charges: {impute: mean, log1p: true, scale: robust}
        region: {encode: target}
      interactions:
        - {columns: [tenure_months, monthly_charges], degree: 2, interaction_only: true}
      include: [customer_id]
      drop: [name]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelyard._utils.yaml_source import load_yaml_source
from modelyard.exceptions import ValidationError
from modelyard.features.options import KINDS, ColumnSpec, unknown_key_error

__all__ = ["FeatureSpec", "Interaction"]

_SECTIONS = ("defaults", "columns", "interactions", "include", "drop")
_MAX_DEGREE = 4  # PolynomialFeatures grows as n**degree; higher orders are a typo, not a plan


def _column_name(value: object, where: str) -> str:
    """A column name from YAML, where ``2020`` reads as an int and ``on`` as True."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        hint = (
            " (YAML reads yes/no/on/off/true/false as booleans: quote it)"
            if isinstance(value, bool)
            else ""
        )
        raise ValidationError(f"{where}: column name must be a string, not {value!r:.80}{hint}")
    name = str(value)
    if not name:
        raise ValidationError(f"{where}: column name must not be empty")
    return name


def _names(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError(f"{where} must be a list of column names, not {value!r:.80}")
    names = tuple(_column_name(item, where) for item in value)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValidationError(f"{where} names {', '.join(map(repr, repeated))} more than once")
    return names


@dataclass(frozen=True)
class Interaction:
    """Polynomial / interaction terms of numeric columns (after their imputing and scaling).

    Args:
        columns: The numeric columns to combine.
        degree: Highest total degree of a term (2 to 4).
        interaction_only: Only products of distinct columns (no squares).

    Raises:
        ValidationError: Fewer columns than the terms need, or a bad degree.
    """

    columns: tuple[str, ...]
    degree: int = 2
    interaction_only: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", _names(self.columns, "interaction columns"))
        if isinstance(self.degree, bool) or not isinstance(self.degree, int):
            raise ValidationError(f"interaction degree must be an integer, not {self.degree!r:.80}")
        if not 2 <= self.degree <= _MAX_DEGREE:
            raise ValidationError(
                f"interaction degree must be from 2 to {_MAX_DEGREE}, not {self.degree}"
            )
        if not isinstance(self.interaction_only, bool):
            raise ValidationError(
                f"interaction_only must be true or false, not {self.interaction_only!r:.80}"
            )
        needed = 2 if self.interaction_only else 1
        if len(self.columns) < needed:
            raise ValidationError(
                f"an interaction needs at least {needed} column(s), got {list(self.columns)}"
            )

    @classmethod
    def from_dict(cls, obj: object, where: str = "interaction") -> Interaction:
        """Parse ``{columns: [a, b], degree: 2, interaction_only: true}``.

        Raises:
            ValidationError: Unknown keys (listing the valid ones), missing columns, bad values.
        """
        if isinstance(obj, Interaction):
            return obj
        if not isinstance(obj, Mapping):
            raise ValidationError(f"{where} must be a mapping with a columns list, not {obj!r:.80}")
        valid = ("columns", "degree", "interaction_only")
        for key in obj:
            if key not in valid:
                raise unknown_key_error(key, valid, where)
        if "columns" not in obj:
            raise ValidationError(f"{where} needs a columns list, e.g. columns: [a, b]")
        try:
            return cls(**obj)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc.message}") from None

    def to_dict(self) -> dict[str, Any]:
        """The interaction as a plain mapping (what :meth:`from_dict` reads)."""
        return {
            "columns": list(self.columns),
            "degree": self.degree,
            "interaction_only": self.interaction_only,
        }


def _column_specs(value: object, where: str) -> dict[str, ColumnSpec]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{where} must be a mapping of name to options, not {value!r:.80}")
    specs: dict[str, ColumnSpec] = {}
    for key, options in value.items():
        name = _column_name(key, where)
        if name in specs:
            raise ValidationError(f"{where} names {name!r} more than once")
        specs[name] = (
            options
            if isinstance(options, ColumnSpec)
            else ColumnSpec.from_dict(options, f"{where}.{name}")
        )
    return specs


@dataclass(frozen=True)
class FeatureSpec:
    """The whole preprocessing spec; compile it with :func:`build_preprocessor`.

    Args:
        defaults: Options per column kind (``numeric``, ``categorical``, ``boolean``,
            ``datetime``), on top of the built-in defaults.
        columns: Options per column, on top of its kind's defaults.
        interactions: Polynomial / interaction terms of numeric columns.
        include: Columns to keep even though the caller excludes them (identifiers,
            masked columns).
        drop: Columns to leave out.

    Raises:
        ValidationError: An option that does not fit its kind, or lists that contradict.
    """

    defaults: dict[str, ColumnSpec] = field(default_factory=dict)
    columns: dict[str, ColumnSpec] = field(default_factory=dict)
    interactions: tuple[Interaction, ...] = ()
    include: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        defaults = _column_specs(self.defaults, "defaults")
        for kind, spec in defaults.items():
            if kind not in KINDS:
                raise ValidationError(
                    f"defaults: unknown column kind {kind!r}; valid kinds: {', '.join(KINDS)}"
                )
            spec.check_kind(kind, f"defaults.{kind}")
            if spec.categories is not None:
                raise ValidationError(
                    f"defaults.{kind}: categories are per column; move them under columns"
                )
        object.__setattr__(self, "defaults", defaults)
        object.__setattr__(self, "columns", _column_specs(self.columns, "columns"))
        items = () if self.interactions is None else self.interactions
        if isinstance(items, Mapping) or not isinstance(items, Iterable):
            raise ValidationError(f"interactions must be a list, not {items!r:.80}")
        object.__setattr__(
            self,
            "interactions",
            tuple(Interaction.from_dict(x, f"interactions[{i}]") for i, x in enumerate(items)),
        )
        object.__setattr__(self, "include", _names(self.include or (), "include"))
        object.__setattr__(self, "drop", _names(self.drop or (), "drop"))
        self._check_lists()

    def _check_lists(self) -> None:
        both = [name for name in self.include if name in self.drop]
        if both:
            raise ValidationError(
                f"column(s) {', '.join(map(repr, both))} are in both include and drop; "
                "remove them from one of the lists",
                columns=both,
            )
        for name, spec in self.columns.items():
            if name in self.include and spec.drop:
                raise ValidationError(
                    f"column {name!r} is in include but has drop: true under columns; "
                    "remove one of them",
                    column=name,
                )
            if name in self.drop and spec.set_options() not in ([], ["drop"]):
                raise ValidationError(
                    f"column {name!r} is in drop but has options under columns; remove one of them",
                    column=name,
                )
        for i, item in enumerate(self.interactions):
            dropped = [c for c in item.columns if c in self.drop or self.columns.get(c, _KEEP).drop]
            if dropped:
                raise ValidationError(
                    f"interactions[{i}] uses dropped column(s) {', '.join(map(repr, dropped))}; "
                    "keep them or take them out of the interaction"
                )

    @classmethod
    def from_dict(cls, obj: object) -> FeatureSpec:
        """Build a spec from a parsed mapping, with or without the top-level ``features:`` key.

        With a ``features`` key, only that section is read, so a whole ``modelyard.yaml``
        can be passed. ``None`` or ``{}`` gives the built-in defaults.

        Raises:
            ValidationError: Unknown sections or options (listing the valid ones), bad values.
        """
        if isinstance(obj, Mapping) and "features" in obj:
            obj = obj["features"]
        if obj is None:
            return cls()
        if not isinstance(obj, Mapping):
            raise ValidationError(
                f"the features spec must be a mapping with sections {', '.join(_SECTIONS)}, "
                f"not {type(obj).__name__}"
            )
        for key in obj:
            if key not in _SECTIONS:
                raise unknown_key_error(key, _SECTIONS, "features")
        return cls(**{key: obj[key] for key in _SECTIONS if obj.get(key) is not None})

    @classmethod
    def from_yaml(cls, source: str | Path) -> FeatureSpec:
        """Parse a spec from YAML text or a file.

        Args:
            source: A :class:`~pathlib.Path`, a one-line string ending in ``.yaml`` or
                ``.yml`` (read as a path), or YAML text.

        Raises:
            ValidationError: The YAML does not parse (the message gives the line), repeats
                a key, or does not describe a valid spec.
            NotFoundError: ``source`` names a file that does not exist.
        """
        return cls.from_dict(load_yaml_source(source, "features spec"))

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain values; ``FeatureSpec.from_dict(spec.to_dict()) == spec``."""
        out: dict[str, Any] = {}
        if self.defaults:
            out["defaults"] = {kind: spec.to_dict() for kind, spec in self.defaults.items()}
        if self.columns:
            out["columns"] = {name: spec.to_dict() for name, spec in self.columns.items()}
        if self.interactions:
            out["interactions"] = [item.to_dict() for item in self.interactions]
        if self.include:
            out["include"] = list(self.include)
        if self.drop:
            out["drop"] = list(self.drop)
        return out

    def to_yaml(self) -> str:
        """The spec as YAML text under a ``features:`` key (what :meth:`from_yaml` reads)."""
        return yaml.safe_dump({"features": self.to_dict()}, sort_keys=False, allow_unicode=True)


_KEEP = ColumnSpec()
