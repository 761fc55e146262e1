"""Search spaces: what Optuna may vary for a model family, and how users override it.

A space maps parameter names to :class:`Param`. A family ships a default space
(``families.py``); a user narrows, widens, fixes or re-chooses parameters in YAML::

    C: {low: 0.01, high: 100, log: true}   # a numeric range
    penalty: [l1, l2]                      # categorical choices
    max_depth: 6                           # a fixed value (never tuned)
    hidden_layer_sizes: {value: [64, 32]}  # a fixed value that is itself a list

:func:`parse_space` turns those overrides into a new space, rejecting typos and
impossible ranges; :func:`suggest` draws one value from an Optuna trial and
:func:`sample_defaults` gives the fixed point used for the untuned baseline.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from numbers import Real
from typing import TYPE_CHECKING, Any, Literal

from modelyard.exceptions import ValidationError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "Param",
    "fixed_params",
    "parse_space",
    "sample_defaults",
    "suggest",
    "suggest_all",
    "to_trial_params",
    "unknown_name_message",
]

ParamKind = Literal["float", "int", "categorical"]
_KINDS = ("float", "int", "categorical")
_RANGE_KEYS = frozenset({"low", "high", "log", "step", "default", "kind"})
_PRIMITIVES = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class Param:
    """One tunable (or fixed) hyperparameter.

    Args:
        kind: ``"float"``, ``"int"`` or ``"categorical"``.
        low: Lower bound (numeric kinds), inclusive.
        high: Upper bound (numeric kinds), inclusive.
        log: Sample on a log scale (needs ``low > 0``).
        choices: The options of a categorical parameter; one choice means fixed.
        step: Grid step of a numeric parameter (not with ``log`` for floats).
        default: The value of the untuned baseline; ``None`` means the midpoint
            of a numeric range (geometric on a log scale) or the first choice.
    """

    kind: ParamKind
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    step: float | None = None
    default: Any = None

    @classmethod
    def fixed(cls, value: Any) -> Param:
        """A parameter that always takes ``value`` and is never tuned.

        Args:
            value: The value; lists become tuples so the Param stays hashable.

        Returns:
            A one-choice categorical Param.
        """
        value = tuple(value) if isinstance(value, list) else value
        return cls("categorical", choices=(value,), default=value)

    @property
    def is_fixed(self) -> bool:
        """True when the parameter has exactly one possible value."""
        return self.kind == "categorical" and len(self.choices) == 1


def unknown_name_message(what: str, name: object, valid: Iterable[str], where: str) -> str:
    """A "did you mean" message for an unknown name.

    Args:
        what: What the name should have been (``"parameter"``, ``"model family"``).
        name: The unknown name.
        valid: The names that would have been accepted.
        where: Context appended after the name (``" for family 'linear'"``).

    Returns:
        The message, with the closest valid name suggested when there is one.
    """
    names = sorted(valid)
    close = difflib.get_close_matches(str(name), names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {what} {name!r}{where}{hint}; valid: {', '.join(names) or '(none)'}"


def _fail(family: str, name: str, problem: str) -> ValidationError:
    return ValidationError(
        f"search space of family '{family}', parameter '{name}': {problem}",
        family=family,
        parameter=name,
    )


def _number(family: str, name: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise _fail(family, name, f"{key} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise _fail(family, name, f"{key} must be finite, got {value!r}")
    return number


def _check(family: str, name: str, param: Param) -> Param:
    """Reject a Param that Optuna would refuse or silently change."""
    if param.kind not in _KINDS:
        raise _fail(family, name, f"kind must be one of {', '.join(_KINDS)}, got {param.kind!r}")
    if param.kind == "categorical":
        if not param.choices:
            raise _fail(family, name, "choices must not be empty")
        labels = [repr(choice) for choice in param.choices]
        if len(set(labels)) != len(labels):
            raise _fail(family, name, f"choices must be distinct, got {list(param.choices)!r}")
        return param
    if param.low is None or param.high is None:
        raise _fail(family, name, "a numeric range needs both low and high")
    low = _number(family, name, "low", param.low)
    high = _number(family, name, "high", param.high)
    if low > high:
        raise _fail(family, name, f"low ({param.low}) is greater than high ({param.high})")
    if param.log and low <= 0:
        raise _fail(family, name, f"a log scale needs low > 0, got low={param.low}")
    if param.kind == "int" and not (low.is_integer() and high.is_integer()):
        raise _fail(family, name, f"an int range needs whole bounds, got {param.low}..{param.high}")
    if param.step is not None:
        step = _number(family, name, "step", param.step)
        if step <= 0:
            raise _fail(family, name, f"step must be > 0, got {param.step}")
        if param.log and (param.kind == "float" or step != 1):
            raise _fail(family, name, "step cannot be combined with a log scale")
        # the same decimal test Optuna applies before it warns and moves ``high``
        if (Decimal(str(high)) - Decimal(str(low))) % Decimal(str(step)) != 0:
            raise _fail(
                family, name, f"high - low ({high - low:g}) is not a multiple of step ({step:g})"
            )
        if param.kind == "int" and not step.is_integer():
            raise _fail(family, name, f"an int step must be whole, got {param.step}")
    if param.kind == "int":
        return replace(param, low=int(low), high=int(high))
    return replace(param, low=low, high=high)


def _is_value_of(kind: str, value: Any) -> bool:
    """Whether ``value`` can be a value of a numeric parameter of this kind."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        return False
    return kind != "int" or float(value).is_integer()


