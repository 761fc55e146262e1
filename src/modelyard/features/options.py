"""Per-column preprocessing options: :class:`ColumnSpec` and :class:`Bucketize`.

A :class:`ColumnSpec` holds only what the user wrote; an option left at ``None`` is
*unset* and falls back to the type default (see :mod:`modelyard.features.spec`). That
is what lets a column override one option of its type's defaults and keep the rest.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from modelyard.exceptions import ValidationError

__all__ = [
    "BIN_ENCODINGS",
    "BIN_STRATEGIES",
    "ENCODINGS",
    "HANDLE_UNKNOWN",
    "IMPUTE_STRATEGIES",
    "KINDS",
    "OPTIONS_BY_KIND",
    "SCALERS",
    "Bucketize",
    "ColumnSpec",
]

KINDS = ("numeric", "categorical", "boolean", "datetime")
IMPUTE_STRATEGIES = ("mean", "median", "most_frequent", "constant")
SCALERS = ("standard", "minmax", "maxabs", "robust", "none")
ENCODINGS = ("onehot", "ordinal", "target")
HANDLE_UNKNOWN = ("infrequent_if_exist", "ignore")
BIN_STRATEGIES = ("quantile", "uniform", "kmeans")
BIN_ENCODINGS = ("ordinal", "onehot")

_COMMON = ("impute", "fill_value", "missing_indicator", "drop")
OPTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    "numeric": (*_COMMON, "scale", "log1p", "bucketize"),
    "categorical": (
        *_COMMON,
        *("encode", "categories", "min_frequency", "max_categories", "handle_unknown"),
    ),
    "boolean": _COMMON,
    # A datetime becomes numbers (epoch days, month, weekday) before imputation, so
    # a constant fill value would have no single meaning across those numbers.
    "datetime": ("impute", "missing_indicator", "scale", "drop"),
}
_IMPUTE_BY_KIND = {
    "numeric": IMPUTE_STRATEGIES,
    "categorical": ("most_frequent", "constant"),
    "boolean": ("most_frequent", "constant"),
    "datetime": ("mean", "median", "most_frequent"),
}


def unknown_key_error(key: object, valid: Iterable[str], where: str) -> ValidationError:
    """The error for a key that is not an option, listing the valid ones (and a guess)."""
    names = sorted(valid)
    guess = difflib.get_close_matches(str(key), names, n=1)
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    return ValidationError(
        f"{where}: unknown option {str(key)[:80]!r}; valid options: {', '.join(names)}{hint}",
        option=str(key)[:80],
    )


def _check_choice(name: str, value: object, valid: tuple[str, ...]) -> None:
    if value is not None and value not in valid:
        raise ValidationError(
            f"{name} must be one of {', '.join(valid)}, not {value!r:.80}", option=name
        )


def _check_bool(name: str, value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise ValidationError(f"{name} must be true or false, not {value!r:.80}", option=name)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_mapping(obj: object, where: str) -> Mapping[Any, Any]:
    if not isinstance(obj, Mapping):
        raise ValidationError(
            f"{where} must be a mapping of options, not {type(obj).__name__} ({obj!r:.80})"
        )
    return obj


@dataclass(frozen=True)
class Bucketize:
    """Bin a numeric column with :class:`sklearn.preprocessing.KBinsDiscretizer`.

    Args:
        bins: Number of bins (2 to 1000).
        strategy: ``quantile`` (equal counts), ``uniform`` (equal widths) or ``kmeans``.
        encode: ``ordinal`` (one column of bin numbers) or ``onehot`` (one column per bin).

    Raises:
        ValidationError: A value out of range, naming the valid ones.
    """

    bins: int = 5
    strategy: str = "quantile"
    encode: str = "ordinal"

    def __post_init__(self) -> None:
        if not _is_int(self.bins) or not 2 <= self.bins <= 1000:
            raise ValidationError(f"bins must be an integer from 2 to 1000, not {self.bins!r:.80}")
        _check_choice("strategy", self.strategy, BIN_STRATEGIES)
        _check_choice("encode", self.encode, BIN_ENCODINGS)

    @classmethod
    def from_value(cls, value: object, where: str = "bucketize") -> Bucketize:
        """Parse ``{bins: 5, strategy: quantile, encode: ordinal}`` or a bare bin count.

        Raises:
            ValidationError: Unknown keys (listing the valid ones) or bad values.
        """
        if _is_int(value):
            return cls(bins=value)  # type: ignore[arg-type]
        obj = _check_mapping(value, where)
        valid = [f.name for f in fields(cls)]
        for key in obj:
            if key not in valid:
                raise unknown_key_error(key, valid, where)
        try:
            return cls(**obj)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc.message}") from None

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain mapping (what :meth:`from_value` reads)."""
        return {"bins": self.bins, "strategy": self.strategy, "encode": self.encode}


