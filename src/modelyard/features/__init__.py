"""Features: a declarative preprocessing spec compiled to a scikit-learn ColumnTransformer.

The package owns the feature spec (:class:`FeatureSpec`: type defaults, per-column
options, interactions, include/drop lists, read from YAML or Python), column kinds
(:func:`column_kinds`), and the compiler (:func:`build_preprocessor`) whose
ColumnTransformer becomes the first stage of the model pipeline, so serving applies
exactly the transforms training fitted. Modules:

- ``options``: :class:`ColumnSpec` and :class:`Bucketize`, the options of one column.
- ``spec``: :class:`FeatureSpec`, :class:`Interaction`, YAML parsing.
- ``kinds``: numeric / categorical / boolean / datetime, from the dtypes and values.
- ``steps``: the scikit-learn steps for each kind, with built-in defaults.
- ``transformers``: the few custom transformers (:class:`AsFloat`, :class:`AsObject`,
  :class:`Log1p`, :class:`DatetimeFeatures`, :class:`TargetFolds`), exported so that
  the ONNX converters and the signature use exactly what the pipelines run.
- ``compile``: :func:`build_preprocessor`, :func:`feature_names_out`,
  :func:`describe_preprocessor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard._utils.lazy import lazy_exports

if TYPE_CHECKING:
    from modelyard.features.compile import (
        build_preprocessor,
        describe_preprocessor,
        feature_names_out,
    )
    from modelyard.features.kinds import column_kind, column_kinds
    from modelyard.features.options import KINDS, Bucketize, ColumnSpec
    from modelyard.features.spec import FeatureSpec, Interaction
    from modelyard.features.steps import BUILTIN_DEFAULTS
    from modelyard.features.transformers import (
        AsFloat,
        AsObject,
        DatetimeFeatures,
        Log1p,
        TargetFolds,
    )

__all__ = [
    "BUILTIN_DEFAULTS",
    "KINDS",
    "AsFloat",
    "AsObject",
    "Bucketize",
    "ColumnSpec",
    "DatetimeFeatures",
    "FeatureSpec",
    "Interaction",
    "Log1p",
    "TargetFolds",
    "build_preprocessor",
    "column_kind",
    "column_kinds",
    "describe_preprocessor",
    "feature_names_out",
]

# Each name's module, imported on first use (see modelyard._utils.lazy).
_EXPORTS = {
    "build_preprocessor": "modelyard.features.compile",
    "describe_preprocessor": "modelyard.features.compile",
    "feature_names_out": "modelyard.features.compile",
    "column_kind": "modelyard.features.kinds",
    "column_kinds": "modelyard.features.kinds",
    "KINDS": "modelyard.features.options",
    "Bucketize": "modelyard.features.options",
    "ColumnSpec": "modelyard.features.options",
    "FeatureSpec": "modelyard.features.spec",
    "Interaction": "modelyard.features.spec",
    "BUILTIN_DEFAULTS": "modelyard.features.steps",
    "AsFloat": "modelyard.features.transformers",
    "AsObject": "modelyard.features.transformers",
    "DatetimeFeatures": "modelyard.features.transformers",
    "Log1p": "modelyard.features.transformers",
    "TargetFolds": "modelyard.features.transformers",
}

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
