"""PII masking applied to Arrow record batches at ingestion, before anything is stored.

Policies (the CLI syntax after ``--mask col=``):

- ``hmac``: HMAC-SHA256 under a secret key, as 64 hex characters. Deterministic (the
  same value under the same key gives the same token, so masked columns still join),
  not reversible, and keyed: without the key nobody can confirm a guess by hashing it.
- ``redact``: every non-null value becomes ``"[REDACTED]"``.
- ``drop``: the column is removed.
- ``generalize:prefix=N``: keep the first N characters of a string. A value of N
  characters or fewer would be kept whole, so it is redacted instead.
- ``generalize:year`` / ``generalize:month`` / ``generalize:day``: truncate timestamps
  and dates (timezone-aware timestamps in their local time). ISO 8601 strings become
  ``"2024"``, ``"2024-03"`` or ``"2024-03-17"``; a string that is not an ISO date is an
  error (never passed through).
- ``generalize:round=N``: round integers and floats to the nearest multiple of N
  (halves away from zero).

Canonical string form hashed by ``hmac`` (UTF-8, no Unicode normalization or case
folding, so ``"Bob"`` and ``"bob"`` differ): strings as they are; binary values as their
bytes; integers in decimal (``"42"``); whole floats in the int64 range as integers (``42.0``
hashes like ``42``, so a join survives pandas turning an int column into floats), other
floats as the shortest round-trip decimal at the column's precision (``"0.1"``,
``"1e-07"``, ``"nan"``, ``"inf"``); booleans ``"true"``/``"false"``; decimals with the
column's scale (``"1.50"``); dates ``"2024-03-17"``; times ``"13:05:09.25"``; timestamps
``"2024-03-17T13:05:09.25"`` (no trailing zeros, so the unit does not matter) plus ``"Z"``
for timezone-aware ones, which are written in UTC. Nulls stay null.
"""

from __future__ import annotations

import datetime as dt
import hmac
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.exceptions import ConfigError, ValidationError

__all__ = ["REDACTED", "MaskPolicy", "Masker", "parse_mask_policy"]

MIN_KEY_BYTES = 16
_EPOCH = dt.datetime(1970, 1, 1)
_UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
_TRUNCATE_CHARS = {"year": 4, "month": 7, "day": 10}
_DAY = r"(0[1-9]|[12]\d|3[01])"
_TIME = r"([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?"
_MONTH = r"(0[1-9]|1[0-2])"
# The shortest ISO 8601 string each truncation accepts: a year needs only "2024".
_ISO_PATTERNS = {
    "year": rf"^\d{{4}}(-{_MONTH}(-{_DAY}{_TIME})?)?$",
    "month": rf"^\d{{4}}-{_MONTH}(-{_DAY}{_TIME})?$",
    "day": rf"^\d{{4}}-{_MONTH}-{_DAY}{_TIME}$",
}
REDACTED = "[REDACTED]"
POLICY_KINDS = ("hmac", "redact", "generalize", "drop")
_VALID_POLICIES = (
    "hmac, redact, drop, generalize:prefix=N, generalize:year, generalize:month, "
    "generalize:day, generalize:round=N"
)
_KEY_HELP = (
    "set MODELYARD_MASK_KEY to a secret of at least 16 bytes (e.g. the output of "
    "`python -c 'import secrets; print(secrets.token_hex(32))'`), or put "
    "`mask_key_file: path/to/key` in modelyard.yaml"
)


@dataclass(frozen=True)
class MaskPolicy:
    """How one column is masked.

    Args:
        kind: ``"hmac"``, ``"redact"``, ``"generalize"`` or ``"drop"``.
        options: For ``generalize`` exactly one of ``{"prefix": N}`` (N >= 1),
            ``{"truncate": "year" | "month" | "day"}`` or ``{"round": N}`` (N > 0);
            empty for the other kinds.

    Raises:
        ValidationError: An unknown kind or option, or an option value out of range.
    """

    kind: str
    options: Mapping[str, int | float | str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in POLICY_KINDS:
            raise ValidationError(
                f"unknown mask policy {self.kind!r}; valid policies: {_VALID_POLICIES}"
            )
        options = dict(self.options)
        object.__setattr__(self, "options", options)
        if self.kind != "generalize":
            if options:
                raise ValidationError(
                    f"mask policy {self.kind!r} takes no options, got {options!r}; "
                    f"valid policies: {_VALID_POLICIES}"
                )
            return
        if len(options) != 1:
            raise ValidationError(
                f"generalize needs exactly one option, got {options!r}; "
                f"valid policies: {_VALID_POLICIES}"
            )
        ((name, value),) = options.items()
        _check_generalize_option(name, value)

    def __str__(self) -> str:
        """The policy in CLI syntax, e.g. ``generalize:prefix=3``."""
        if not self.options:
            return self.kind
        ((name, value),) = self.options.items()
        return f"{self.kind}:{value}" if name == "truncate" else f"{self.kind}:{name}={value}"


def _check_generalize_option(name: str, value: object) -> None:
    if name == "prefix":
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**31
    elif name == "truncate":
        ok = value in _TRUNCATE_CHARS
    elif name == "round":
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value > 0
        )
    else:
        ok = False
    if not ok:
        raise ValidationError(
            f"invalid generalize option {name}={value!r}; valid: prefix=N (a whole number "
            "of characters >= 1), year, month, day, round=N (a number > 0)"
        )