@dataclass(frozen=True)
class ColumnSpec:
    """What to do with one column, or with every column of one kind.

    Every option defaults to ``None`` (unset: the type default applies).

    Args:
        impute: ``mean``, ``median``, ``most_frequent`` or ``constant`` (with ``fill_value``).
        fill_value: The value ``impute: constant`` writes into missing cells.
        missing_indicator: Add a 0/1 "was missing" column; unset means "when the training
            column has nulls".
        scale: ``standard``, ``minmax``, ``maxabs``, ``robust`` or ``none``.
        log1p: Apply ``log(1 + x)`` before imputing and scaling; negative values are refused.
        bucketize: Bin the column instead of scaling it.
        encode: ``onehot``, ``ordinal`` (unknown levels become -1) or ``target``
            (cross-fitted :class:`~sklearn.preprocessing.TargetEncoder`).
        categories: The levels, in order (for ``ordinal``, the order is the code).
        min_frequency: One-hot/ordinal levels rarer than this (a count, or a fraction
            below 1) merge into one "infrequent" level.
        max_categories: Keep at most this many levels (the rest are "infrequent").
        handle_unknown: One-hot only: ``infrequent_if_exist`` (default) or ``ignore``.
        drop: Leave the column out of the features.

    Raises:
        ValidationError: A bad value or two options that contradict each other.
    """

    impute: str | None = None
    fill_value: str | int | float | bool | None = None
    missing_indicator: bool | None = None
    scale: str | None = None
    log1p: bool | None = None
    bucketize: Bucketize | None = None
    encode: str | None = None
    categories: tuple[Any, ...] | None = None
    min_frequency: int | float | None = None
    max_categories: int | None = None
    handle_unknown: str | None = None
    drop: bool | None = None

    def __post_init__(self) -> None:
        _check_choice("impute", self.impute, IMPUTE_STRATEGIES)
        _check_choice("scale", self.scale, SCALERS)
        _check_choice("encode", self.encode, ENCODINGS)
        _check_choice("handle_unknown", self.handle_unknown, HANDLE_UNKNOWN)
        for name in ("missing_indicator", "log1p", "drop"):
            _check_bool(name, getattr(self, name))
        bucketize: object = self.bucketize  # Python callers may pass a mapping or a count
        if bucketize is not None and not isinstance(bucketize, Bucketize):
            object.__setattr__(self, "bucketize", Bucketize.from_value(bucketize))
        self._check_values()
        self._check_combinations()

    def _check_values(self) -> None:
        fill = self.fill_value
        if fill is not None and not (
            isinstance(fill, str | int) or (isinstance(fill, float) and math.isfinite(fill))
        ):
            raise ValidationError(
                f"fill_value must be a string, a finite number or a boolean, not {fill!r:.80}"
            )
        categories: object = self.categories  # Python callers may pass a list
        if categories is not None:
            if isinstance(categories, str | bytes) or not isinstance(categories, Iterable):
                raise ValidationError(
                    f"categories must be a list of levels, not {categories!r:.80}"
                )
            levels = tuple(categories)
            odd = [level for level in levels if not isinstance(level, str | int | float)]
            if odd:
                raise ValidationError(f"categories must be strings or numbers, not {odd[0]!r:.80}")
            if not levels or len(set(map(str, levels))) != len(levels):
                raise ValidationError(
                    f"categories must be a non-empty list of distinct levels, not {levels!r:.200}"
                )
            object.__setattr__(self, "categories", levels)
        freq = self.min_frequency
        if freq is not None and not (
            (_is_int(freq) and freq >= 1) or (isinstance(freq, float) and 0.0 < freq < 1.0)
        ):
            raise ValidationError(
                f"min_frequency must be a count (integer >= 1) or a fraction in (0, 1), "
                f"not {freq!r:.80}"
            )
        cap = self.max_categories
        if cap is not None and not (_is_int(cap) and cap >= 2):
            raise ValidationError(f"max_categories must be an integer >= 2, not {cap!r:.80}")

    def _check_combinations(self) -> None:
        if self.fill_value is not None and self.impute not in (None, "constant"):
            raise ValidationError(
                f"fill_value is only used with impute: constant, not impute: {self.impute}"
            )
        if self.bucketize is not None and self.scale not in (None, "none"):
            raise ValidationError(
                f"scale: {self.scale} does not apply to a bucketized column (the bins "
                "replace scaling); remove one of them"
            )
        if self.encode == "target":
            for name in ("min_frequency", "max_categories", "handle_unknown"):
                if getattr(self, name) is not None:
                    raise ValidationError(
                        f"{name} does not apply to encode: target (unknown and rare levels "
                        "get the smoothed target mean); remove it"
                    )
        if self.encode == "ordinal" and self.handle_unknown is not None:
            raise ValidationError(
                "handle_unknown does not apply to encode: ordinal (unknown levels become -1)"
            )

    @classmethod
    def from_dict(cls, obj: object, where: str = "column") -> ColumnSpec:
        """Parse a mapping of options (``None`` or ``{}`` means "all defaults").

        Args:
            obj: The parsed mapping.
            where: Where it came from, for error messages (``columns.price``).

        Raises:
            ValidationError: Unknown options (listing the valid ones) or bad values.
        """
        if obj is None:
            return cls()
        options = dict(_check_mapping(obj, where))
        valid = [f.name for f in fields(cls)]
        for key in options:
            if key not in valid:
                raise unknown_key_error(key, valid, where)
        try:
            if options.get("bucketize") is not None:
                options["bucketize"] = Bucketize.from_value(options["bucketize"])
            if isinstance(options.get("categories"), list):
                options["categories"] = tuple(options["categories"])
            return cls(**options)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc.message}") from None

    def to_dict(self) -> dict[str, Any]:
        """The options that are set, as plain YAML-able values (round-trips via from_dict)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Bucketize):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            if value is not None:
                out[item.name] = value
        return out

    def merged(self, over: ColumnSpec) -> ColumnSpec:
        """These options with every option set in ``over`` taking precedence.

        An option set in ``over`` also clears the options below that it contradicts
        (a column's ``impute: median`` drops the defaults' ``fill_value``), so a column
        can override its type defaults without restating them.
        """
        below = {f.name: getattr(self, f.name) for f in fields(self)}
        above = {k: v for k, v in vars(over).items() if v is not None}
        if "impute" in above:
            below["fill_value"] = None
        if "bucketize" in above:
            below["scale"] = None
        if above.get("scale", "none") != "none":
            below["bucketize"] = None
        if above.get("encode", below["encode"]) != below["encode"]:
            for name in ("categories", "min_frequency", "max_categories", "handle_unknown"):
                below[name] = None
        return ColumnSpec(**{**below, **above})

    def set_options(self) -> list[str]:
        """Names of the options that are set."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def check_kind(self, kind: str, column: str) -> None:
        """Refuse options that do not fit a column of this kind.

        Args:
            kind: ``numeric``, ``categorical``, ``boolean`` or ``datetime``.
            column: The column name (or ``defaults.<kind>``), for the message.

        Raises:
            ValidationError: Names the option, the column, and the options that do apply.
        """
        allowed = OPTIONS_BY_KIND[kind]
        for name in self.set_options():
            if name not in allowed:
                raise ValidationError(
                    f"option {name!r} does not apply to {kind} column {column!r}; "
                    f"options for {kind} columns: {', '.join(allowed)}",
                    column=column,
                    option=name,
                )
        if self.impute is not None and self.impute not in _IMPUTE_BY_KIND[kind]:
            raise ValidationError(
                f"impute: {self.impute} does not apply to {kind} column {column!r}; "
                f"valid: {', '.join(_IMPUTE_BY_KIND[kind])}",
                column=column,
            )
        self._check_fill_value(kind, column)

    def _check_fill_value(self, kind: str, column: str) -> None:
        value = self.fill_value
        if value is None:
            return
        if kind == "numeric" and (isinstance(value, str | bool)):
            raise ValidationError(
                f"fill_value for numeric column {column!r} must be a number, not {value!r:.80}",
                column=column,
            )
        if kind == "boolean" and (isinstance(value, str) or value not in (0, 1)):
            raise ValidationError(
                f"fill_value for boolean column {column!r} must be true or false, "
                f"not {value!r:.80}",
                column=column,
            )