def _within(param: Param, value: Any) -> bool:
    if param.low is None or param.high is None or not _is_value_of(param.kind, value):
        return False
    return bool(param.low <= value <= param.high)


def _from_mapping(family: str, name: str, spec: Mapping[Any, Any], base: Param) -> Param:
    keys = set(spec)
    if "value" in keys:
        if keys != {"value"}:
            raise _fail(family, name, "'value' fixes the parameter and takes no other keys")
        return Param.fixed(spec["value"])
    if "choices" in keys:
        if not keys <= {"choices", "default"}:
            raise _fail(family, name, "'choices' takes only 'default' beside it")
        return _from_choices(family, name, spec["choices"], spec.get("default", base.default))
    unknown = keys - _RANGE_KEYS
    if unknown:
        valid = ", ".join(sorted(_RANGE_KEYS | {"value", "choices"}))
        raise _fail(family, name, f"unknown keys {sorted(map(str, unknown))}; valid: {valid}")
    numeric = base.kind != "categorical"
    low = spec.get("low", base.low if numeric else None)
    high = spec.get("high", base.high if numeric else None)
    kind = spec.get("kind")
    if kind is None:
        bounds = (low, high, spec.get("step", 1))
        whole = all(isinstance(v, int) and not isinstance(v, bool) for v in bounds)
        kind = base.kind if numeric else ("int" if whole else "float")
    log = spec.get("log", base.log if numeric else False)
    if not isinstance(log, bool):
        raise _fail(family, name, f"log must be true or false, got {log!r}")
    param = _check(family, name, Param(kind, low, high, log, step=spec.get("step")))
    default = spec.get("default", base.default)
    return replace(param, default=default if _within(param, default) else None)


def _from_choices(family: str, name: str, choices: Any, default: Any) -> Param:
    if not isinstance(choices, list | tuple):
        raise _fail(family, name, f"choices must be a list, got {choices!r}")
    frozen = tuple(tuple(c) if isinstance(c, list) else c for c in choices)
    param = _check(family, name, Param("categorical", choices=frozen))
    return replace(param, default=default if default in frozen else None)


def parse_space(
    overrides: Mapping[str, Any], defaults: Mapping[str, Param], *, family: str
) -> dict[str, Param]:
    """Apply a user's YAML overrides to a family's default space.

    Args:
        overrides: ``{name: spec}``; a spec is a mapping (``low``/``high``/``log``/
            ``step``/``default``/``kind`` for a range, ``choices``, or ``value``),
            a list (choices), or a scalar (a fixed value).
        defaults: The family's default space.
        family: The family's name, for messages.

    Returns:
        The new space: the defaults with each overridden parameter replaced.

    Raises:
        ValidationError: An unknown parameter name (the closest valid one is
            suggested), ``low > high``, a log scale with ``low <= 0``, empty or
            duplicate choices, a step that does not divide the range, or a
            non-numeric fixed value for a numeric parameter.
    """
    if not isinstance(overrides, Mapping):
        raise ValidationError(
            f"the search space of family '{family}' must be a mapping of parameter "
            f"names to ranges, choices or values; got {type(overrides).__name__}",
            family=family,
        )
    space = dict(defaults)
    for name, spec in overrides.items():
        if name not in defaults:
            where = f" in the search space of family '{family}'"
            raise ValidationError(
                unknown_name_message("parameter", name, map(str, defaults), where),
                family=family,
                parameter=str(name),
            )
        base = defaults[name]
        if isinstance(spec, Mapping):
            space[name] = _from_mapping(family, name, spec, base)
        elif isinstance(spec, list | tuple):
            space[name] = _from_choices(family, name, spec, base.default)
        else:
            if base.kind != "categorical" and not _is_value_of(base.kind, spec):
                kind = "a whole number" if base.kind == "int" else "a number"
                raise _fail(family, name, f"a fixed value must be {kind}, got {spec!r}")
            space[name] = Param.fixed(spec)
    return space