def parse_mask_policy(text: str) -> MaskPolicy:
    """Parse a policy in CLI syntax (what follows ``--mask col=``).

    Args:
        text: ``hmac``, ``redact``, ``drop``, ``generalize:prefix=3``,
            ``generalize:year|month|day`` or ``generalize:round=100``.

    Returns:
        The policy.

    Raises:
        ValidationError: The text names an unknown kind or option; the message lists
            the valid ones.
    """
    if not isinstance(text, str):
        raise ValidationError(
            f"a mask policy must be text, got {type(text).__name__}; "
            f"valid policies: {_VALID_POLICIES}"
        )
    kind, sep, option = (part.strip() for part in text.strip().partition(":"))
    kind = kind.lower()
    invalid = ValidationError(f"invalid mask policy {text!r}; valid policies: {_VALID_POLICIES}")
    if kind != "generalize":
        if sep or kind not in POLICY_KINDS:
            raise invalid
        return MaskPolicy(kind)
    name, eq, raw = (part.strip() for part in option.partition("="))
    if not eq and name in _TRUNCATE_CHARS:
        return MaskPolicy("generalize", {"truncate": name})
    if eq and name == "prefix":
        chars = int(raw) if raw.isascii() and raw.isdigit() else raw
        return MaskPolicy("generalize", {"prefix": chars})
    if eq and name == "round":
        return MaskPolicy("generalize", {"round": _parse_number(raw)})
    raise invalid


def _parse_number(raw: str) -> int | float | str:
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            return raw  # MaskPolicy names it in its error


