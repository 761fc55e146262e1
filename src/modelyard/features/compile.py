"""Compile a :class:`FeatureSpec` against a training frame into a ColumnTransformer.

The ColumnTransformer is the first stage of the model pipeline, so serving applies the
very transforms training fitted. Columns that share their resolved options share one
transformer (named after the kind and the options that differ from the kind's
defaults, e.g. ``numeric`` or ``numeric_mean_robust_log1p``); missing-value indicators
come from one ``missing`` transformer and each interaction from ``interaction_<n>``.
Output names are ``<transformer>__<feature>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.impute import MissingIndicator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures

from modelyard.exceptions import ValidationError
from modelyard.features.kinds import column_kinds
from modelyard.features.options import ColumnSpec
from modelyard.features.spec import FeatureSpec, Interaction
from modelyard.features.steps import BUILTIN_DEFAULTS, column_pipeline, numeric_steps
from modelyard.features.transformers import AsObject

__all__ = ["build_preprocessor", "describe_preprocessor", "feature_names_out"]

_NO_OPTIONS = ColumnSpec()
# Name parts for options whose values are free-form (a fill value may hold "__", which
# scikit-learn refuses in a transformer name); enumerated options use their value.
_TOKENS = {
    "fill_value": "fill",
    "log1p": "log1p",
    "bucketize": "bins",
    "categories": "levels",
    "min_frequency": "rare",
    "max_categories": "capped",
}


@dataclass(frozen=True)
class _Plan:
    """What happens to one feature column."""

    kind: str
    spec: ColumnSpec  # resolved: built-in defaults, then type defaults, then column options
    indicator: bool


def _show(names: Iterable[str], limit: int = 20) -> str:
    items = [repr(name) for name in names]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return (", ".join(items[:limit]) + more) or "(none)"


def _check_frame(frame: object) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(
            f"build_preprocessor needs the training features as a pandas DataFrame, "
            f"not {type(frame).__name__}"
        )
    bad = [c for c in frame.columns if not isinstance(c, str)]
    if bad:
        raise ValidationError(
            f"column names must be strings, got {_show(map(str, bad))}; "
            "rename them, e.g. frame.columns = frame.columns.astype(str)"
        )
    repeated = sorted(set(frame.columns[frame.columns.duplicated()]))
    if repeated:
        raise ValidationError(f"the frame has repeated column names: {_show(repeated)}")
    if len(frame) == 0:
        raise ValidationError(
            "the training frame has no rows; preprocessing is fitted on data, so pass "
            "at least one row (in practice, the training split)"
        )
    return frame


def _feature_columns(
    spec: FeatureSpec, frame: pd.DataFrame, target: str | None, exclude: Iterable[str]
) -> list[str]:
    """The columns that become features; checks every name the spec mentions."""
    available = [c for c in frame.columns if c != target]
    mentioned = {
        "columns": list(spec.columns),
        "include": list(spec.include),
        "drop": list(spec.drop),
        "interactions": [c for item in spec.interactions for c in item.columns],
    }
    for section, names in mentioned.items():
        for name in names:
            if name == target:
                raise ValidationError(
                    f"{section} names {name!r}, which is the target; the target is never a "
                    "feature, so take it out of the spec",
                    column=name,
                )
            if name not in frame.columns:
                raise ValidationError(
                    f"unknown column {name!r} in {section}; available columns: {_show(available)}",
                    column=name,
                )
    excluded = set(exclude) - set(spec.include)
    for name in [*spec.columns, *mentioned["interactions"]]:
        if name in excluded:
            raise ValidationError(
                f"column {name!r} has options in the spec but is excluded (an identifier or "
                "masked column); list it under include to use it as a feature",
                column=name,
            )
    return [c for c in available if c not in excluded and c not in spec.drop]


def _resolve(spec: FeatureSpec, name: str, kind: str, column: pd.Series) -> _Plan:
    user = spec.defaults.get(kind, _NO_OPTIONS).merged(spec.columns.get(name, _NO_OPTIONS))
    user.check_kind(kind, name)
    resolved = BUILTIN_DEFAULTS[kind].merged(user)
    nulls = column.isna()
    if not resolved.drop and nulls.all() and resolved.impute != "constant":
        raise ValidationError(
            f"column {name!r} has no values (every row is null), so it cannot be "
            f"imputed from the data; drop it (drop: [{name}]) or give it "
            "impute: constant with a fill_value",
            column=name,
        )
    if kind == "categorical" and resolved.categories is not None and not resolved.drop:
        _check_levels(name, column, resolved.categories)
    indicator = resolved.missing_indicator
    return _Plan(kind, resolved, bool(nulls.any()) if indicator is None else indicator)


def _check_levels(name: str, column: pd.Series, categories: tuple[Any, ...]) -> None:
    levels = {str(level) for level in categories}
    seen = AsObject().fit_transform(column.to_frame())[:, 0]
    unknown = sorted({v for v in seen if isinstance(v, str) and v not in levels})
    if unknown:
        raise ValidationError(
            f"column {name!r} has values that are not in its categories: {_show(unknown, 10)}; "
            f"add them to categories (now {_show(levels, 10)}) or clean the data",
            column=name,
        )


def _group_name(kind: str, spec: ColumnSpec, taken: set[str]) -> str:
    default = BUILTIN_DEFAULTS[kind]
    parts = [kind]
    for item in fields(ColumnSpec):
        value = getattr(spec, item.name)
        skip = item.name in ("missing_indicator", "drop") or value is None
        skip = skip or (item.name == "log1p" and value is False)
        if skip or value == getattr(default, item.name):
            continue
        if item.name in _TOKENS:
            parts.append(_TOKENS[item.name])
        else:
            parts.append("unscaled" if value == "none" else str(value))
    name, n = "_".join(parts), 2
    while name in taken:
        name, n = f"{'_'.join(parts)}_{n}", n + 1
    taken.add(name)
    return name


def _unbinned(spec: ColumnSpec) -> ColumnSpec:
    """The options of a column's copy that enters an interaction.

    Products of bin numbers mean little, so a bucketized column enters imputed and
    standard-scaled, as a numeric column with no options would.
    """
    if spec.bucketize is None:
        return spec
    return replace(spec, bucketize=None, scale=spec.scale or "standard")


def _interaction(item: Interaction, plans: dict[str, _Plan]) -> Pipeline:
    for name in item.columns:
        if name not in plans or plans[name].kind != "numeric":
            kind = plans[name].kind if name in plans else "dropped"
            raise ValidationError(
                f"interactions use numeric columns only; {name!r} is {kind}",
                column=name,
            )
    prepare = ColumnTransformer(
        [
            (f"c{i}", Pipeline(numeric_steps(_unbinned(plans[name].spec), bucketize=False)), [name])
            for i, name in enumerate(item.columns)
        ],
        sparse_threshold=0.0,
        verbose_feature_names_out=False,
    )
    degree = (2, item.degree)  # degree 1 terms are the columns themselves, already output
    poly = PolynomialFeatures(degree, interaction_only=item.interaction_only, include_bias=False)
    return Pipeline([("prepare", prepare), ("poly", poly)])


def build_preprocessor(
    spec: FeatureSpec,
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    exclude: Iterable[str] = (),
) -> ColumnTransformer:
    """Compile ``spec`` for the columns of ``frame`` into an unfitted ColumnTransformer.

    Each column's options are the built-in defaults for its kind, overridden by
    ``spec.defaults[kind]``, overridden by ``spec.columns[name]``. The result takes a
    DataFrame, outputs a dense float64 array, and is cloneable and picklable.

    Args:
        spec: The preprocessing spec.
        frame: The training features (a target column in it is ignored).
        target: Name of the target column, never a feature.
        exclude: Identifier or masked columns, left out unless listed in ``spec.include``.

    Returns:
        The ColumnTransformer to put first in the model pipeline.

    Raises:
        ValidationError: Not a DataFrame, no rows, non-string or repeated column names; a
            spec column that does not exist (lists the available ones) or is the target;
            an option that does not fit the column's kind; an all-null feature column;
            categories that miss values of the column; no feature column left.

    Example:
        >>> pre = build_preprocessor(FeatureSpec(), train.drop(columns="churn"))
        >>> model = Pipeline([("features", pre), ("model", LogisticRegression())])
    """
    frame = _check_frame(frame)
    names = _feature_columns(spec, frame, target, exclude)
    kinds = column_kinds(frame[names])
    plans = {name: _resolve(spec, name, kinds[name], frame[name]) for name in names}
    plans = {name: plan for name, plan in plans.items() if not plan.spec.drop}
    if not plans:
        raise ValidationError(
            f"no feature columns left: every column of {_show(frame.columns)} is the target, "
            "excluded or dropped"
        )
    groups: dict[tuple[str, ColumnSpec], list[str]] = {}
    for name, plan in plans.items():
        key = (plan.kind, replace(plan.spec, missing_indicator=None))
        groups.setdefault(key, []).append(name)
    taken: set[str] = set()
    transformers: list[tuple[str, Any, list[str]]] = [
        (_group_name(kind, spec_, taken), column_pipeline(kind, spec_, len(cols)), cols)
        for (kind, spec_), cols in groups.items()
    ]
    flagged = [name for name, plan in plans.items() if plan.indicator]
    if flagged:
        indicator = MissingIndicator(missing_values=np.nan, features="all")
        transformers.append(
            (
                "missing",
                Pipeline([("nulls", AsObject(stringify=False)), ("flag", indicator)]),
                flagged,
            )
        )
    for i, item in enumerate(spec.interactions, start=1):
        transformers.append((f"interaction_{i}", _interaction(item, plans), list(item.columns)))
    return ColumnTransformer(
        transformers, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True
    )


def _first_stage(preprocessor: Any) -> ColumnTransformer:
    stage = preprocessor.steps[0][1] if isinstance(preprocessor, Pipeline) else preprocessor
    if not isinstance(stage, ColumnTransformer):
        raise ValidationError(
            f"expected the ColumnTransformer from build_preprocessor (or a Pipeline that "
            f"starts with it), not {type(stage).__name__}"
        )
    return stage


def feature_names_out(preprocessor: Any) -> list[str]:
    """The names of the columns a fitted preprocessor outputs, in order.

    Args:
        preprocessor: The fitted ColumnTransformer, or a fitted Pipeline that starts with it.

    Returns:
        Names such as ``numeric__age``, ``categorical__plan_basic``,
        ``missing__missingindicator_age``, ``interaction_1__age income``.

    Raises:
        ValidationError: The preprocessor has not been fitted.
    """
    stage = _first_stage(preprocessor)
    try:
        return [str(name) for name in stage.get_feature_names_out()]
    except NotFittedError:
        raise ValidationError(
            "the preprocessor is not fitted; fit it (or the pipeline that holds it) on the "
            "training data before asking for its output names"
        ) from None


def describe_preprocessor(preprocessor: Any) -> list[dict[str, Any]]:
    """What each transformer does to which columns, fitted or not (for logs and model cards).

    Args:
        preprocessor: A ColumnTransformer from :func:`build_preprocessor`, or a Pipeline
            that starts with one.

    Returns:
        One ``{"name", "columns", "steps"}`` mapping per transformer; ``steps`` are the
        scikit-learn reprs, showing only parameters that differ from their defaults.
    """
    stage = _first_stage(preprocessor)
    entries = getattr(stage, "transformers_", None) or stage.transformers
    out: list[dict[str, Any]] = []
    for name, transformer, columns in entries:
        if name == "remainder":
            continue
        steps = transformer.steps if isinstance(transformer, Pipeline) else [(name, transformer)]
        out.append(
            {"name": name, "columns": list(columns), "steps": [repr(step) for _, step in steps]}
        )
    return out