def _midpoint(param: Param) -> Any:
    low, high = float(param.low or 0.0), float(param.high or 0.0)
    mid = math.sqrt(low * high) if param.log else (low + high) / 2
    if param.step is not None:
        mid = low + round((mid - low) / param.step) * param.step
    return round(mid) if param.kind == "int" else mid


def sample_defaults(space: Mapping[str, Param]) -> dict[str, Any]:
    """The fixed point of a space used for the untuned baseline.

    Args:
        space: A search space.

    Returns:
        ``{name: value}``: each Param's ``default`` when it lies in the space,
        else the midpoint of a numeric range (geometric on a log scale) or the
        first choice.
    """
    values: dict[str, Any] = {}
    for name, param in space.items():
        if param.kind == "categorical":
            values[name] = param.default if param.default in param.choices else param.choices[0]
        elif param.default is not None and _within(param, param.default):
            values[name] = int(param.default) if param.kind == "int" else param.default
        else:
            values[name] = _midpoint(param)
    return values


def suggest(trial: optuna.trial.BaseTrial, name: str, param: Param) -> Any:
    """Draw one value for ``param`` from an Optuna trial.

    Fixed parameters (one choice) are returned without asking the trial, so they
    do not appear in ``trial.params``; log them from :func:`fixed_params`.
    Categorical choices Optuna cannot store (lists, dicts, tuples) are suggested
    by their ``repr`` and mapped back.

    Args:
        trial: The trial (``optuna.Trial`` or ``optuna.trial.FixedTrial``).
        name: The name Optuna records (prefix it when one study tunes many families).
        param: What to draw.

    Returns:
        The value.
    """
    if param.kind == "float":
        return trial.suggest_float(name, param.low, param.high, log=param.log, step=param.step)  # type: ignore[arg-type]
    if param.kind == "int":
        step = 1 if param.step is None else int(param.step)
        return trial.suggest_int(name, int(param.low), int(param.high), step=step, log=param.log)  # type: ignore[arg-type]
    if param.is_fixed:
        return param.choices[0]
    if _optuna_native(param):
        return trial.suggest_categorical(name, param.choices)
    by_label = {repr(choice): choice for choice in param.choices}
    return by_label[trial.suggest_categorical(name, list(by_label))]


def _optuna_native(param: Param) -> bool:
    return all(isinstance(choice, _PRIMITIVES) for choice in param.choices)


def suggest_all(
    trial: optuna.trial.BaseTrial, space: Mapping[str, Param], prefix: str = ""
) -> dict[str, Any]:
    """Draw every parameter of a space (fixed ones included) from a trial.

    Args:
        trial: The trial.
        space: The search space.
        prefix: Prepended to each name Optuna records (e.g. ``"lightgbm."``).

    Returns:
        ``{name: value}`` with the unprefixed names, ready for ``Family.build``.
    """
    return {name: suggest(trial, prefix + name, param) for name, param in space.items()}


def fixed_params(space: Mapping[str, Param]) -> dict[str, Any]:
    """The parameters of a space that are fixed (never tuned), with their value.

    Args:
        space: The search space.

    Returns:
        ``{name: value}`` for each one-choice parameter.
    """
    return {name: param.choices[0] for name, param in space.items() if param.is_fixed}


def to_trial_params(
    space: Mapping[str, Param], values: Mapping[str, Any], prefix: str = ""
) -> dict[str, Any]:
    """Values as Optuna records them, for ``study.enqueue_trial``.

    The inverse of :func:`suggest_all`: fixed parameters are left out (they are
    never asked of the trial), non-primitive choices become their ``repr`` label.

    Args:
        space: The search space.
        values: ``{name: value}``, e.g. :func:`sample_defaults` of the same space.
        prefix: The prefix given to :func:`suggest_all`.

    Returns:
        ``{prefix + name: value}``.
    """
    recorded: dict[str, Any] = {}
    for name, value in values.items():
        param = space.get(name)
        if param is None or param.is_fixed:
            continue
        native = param.kind != "categorical" or _optuna_native(param)
        recorded[prefix + name] = value if native else repr(value)
    return recorded