class Masker:
    """Masks the PII columns of record batches according to one policy per column.

    Args:
        policies: Column name -> policy (text such as ``"hmac"`` or a ``MaskPolicy``).
        key: The HMAC secret from configuration; required when any policy is ``hmac``.

    Raises:
        ValidationError: A policy does not parse or a column name is not a string.

    Example:
        >>> masker = Masker({"email": "hmac", "ssn": "drop"}, key=secret)
        >>> masker.check(batch.schema)
        >>> safe = masker.apply(batch)
    """

    def __init__(self, policies: Mapping[str, str | MaskPolicy], *, key: bytes | None) -> None:
        parsed: dict[str, MaskPolicy] = {}
        for column, policy in policies.items():
            if not isinstance(column, str) or not column:
                raise ValidationError(
                    f"mask column names must be non-empty strings, got {column!r}"
                )
            parsed[column] = policy if isinstance(policy, MaskPolicy) else parse_mask_policy(policy)
        self._policies = parsed
        self._key = key
        self._checked: pa.Schema | None = None

    def __repr__(self) -> str:  # never show the key
        return f"Masker({self.describe()!r})"

    def describe(self) -> dict[str, str]:
        """Column -> policy text, as recorded on the dataset version (never the key)."""
        return {column: str(policy) for column, policy in self._policies.items()}

    def check(self, schema: pa.Schema) -> None:
        """Check that every policy can be applied to ``schema``.

        Args:
            schema: The schema of the batches that will be masked.

        Raises:
            ConfigError: ``hmac`` is used without a key, or the key is not bytes of at
                least 16 bytes.
            ValidationError: A column is missing or duplicated, or its type does not suit
                its policy (e.g. ``generalize:month`` on an integer column).
        """
        if self._checked is not None and self._checked.equals(schema):
            return
        self._check_key()
        for column, policy in self._policies.items():
            matches = schema.get_all_field_indices(column)
            if not matches:
                available = ", ".join(schema.names) or "(none)"
                raise ValidationError(
                    f"cannot mask unknown column {column!r}; available columns: {available}",
                    column=column,
                )
            if len(matches) > 1:
                raise ValidationError(
                    f"cannot mask column {column!r}: it appears {len(matches)} times in the "
                    "schema; rename the duplicates first",
                    column=column,
                )
            _check_type(column, policy, _value_type(schema.field(column).type))
        self._checked = schema

    def output_schema(self, schema: pa.Schema) -> pa.Schema:
        """The schema ``apply`` produces for batches of ``schema``.

        ``hmac``, ``redact``, prefixes and ISO date strings become ``string``; truncated
        temporal columns and rounded numbers keep their type; dropped columns vanish.
        Masked fields lose their field metadata, and pandas metadata is removed (it
        would describe the raw columns).

        Raises:
            ConfigError, ValidationError: As ``check``.
        """
        self.check(schema)
        fields = []
        for original in schema:
            policy = self._policies.get(original.name)
            if policy is None:
                fields.append(original)
            elif policy.kind != "drop":
                out_type = _output_type(policy, _value_type(original.type))
                fields.append(pa.field(original.name, out_type, nullable=original.nullable))
        metadata = {k: v for k, v in (schema.metadata or {}).items() if k != b"pandas"}
        return pa.schema(fields, metadata=metadata or None)

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Mask one batch (checking its schema first, so masking cannot be skipped).

        Args:
            batch: Raw rows.

        Returns:
            The masked batch, with ``output_schema(batch.schema)``.

        Raises:
            ConfigError, ValidationError: As ``check``; also ValidationError for a value
                that cannot be generalized (a string that is not an ISO date, a number
                that overflows when rounded). The message never contains the value.
        """
        schema = self.output_schema(batch.schema)
        arrays = []
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            policy = self._policies.get(name)
            if policy is None:
                arrays.append(column)
            elif policy.kind != "drop":
                arrays.append(self._mask(name, policy, column))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _check_key(self) -> None:
        uses_hmac = [c for c, p in self._policies.items() if p.kind == "hmac"]
        if self._key is None:
            if uses_hmac:
                raise ConfigError(
                    f"column {uses_hmac[0]!r} uses the 'hmac' mask policy but no mask key is "
                    f"configured; {_KEY_HELP}. There is no silent fallback to an unkeyed "
                    "hash: anyone could reverse it by hashing guesses."
                )
            return
        if not isinstance(self._key, bytes):
            raise ConfigError(
                f"the mask key must be bytes, got {type(self._key).__name__}; {_KEY_HELP}"
            )
        if len(self._key) < MIN_KEY_BYTES:
            raise ConfigError(
                f"the mask key is {len(self._key)} bytes; it must be at least "
                f"{MIN_KEY_BYTES}; {_KEY_HELP}"
            )

    def _mask(self, column: str, policy: MaskPolicy, array: pa.Array) -> pa.Array:
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if policy.kind == "hmac":
            return _hmac_array(array, self._key or b"")  # check() refused a missing key
        if policy.kind == "redact":
            return _redact(array)
        option, value = next(iter(policy.options.items()))
        if option == "prefix":
            return _prefix(array, int(value))
        if option == "truncate":
            return _truncate(column, array, str(value))
        return _round(column, array, value)


def _value_type(type_: pa.DataType) -> pa.DataType:
    return type_.value_type if pa.types.is_dictionary(type_) else type_


def _is_text(type_: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_string_view(type_)
    )


def _is_binary(type_: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(type_)
        or pa.types.is_large_binary(type_)
        or pa.types.is_binary_view(type_)
        or pa.types.is_fixed_size_binary(type_)
    )


def _check_type(column: str, policy: MaskPolicy, type_: pa.DataType) -> None:
    if policy.kind in ("drop", "redact"):
        return
    option = next(iter(policy.options), None)
    if policy.kind == "hmac":
        ok = _canonicalizer(type_) is not None
        valid = "string, binary, integer, float, boolean, decimal, date, time, timestamp"
    elif option == "prefix":
        ok, valid = _is_text(type_), "string"
    elif option == "truncate":
        ok = _is_text(type_) or pa.types.is_timestamp(type_) or pa.types.is_date(type_)
        valid = "timestamp, date, ISO 8601 string"
    else:
        multiple = float(policy.options["round"])
        ok = pa.types.is_floating(type_) or (
            pa.types.is_integer(type_)
            and multiple.is_integer()
            and multiple <= np.iinfo(type_.to_pandas_dtype()).max
        )
        valid = "float, or integer with a whole-number multiple that fits the type"
    if not ok:
        raise ValidationError(
            f"mask policy {str(policy)!r} cannot be applied to column {column!r} of type "
            f"{type_}; it needs a column of type: {valid}",
            column=column,
            policy=str(policy),
        )


def _output_type(policy: MaskPolicy, type_: pa.DataType) -> pa.DataType:
    if policy.kind == "generalize" and "round" in policy.options:
        return type_
    if policy.kind == "generalize" and not _is_text(type_) and "truncate" in policy.options:
        return type_
    return pa.string()


def _hmac_array(array: pa.Array, key: bytes) -> pa.Array:
    # Hash each distinct value once, then spread the tokens back over the rows.
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    encoded = pc.dictionary_encode(array)
    canonical = _canonicalizer(array.type) or (lambda values: [])  # check() vetted the type
    tokens = [hmac.digest(key, raw, "sha256").hex() for raw in canonical(encoded.dictionary)]
    return pc.take(pa.array(tokens, pa.string()), encoded.indices)


def _canonicalizer(type_: pa.DataType) -> Callable[[pa.Array], list[bytes]] | None:
    """The function that writes non-null values of ``type_`` in canonical form."""
    if _is_text(type_) or _is_binary(type_):
        return lambda values: values.cast(pa.large_binary()).to_pylist()
    if pa.types.is_boolean(type_):
        return lambda values: [b"true" if v else b"false" for v in values.to_pylist()]
    if pa.types.is_integer(type_) or pa.types.is_decimal(type_):
        return lambda values: [str(v).encode() for v in values.to_pylist()]
    if pa.types.is_floating(type_):
        return _canonical_floats
    if pa.types.is_date(type_):
        return lambda values: [v.isoformat().encode() for v in values.to_pylist()]
    if pa.types.is_timestamp(type_) or pa.types.is_time(type_):
        return _canonical_clock
    if pa.types.is_null(type_):
        return lambda values: []
    return None


def _canonical_floats(values: pa.Array) -> list[bytes]:
    # numpy's str() is the shortest round-trip form at the column's own precision; whole
    # numbers in the int64 range read like the integers pandas turned into floats.
    out = []
    for v in values.to_numpy(zero_copy_only=False):
        if math.isfinite(v) and float(v).is_integer() and abs(v) < 2**63:
            out.append(str(int(v)).encode())
        else:
            out.append(str(v).encode())
    return out


def _canonical_clock(values: pa.Array) -> list[bytes]:
    type_: Any = values.type
    digits = _UNIT_DIGITS[type_.unit]
    per_second = 10**digits
    is_time = pa.types.is_time(type_)
    zone = "Z" if not is_time and type_.tz is not None else ""
    out = []
    integers = pa.int32() if type_.bit_width == 32 else pa.int64()  # time32 casts only to int32
    for raw in values.cast(integers).to_pylist():
        seconds, fraction = divmod(raw, per_second)
        try:
            moment = _EPOCH + dt.timedelta(seconds=seconds)
        except OverflowError as exc:
            raise ValidationError(
                f"a timestamp of type {type_} is outside years 1-9999 and cannot be hashed"
            ) from exc
        text = moment.time().isoformat() if is_time else moment.isoformat()
        if fraction:
            text += "." + f"{fraction:0{digits}d}".rstrip("0")
        out.append((text + zone).encode())
    return out


def _redact(array: pa.Array) -> pa.Array:
    return pc.if_else(pc.is_valid(array), pa.scalar(REDACTED), pa.scalar(None, pa.string()))


def _prefix(array: pa.Array, chars: int) -> pa.Array:
    text = array.cast(pa.large_string())
    kept = pc.utf8_slice_codeunits(text, 0, chars)
    whole = pc.less_equal(pc.utf8_length(text), chars)
    return pc.if_else(whole, pa.scalar(REDACTED), kept).cast(pa.string())


def _truncate(column: str, array: pa.Array, unit: str) -> pa.Array:
    if not _is_text(array.type):
        return pc.floor_temporal(array, unit=unit)
    text = array.cast(pa.large_string())
    bad = pc.invert(pc.fill_null(pc.match_substring_regex(text, _ISO_PATTERNS[unit]), True))
    n_bad = pc.sum(bad).as_py() or 0
    if n_bad:
        raise ValidationError(
            f"cannot apply generalize:{unit} to column {column!r}: {n_bad} value(s) are "
            f"not ISO 8601 dates (first at row {pc.index(bad, True).as_py()}); "
            "clean or drop them first",
            column=column,
            rows=n_bad,
        )
    return pc.utf8_slice_codeunits(text, 0, _TRUNCATE_CHARS[unit]).cast(pa.string())


def _round(column: str, array: pa.Array, multiple: int | float | str) -> pa.Array:
    if pa.types.is_integer(array.type):
        multiple = int(multiple)
    try:
        return pc.round_to_multiple(array, multiple=multiple, round_mode="half_towards_infinity")
    except pa.ArrowInvalid as exc:
        raise ValidationError(
            f"cannot round column {column!r} of type {array.type} to a multiple of "
            f"{multiple}: {exc}; use a wider type or a smaller multiple",
            column=column,
        ) from exc
