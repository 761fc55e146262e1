"""The converted preprocessing computes the very features the native one does.

Each spec is compiled and fitted as training does, then the ColumnTransformer alone is
converted (through the same rewrite and converters as whole models) and its output is
compared with ``transform`` column by column: the features must agree to 1e-12.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime
import pandas as pd
import pytest
from skl2onnx import convert_sklearn

from modelyard.registry import onnx_convert
from modelyard.registry._onnx_rewrite import rewrite_for_onnx
from modelyard.registry.onnx_model import onnx_feeds
from modelyard.registry.parity import check_parity
from tests.registry._onnx_samples import TARGET, fit_pipeline, holdout, make_frame, onnx_of

SPECS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "numeric_options": {
        "columns": {
            "charges": {"log1p": True, "scale": "robust"},
            "tenure": {"impute": "mean", "scale": "minmax"},
        }
    },
    "constant_fills": {
        "columns": {
            "charges": {"impute": "constant", "fill_value": -1, "scale": "maxabs"},
            "region": {"impute": "constant", "fill_value": "unknown"},
            "paperless": {"impute": "constant", "fill_value": True},
        }
    },
    "bucketize": {
        "columns": {
            "charges": {"bucketize": {"bins": 5, "strategy": "quantile"}},
            "tenure": {"bucketize": {"bins": 4, "strategy": "uniform", "encode": "onehot"}},
        }
    },
    "bucketize_kmeans": {"defaults": {"numeric": {"bucketize": {"bins": 3, "strategy": "kmeans"}}}},
    "rare_levels": {"columns": {"region": {"min_frequency": 10}, "plan": {"max_categories": 2}}},
    "ignore_unknown": {"columns": {"region": {"handle_unknown": "ignore"}}},
    "ordinal": {
        "columns": {
            "region": {"encode": "ordinal", "min_frequency": 10},
            "plan": {"encode": "ordinal", "categories": ["pro", "plus", "basic"]},
        }
    },
    "target_encoding": {"defaults": {"categorical": {"encode": "target"}}},
    "interactions": {
        "interactions": [
            {"columns": ["charges", "tenure"], "degree": 3},
            {"columns": ["charges", "tenure"], "interaction_only": True},
        ],
        "columns": {"tenure": {"bucketize": 4}},
    },
    "indicators_everywhere": {
        "defaults": {k: {"missing_indicator": True} for k in ("numeric", "categorical")},
        "columns": {"senior": {"missing_indicator": True}, "signup": {"scale": "robust"}},
    },
    "datetime_options": {"defaults": {"datetime": {"impute": "most_frequent", "scale": "minmax"}}},
    "dropped_columns": {"drop": ["plan", "signup"]},
}


def features_of(pipeline: Any, signature: dict[str, Any]) -> Any:
    """The fitted ColumnTransformer converted alone, as a function of a frame."""
    preprocessor = pipeline.named_steps["features"]
    onnx_convert._register()
    inputs = [c for c in signature["inputs"] if c["used"]]
    initial, _ = onnx_convert._types(inputs, 0)
    graph = convert_sklearn(
        rewrite_for_onnx(preprocessor),
        initial_types=initial,
        target_opset={"": onnx_convert.DEFAULT_OPSET, "ai.onnx.ml": 3},
    )
    session = onnxruntime.InferenceSession(
        graph.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return lambda frame: session.run(None, onnx_feeds(frame, signature))[0]


# the target's type matters to target encoding only; the other specs run on one task
CASES = [(name, "binary") for name in SPECS] + [
    (name, task)
    for name in ("defaults", "target_encoding")
    for task in ("multiclass", "regression")
]


@pytest.mark.parametrize(("name", "task"), CASES)
def test_converted_features_equal_the_native_ones(name: str, task: str) -> None:
    pipeline, signature = fit_pipeline("linear", task, spec=SPECS[name])
    rows = holdout(task)
    native = pipeline.named_steps["features"].transform(rows)
    converted = features_of(pipeline, signature)(rows)
    assert converted.shape == native.shape
    assert converted.dtype == np.float64
    names = pipeline.named_steps["features"].get_feature_names_out()
    worst = dict(zip(names, np.abs(converted - native).max(axis=0), strict=True))
    assert max(worst.values()) <= 1e-12, {k: v for k, v in worst.items() if v > 1e-12}


def test_missing_values_of_every_kind_are_treated_like_the_native_ones() -> None:
    pipeline, signature = fit_pipeline("linear", spec=SPECS["indicators_everywhere"])
    rows = holdout().iloc[:6].copy()
    rows["charges"] = [np.nan, None, 1.0, np.nan, 2.0, 3.0]
    rows["tenure"] = pd.array([None, 1, None, 2, 3, 4], dtype="Int64")
    rows["region"] = [None, np.nan, pd.NA, "north", "", "south"]
    rows["paperless"] = pd.array([None, True, False, None, True, False], dtype="boolean")
    rows["signup"] = pd.to_datetime([None, "2001-01-01", None, "1969-07-20", None, "2030-01-01"])
    native = pipeline.named_steps["features"].transform(rows)
    np.testing.assert_allclose(features_of(pipeline, signature)(rows), native, rtol=0, atol=1e-12)


def test_dates_are_exact_across_the_whole_nanosecond_range() -> None:
    pipeline, signature = fit_pipeline("linear")
    rng = np.random.default_rng(3)
    low, high = pd.Timestamp("1678-01-01").value, pd.Timestamp("2262-04-11").value
    edges = [
        "1970-01-01",
        "1969-12-31 23:59:59.999999999",
        "2000-02-29",
        "1900-03-01",
        "2100-02-28",
    ]
    stamps = np.concatenate(
        [rng.integers(low, high, 3000), pd.to_datetime(edges, format="ISO8601").asi8]
    )
    rows = pd.concat([holdout()] * 30, ignore_index=True).iloc[: len(stamps)].copy()
    rows["signup"] = pd.to_datetime(stamps)
    native = pipeline.named_steps["features"].transform(rows)
    np.testing.assert_allclose(features_of(pipeline, signature)(rows), native, rtol=0, atol=1e-12)


def test_aware_and_text_datetimes_are_read_as_utc() -> None:
    pipeline, signature = fit_pipeline("linear")
    rows = holdout()
    aware = rows.copy()
    aware["signup"] = rows["signup"].dt.tz_localize("UTC").dt.tz_convert("Asia/Kolkata")
    text = rows.copy()
    text["signup"] = aware["signup"].map(lambda t: None if pd.isna(t) else t.isoformat())
    native = pipeline.named_steps["features"].transform(rows)
    for frame in (aware, text):
        np.testing.assert_array_equal(
            onnx_feeds(frame, signature)["signup"], onnx_feeds(rows, signature)["signup"]
        )
        converted = features_of(pipeline, signature)(frame)
        np.testing.assert_allclose(converted, native, rtol=0, atol=1e-12)


def test_booleans_and_numbers_arrive_in_any_dtype() -> None:
    pipeline, signature = fit_pipeline("linear")
    rows = holdout().iloc[:4].copy()
    odd = rows.copy()
    odd["senior"] = pd.Series([True, False, True, False], dtype=object, index=rows.index)
    odd["paperless"] = pd.Series([1.0, None, 0.0, 1.0], index=rows.index)
    odd["charges"] = pd.Series(["1.5", None, "40", "2e1"], dtype=object, index=rows.index)
    odd["tenure"] = pd.Series([3, 4, None, 5], dtype=object, index=rows.index)
    rows["senior"] = [True, False, True, False]
    rows["paperless"] = pd.array([True, None, False, True], dtype="boolean")
    rows["charges"] = [1.5, np.nan, 40.0, 20.0]
    rows["tenure"] = pd.array([3, 4, None, 5], dtype="Int64")
    convert = features_of(pipeline, signature)
    np.testing.assert_array_equal(convert(odd), convert(rows))
    native = pipeline.named_steps["features"].transform(odd)
    np.testing.assert_allclose(convert(odd), native, rtol=0, atol=1e-12)


def test_non_text_categories_are_compared_as_their_str() -> None:
    frame = make_frame()
    frame["plan"] = frame["plan"].cat.codes.astype("category")  # levels 0, 1, 2
    pipeline, signature = fit_pipeline("linear", frame=frame)
    rows = frame.drop(columns=TARGET).iloc[:50]
    feeds = onnx_feeds(rows, signature)
    assert set(feeds["plan"].ravel()) <= {"0", "1", "2"}
    parity = check_parity(pipeline, onnx_of(pipeline, signature), rows, "binary")
    assert parity.ok, parity.reason


def test_an_arrow_table_gives_the_same_answers_as_a_frame() -> None:
    import pyarrow as pa

    pipeline, signature = fit_pipeline("linear", "multiclass")
    converted = onnx_of(pipeline, signature)
    rows = holdout("multiclass")
    table = pa.Table.from_pandas(rows, preserve_index=False)
    np.testing.assert_array_equal(converted.predict_proba(table), converted.predict_proba(rows))
    np.testing.assert_array_equal(converted.predict(table), pipeline.predict(rows))


def test_a_whole_model_with_every_step_passes_parity() -> None:
    spec = {
        "columns": {
            "charges": {"log1p": True},
            "tenure": {"bucketize": 4},
            "region": {"encode": "target"},
            "plan": {"encode": "ordinal"},
        },
        "interactions": [{"columns": ["charges", "tenure"]}],
    }
    for task in ("binary", "regression"):
        pipeline, signature = fit_pipeline("linear", task, spec=spec)
        parity = check_parity(pipeline, onnx_of(pipeline, signature), holdout(task), task)
        assert parity.ok, parity.reason


def test_text_that_is_not_a_number_is_refused_by_name() -> None:
    from modelyard.exceptions import ValidationError

    _, signature = fit_pipeline("linear")
    rows = holdout().iloc[:3].copy()
    rows["charges"] = ["1", "lots", None]
    with pytest.raises(ValidationError, match="column 'charges' must hold numbers"):
        onnx_feeds(rows, signature)
    rows = holdout().iloc[:3].copy()
    rows["signup"] = ["2020-01-01", "not a date", None]
    with pytest.raises(ValidationError, match="column 'signup' must hold dates"):
        onnx_feeds(rows, signature)
    rows["signup"] = ["2020-01-01", "2999-01-01", None]  # past what nanoseconds hold
    with pytest.raises(ValidationError, match="column 'signup' must hold dates"):
        onnx_feeds(rows, signature)
