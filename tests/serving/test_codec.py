"""The codec: requests to feeds (checked against the signature) and predictions to bodies.

Feeds built from every wire form must equal what the registry's own ``onnx_feeds``
makes of the same rows, and predictions from them must equal the registry predictor's;
every malformed, hostile, empty or huge request must fail with an error naming all of
what is wrong.
"""

from __future__ import annotations

import re
import struct
import time
from dataclasses import replace
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from modelyard.exceptions import SignatureError, ValidationError
from modelyard.registry.onnx_model import EMPTY_LEVEL, onnx_feeds
from modelyard.serving import codec
from modelyard.serving.errors import PayloadTooLarge
from modelyard.serving.runtime import Feeds, Prediction, ServedModel, load_served_model
from tests.serving.conftest import ServedHome

INT64_MIN = np.iinfo(np.int64).min
MAY_1 = 1_714_566_600 * 10**9  # 2024-05-01T12:30:00Z in nanoseconds


@pytest.fixture(scope="module")
def model(served_home: ServedHome) -> ServedModel:
    return load_served_model(served_home.registry, "churn@1")


@pytest.fixture(scope="module")
def signature(model: ServedModel) -> dict[str, Any]:
    return model.signature


@pytest.fixture(scope="module")
def records(served_home: ServedHome) -> list[dict[str, Any]]:
    return served_home.records("churn@1")


def assert_feeds_equal(actual: Feeds, expected: Feeds) -> None:
    assert list(actual) == list(expected)
    for name, array in expected.items():
        assert actual[name].shape == array.shape, name
        assert actual[name].dtype == array.dtype, name
        np.testing.assert_array_equal(actual[name], array, err_msg=name)


def mismatch(call: Any, *args: Any, **kwargs: Any) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        call(*args, **kwargs)
    assert caught.value.http_status == 422
    return caught.value


def tensor(name: str, datatype: str, data: list[Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": [len(data)], "data": data, **extra}


def json_inputs(frame: pd.DataFrame, signature: dict[str, Any]) -> list[dict[str, Any]]:
    """One JSON tensor per used column, as a hand-written Open Inference Protocol client."""
    inputs = []
    for column in signature["inputs"]:
        values = frame[column["name"]]
        if column["kind"] == "categorical":
            inputs.append(tensor(column["name"], "BYTES", values.tolist()))
        elif column["kind"] == "datetime":
            inputs.append(tensor(column["name"], "BYTES", [t.isoformat() for t in values]))
        elif column["kind"] == "boolean":
            inputs.append(tensor(column["name"], "BOOL", values.astype(bool).tolist()))
        else:
            data = [None if np.isnan(v) else v for v in values.astype(float).tolist()]
            inputs.append(tensor(column["name"], "FP64", data))
    return inputs


def binary_inputs(frame: pd.DataFrame, signature: dict[str, Any]) -> tuple[list[Any], bytes]:
    """The same tensors as binary data after the header, encoded by hand, shape [N, 1]."""
    inputs, chunks = [], []
    for spec in json_inputs(frame, signature):
        if spec["datatype"] == "BYTES":
            raw = b"".join(struct.pack("<I", len(s.encode())) + s.encode() for s in spec["data"])
        elif spec["datatype"] == "BOOL":
            raw = np.array(spec["data"], dtype=np.uint8).tobytes()
        else:
            raw = np.array(spec["data"], dtype=np.float64).astype("<f8").tobytes()  # None: NaN
        del spec["data"]
        spec["shape"] = [len(frame), 1]
        spec["parameters"] = {"binary_data_size": len(raw)}
        inputs.append(spec)
        chunks.append(raw)
    return inputs, b"".join(chunks)


# -- decode_json ----------------------------------------------------------------------
def test_decode_json_reads_json() -> None:
    assert codec.decode_json(b'{"a": [1, 2.5, null, "x"]}') == {"a": [1, 2.5, None, "x"]}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"records": [1, 2', "position 17"),
        (b"", "position 0"),
        (b"\xff\xfe", "UTF-8"),
        (b'{"a": NaN}', "line 1, column 7"),
        (b"[" * 5000 + b"]" * 5000, "depth limit"),
    ],
)
def test_decode_json_names_where_it_broke(body: bytes, fragment: str) -> None:
    with pytest.raises(ValidationError, match="not valid JSON") as caught:
        codec.decode_json(body)
    assert fragment in str(caught.value)
    assert caught.value.http_status == 400


# -- records and columns ----------------------------------------------------------------
@pytest.mark.parametrize("ref", ["churn@1", "churn@2", "charges@1"])
def test_records_and_columns_make_the_registrys_feeds(served_home: ServedHome, ref: str) -> None:
    signature = served_home.registry.get(ref).signature
    frame = served_home.inputs(ref)
    expected = onnx_feeds(frame, signature)
    records = served_home.records(ref)
    assert_feeds_equal(codec.feeds_from_records(records, signature), expected)
    columns = list(records[0])
    rows = [[record[c] for c in columns] for record in records]
    assert_feeds_equal(codec.feeds_from_columns(columns, rows, signature), expected)
    payload = {"columns": columns[::-1], "data": [row[::-1] for row in rows]}
    assert_feeds_equal(codec.feeds_from_v1(payload, signature), expected)


@pytest.mark.parametrize("ref", ["churn@1", "churn@2"])
def test_every_form_predicts_like_the_registry(served_home: ServedHome, ref: str) -> None:
    model = load_served_model(served_home.registry, ref)
    frame = served_home.inputs(ref)
    expected = served_home.registry.load(ref).predict_proba(frame)
    records = served_home.records(ref)
    inputs, tail = binary_inputs(frame, model.signature)
    for feeds in (
        codec.feeds_from_records(records, model.signature),
        codec.feeds_from_columns(
            list(records[0]), [list(r.values()) for r in records], model.signature
        ),
        codec.feeds_from_v2(json_inputs(frame, model.signature), model.signature),
        codec.feeds_from_v2(inputs, model.signature, tail),
    ):
        np.testing.assert_allclose(model.infer(feeds).probabilities, expected, atol=1e-5)  # type: ignore[arg-type]


def test_every_problem_is_named_at_once(
    signature: dict[str, Any], records: list[dict[str, Any]]
) -> None:
    bad = [dict(r) for r in records[:3]]
    for record in bad:
        del record["age"]
        record["agee"] = 40
    bad[1]["tenure_months"] = "12"
    bad[2]["plan"] = {"tier": "gold"}
    bad[2]["signup_at"] = "yesterday"
    error = mismatch(codec.feeds_from_records, bad, signature)
    assert error.details["missing"] == ["age"]
    assert error.details["extra"] == ["agee"]
    assert error.details["conflicts"] == {
        "plan": "expected a string or null, got {'tier': 'gold'} (row 2)",
        "tenure_months": "expected a number or null, got '12' (row 1)",
        "signup_at": "expected an ISO 8601 date/time string (e.g. '2024-05-01T12:30:00Z') "
        "or null (years 1678-2261), got 'yesterday' (row 2)",
    }
    for fragment in ("missing column(s): 'age'", "'agee'", "column 'plan'", "column 'signup_at'"):
        assert fragment in str(error)


@pytest.mark.parametrize(
    ("column", "values", "problem"),
    [
        (
            "age",
            [1.5, float("nan"), float("nan")],
            "expected finite numbers or null, got nan (row 1 and 1 more row)",
        ),
        ("age", [1, float("inf"), 2], "expected finite numbers, got inf (row 1)"),
        ("age", [1, True, 2], "expected a number or null, got True (row 1)"),
        ("age", [1, "2", "3", "4"], "expected a number or null, got '2' (row 1 and 2 more rows)"),
        ("age", [10**400], "expected a number within +-1.8e308, got a longer integer (row 0)"),
        ("paperless_billing", [True, 2], "expected true, false, 0, 1 or null, got 2.0 (row 1)"),
        ("paperless_billing", ["true"], "expected true, false, 0, 1 or null, got 'true' (row 0)"),
        ("plan", [[["deep"]]], "expected a string or null, got [['deep']] (row 0)"),
        ("signup_at", [1714566600], "expected an ISO 8601 date/time string"),
        ("signup_at", ["3000-01-01"], "(years 1678-2261), got '3000-01-01' (row 0)"),
        ("signup_at", [""], "got '' (row 0)"),
    ],
)
def test_values_of_the_wrong_type_are_conflicts(
    signature: dict[str, Any],
    records: list[dict[str, Any]],
    column: str,
    values: list[Any],
    problem: str,
) -> None:
    rows = [dict(records[0], **{column: value}) for value in values]
    error = mismatch(codec.feeds_from_records, rows, signature)
    assert list(error.details["conflicts"]) == [column]
    assert problem in error.details["conflicts"][column]


def test_values_are_converted_like_the_native_pipeline_reads_them(
    signature: dict[str, Any], records: list[dict[str, Any]]
) -> None:
    changes = [
        {"plan": 7, "paperless_billing": True, "signup_at": "2024-05-01T12:30:00Z"},
        {"plan": "", "paperless_billing": 0, "signup_at": "2024-05-01T14:30:00+02:00"},
        {"plan": None, "paperless_billing": None, "signup_at": None, "age": None},
        {"plan": 2.5, "paperless_billing": 1.0, "signup_at": "2024-05-01"},
    ]
    rows = [dict(records[0], **change) for change in changes]
    rows[3].pop("age")  # absent from one row only: missing in that row
    feeds = codec.feeds_from_records(rows, signature)
    assert feeds["plan"].ravel().tolist() == ["7", EMPTY_LEVEL, "", "2.5"]
    np.testing.assert_array_equal(feeds["paperless_billing"].ravel(), [1.0, 0.0, np.nan, 1.0])
    day = MAY_1 - (12 * 3600 + 30 * 60) * 10**9
    assert feeds["signup_at"].ravel().tolist() == [MAY_1, MAY_1, INT64_MIN, day]
    assert np.isnan(feeds["age"][2:, 0]).all()
    assert feeds["age"][0, 0] == records[0]["age"]


def test_unused_columns_may_be_sent_or_left_out(
    signature: dict[str, Any], records: list[dict[str, Any]]
) -> None:
    relaxed = {
        **signature,
        "inputs": [dict(c, used=c["name"] != "region") for c in signature["inputs"]],
    }
    with_region = codec.feeds_from_records(records[:2], relaxed)
    without = codec.feeds_from_records(
        [{k: v for k, v in r.items() if k != "region"} for r in records[:2]], relaxed
    )
    assert "region" not in with_region
    assert_feeds_equal(without, with_region)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"a": 1}, "'records' must be a list of objects, got a JSON object"),
        ([], "no rows"),
        ("rows", "'records' must be a list"),
    ],
)
def test_records_must_be_a_list_of_objects(
    signature: dict[str, Any], payload: Any, fragment: str
) -> None:
    with pytest.raises(ValidationError, match=fragment):
        codec.feeds_from_records(payload, signature)


def test_a_record_that_is_not_an_object_is_named(
    signature: dict[str, Any], records: list[dict[str, Any]]
) -> None:
    with pytest.raises(ValidationError, match=r"records\[1\] must be an object") as caught:
        codec.feeds_from_records([records[0], [1, 2], records[1]], signature)
    assert caught.value.details["index"] == 1
    assert not isinstance(caught.value, SignatureError)


def test_row_cap_is_413(signature: dict[str, Any], records: list[dict[str, Any]]) -> None:
    with pytest.raises(PayloadTooLarge, match="11 rows, more than the 10 allowed") as caught:
        codec.feeds_from_records(records[:11], signature, max_rows=10)
    assert caught.value.http_status == 413
    assert caught.value.details == {"limit": 10, "size": 11}
    with pytest.raises(PayloadTooLarge):
        codec.feeds_from_columns(["age"], [[1]] * 100_001, signature)


def test_a_hundred_thousand_rows_are_fast(
    model: ServedModel, records: list[dict[str, Any]]
) -> None:
    body = orjson.dumps({"records": (records * 1700)[:100_000]})
    started = time.perf_counter()
    feeds = codec.feeds_from_v1(codec.decode_json(body), model.signature)
    elapsed = time.perf_counter() - started
    assert feeds["age"].shape == (100_000, 1)
    assert elapsed < 10, f"decoding 100k records took {elapsed:.1f} s"
    np.testing.assert_array_equal(
        model.infer({k: v[:60] for k, v in feeds.items()}).codes,  # type: ignore[arg-type]
        model.infer(codec.feeds_from_records(records, model.signature)).codes,  # type: ignore[arg-type]
    )


def test_ten_megabyte_strings(model: ServedModel, records: list[dict[str, Any]]) -> None:
    huge = "x" * 10_000_000
    feeds = codec.feeds_from_records([dict(records[0], plan=huge)], model.signature)
    assert feeds["plan"][0, 0] == huge  # an unknown level: the model still answers
    assert model.infer(feeds).rows == 1
    error = mismatch(
        codec.feeds_from_records, [dict(records[0], **{huge: 1}, signup_at=huge)], model.signature
    )
    assert len(str(error)) < 1000
    assert len(error.details["extra"][0]) == 200
    assert "(10000000 long)" in error.details["conflicts"]["signup_at"]


def test_deeply_nested_garbage_is_named_briefly(
    signature: dict[str, Any], records: list[dict[str, Any]]
) -> None:
    deep = orjson.loads(b"[" * 1000 + b"]" * 1000)
    wide = list(range(1_000_000))
    error = mismatch(codec.feeds_from_records, [dict(records[0], age=deep, plan=wide)], signature)
    assert error.details["conflicts"] == {
        "plan": "expected a string or null, got [0, 1, 2, 3, ...] (row 0)",
        "age": "expected a number or null, got [[[[...]]]] (row 0)",
    }
    bad_size = {
        "name": "age",
        "shape": [1],
        "datatype": "FP64",
        "parameters": {"binary_data_size": deep},
    }
    assert malformed([bad_size], signature, b"") == {
        "age": "binary_data_size must be a whole number of bytes, got [[[[...]]]]"
    }
    assert malformed(
        [{"name": "age", "shape": deep, "datatype": deep, "data": deep}], signature
    ) == {
        "age": "datatype [[[[...]]]] is not one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, "
        "INT16, INT32, INT64, FP16, FP32, FP64, BYTES"
    }
    assert malformed(
        [{"name": "age", "shape": deep, "datatype": "FP64", "data": deep}], signature
    ) == {"age": "shape must be a list of whole numbers >= 0, got [[[[...]]]]"}
    error = mismatch(codec.feeds_from_v2, [tensor("age", "FP64", [deep])], signature)
    assert error.details["conflicts"]["age"] == "expected FP64 values, got [[[[...]]]] (row 0)"


def test_columns_must_be_a_table(signature: dict[str, Any], records: list[dict[str, Any]]) -> None:
    names = list(records[0])
    row = list(records[0].values())
    cases = [
        ("age", [row], "'columns' must be a list of column names"),
        ([*names[:-1], 3], [row], "'columns' must be a list of column names"),
        ([*names, "age"], [[*row, 1]], "names 'age' more than once"),
        (names, {"rows": 1}, "'data' must be a list of rows"),
        (names, [], "no rows"),
        (names, [row, row[:-1]], r"data\[1\] must be a list of 12 values"),
        (names, [row, {"age": 1}], r"data\[1\] must be a list"),
    ]
    for columns, data, fragment in cases:
        with pytest.raises(ValidationError, match=fragment):
            codec.feeds_from_columns(columns, data, signature)
    error = mismatch(codec.feeds_from_columns, [*names[1:], "zip"], [[*row[1:], 1]], signature)
    assert (error.details["missing"], error.details["extra"]) == (["region"], ["zip"])


@pytest.mark.parametrize(
    "payload",
    [[{"age": 1}], {"instances": []}, {"records": [], "columns": []}, {"columns": ["a"]}, None],
)
def test_v1_payload_must_be_one_of_the_two_forms(signature: dict[str, Any], payload: Any) -> None:
    with pytest.raises(ValidationError, match=re.escape('send {"records"')):
        codec.feeds_from_v1(payload, signature)


# -- Open Inference Protocol: inputs ------------------------------------------------------
def test_v2_json_and_binary_inputs_make_the_registrys_feeds(
    served_home: ServedHome, signature: dict[str, Any]
) -> None:
    frame = served_home.inputs("churn@1")
    expected = onnx_feeds(frame, signature)
    assert_feeds_equal(codec.feeds_from_v2(json_inputs(frame, signature), signature), expected)
    nested = json_inputs(frame, signature)
    for spec in nested:
        spec["shape"] = [len(frame), 1]
        spec["data"] = [[value] for value in spec["data"]]
    assert_feeds_equal(codec.feeds_from_v2(nested, signature), expected)
    inputs, tail = binary_inputs(frame, signature)
    assert_feeds_equal(codec.feeds_from_v2(inputs, signature, tail), expected)


def test_v2_numeric_columns_take_any_number_datatype(
    signature: dict[str, Any], records: list[dict[str, Any]]
) -> None:
    inputs = json_inputs(
        pd.DataFrame(records[:2]).assign(signup_at=pd.Timestamp("2024-05-01")), signature
    )
    by_name = {spec["name"]: spec for spec in inputs}
    by_name["age"].update(datatype="INT8", data=[30, None])
    by_name["num_products"].update(datatype="BOOL", data=[True, False])
    by_name["paperless_billing"].update(datatype="UINT64", data=[1, 0])
    feeds = codec.feeds_from_v2(inputs, signature)
    np.testing.assert_array_equal(feeds["age"].ravel(), [30.0, np.nan])
    assert feeds["num_products"].ravel().tolist() == [1.0, 0.0]
    assert feeds["paperless_billing"].ravel().tolist() == [1.0, 0.0]


def test_v2_binary_nan_is_missing_and_inf_is_refused(
    served_home: ServedHome, signature: dict[str, Any]
) -> None:
    frame = served_home.inputs("churn@1").head(3).copy()
    frame["age"] = [np.nan, 30.0, 40.0]
    inputs, tail = binary_inputs(frame, signature)
    assert np.isnan(codec.feeds_from_v2(inputs, signature, tail)["age"][0, 0])
    frame["age"] = [np.inf, 30.0, 40.0]
    inputs, tail = binary_inputs(frame, signature)
    error = mismatch(codec.feeds_from_v2, inputs, signature, tail)
    assert error.details["conflicts"] == {"age": "expected finite numbers, got inf (row 0)"}


def test_v2_signature_problems_are_named_at_once(
    served_home: ServedHome, signature: dict[str, Any]
) -> None:
    inputs = json_inputs(served_home.inputs("churn@1").head(2), signature)
    by_name = {spec["name"]: spec for spec in inputs}
    by_name["region"].update(datatype="FP64", data=[1.0, 2.0])
    by_name["age"].update(datatype="INT64", data=[30, 1.5])
    by_name["plan"].update(shape=[2, 2], data=["basic", "premium", "basic", "basic"])
    by_name["paperless_billing"].update(data=[True, 1])
    by_name["support_calls"].update(datatype="BYTES", data=["1", "2"])
    inputs = [spec for spec in inputs if spec["name"] != "contract"]
    inputs.append(tensor("zip", "BYTES", ["94105", "10001"]))
    error = mismatch(codec.feeds_from_v2, inputs, signature)
    assert error.details["missing"] == ["contract"]
    assert error.details["extra"] == ["zip"]
    assert error.details["conflicts"] == {
        "region": "expected BYTES for a categorical column, got FP64",
        "plan": "expected shape [N] or [N, 1] (one value per row), got [2, 2]",
        "age": "expected INT64 values, got 1.5 (row 1)",
        "support_calls": "expected a number or BOOL datatype for a numeric column, got BYTES",
        "paperless_billing": "expected BOOL values, got 1 (row 1)",
    }


def test_v2_bytes_that_are_not_utf8_are_a_conflict(
    served_home: ServedHome, signature: dict[str, Any]
) -> None:
    inputs, tail = binary_inputs(served_home.inputs("churn@1").head(1), signature)
    first = inputs[0]  # region, BYTES, the first chunk of the tail
    size = first["parameters"]["binary_data_size"]
    tail = struct.pack("<I", 2) + b"\xff\xfe" + tail[size:]
    first["parameters"]["binary_data_size"] = 6
    error = mismatch(codec.feeds_from_v2, inputs, signature, tail)
    assert error.details["conflicts"] == {
        "region": "expected UTF-8 text, got b'\\xff\\xfe' (row 0)"
    }


def malformed(
    inputs: Any, signature: dict[str, Any], binary: bytes | None = None
) -> dict[str, str]:
    with pytest.raises(ValidationError, match="the inference request is malformed") as caught:
        codec.feeds_from_v2(inputs, signature, binary)
    assert not isinstance(caught.value, SignatureError)
    problems: dict[str, str] = caught.value.details["problems"]
    return problems


def test_v2_malformed_tensors_are_named_at_once(signature: dict[str, Any]) -> None:
    inputs = [
        "age",
        {"shape": [1], "datatype": "FP64", "data": [1.0]},
        tensor("tenure_months", "FP128", [1.0]),
        {"name": "support_calls", "shape": [-1], "datatype": "FP64", "data": [1.0]},
        {"name": "num_products", "shape": [3], "datatype": "FP64", "data": [1.0, 2.0]},
        {"name": "monthly_charges", "shape": [1], "datatype": "FP64"},
        tensor("total_charges", "FP64", [1.0], parameters={"shared_memory_region": "r"}),
        tensor("plan", "BYTES", ["a"]),
        tensor("plan", "BYTES", ["b"]),
        tensor("region", "BYTES", ["a"], parameters=[]),
    ]
    problems = malformed(inputs, signature)
    assert problems == {
        "inputs[0]": "must be an object (name, shape, datatype, data), got str",
        "inputs[1]": "needs a 'name' (the column it feeds)",
        "tenure_months": "datatype 'FP128' is not one of BOOL, UINT8, UINT16, UINT32, UINT64, "
        "INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES",
        "support_calls": "shape must be a list of whole numbers >= 0, got [-1]",
        "num_products": "shape [3] needs 3 values but 'data' has 2",
        "monthly_charges": "needs 'data' (a list of values) or parameters.binary_data_size",
        "total_charges": "shared memory is not supported: send 'data' or binary data",
        "plan": "is given more than once",
        "region": "parameters must be an object",
    }
    assert malformed(
        [tensor("age", "FP64", [1.0]), tensor("plan", "BYTES", ["a", "b"])], signature
    ) == {"shape": "the inputs disagree on the number of rows: [1, 2]"}
    assert malformed([], signature) == {
        "inputs": "must be a non-empty list of tensors (name, shape, datatype, data)"
    }
    assert malformed({"age": [1]}, signature) == malformed([], signature)
    with pytest.raises(ValidationError, match="no rows"):
        codec.feeds_from_v2(
            [{"name": "age", "shape": [0], "datatype": "FP64", "data": []}], signature
        )


def binary_tensor(name: str, datatype: str, rows: int, size: int) -> dict[str, Any]:
    return {
        "name": name,
        "datatype": datatype,
        "shape": [rows],
        "parameters": {"binary_data_size": size},
    }


def test_v2_binary_data_that_lies_is_refused(signature: dict[str, Any]) -> None:
    two_doubles = np.array([1.0, 2.0]).tobytes()
    cases: list[tuple[list[dict[str, Any]], bytes | None, str, str]] = [
        ([binary_tensor("age", "FP64", 2, 16)], None, "age", "the body has no binary part"),
        (
            [binary_tensor("age", "FP64", 2, 16)],
            two_doubles[:12],
            "age",
            "16 bytes but only 12 are left",
        ),
        ([binary_tensor("age", "FP64", 2, 8)], two_doubles[:8], "age", "2 FP64 values take 16"),
        (
            [binary_tensor("age", "FP64", 2, 16)],
            two_doubles + b"\x00",
            "binary data",
            "1 bytes follow",
        ),
        (
            [binary_tensor("age", "FP64", 2, -4)],
            two_doubles,
            "age",
            "whole number of bytes, got -4",
        ),
        (
            [binary_tensor("age", "FP64", 2, True)],
            two_doubles,
            "age",
            "whole number of bytes, got True",
        ),
        (
            [binary_tensor("paperless_billing", "BOOL", 2, 2)],
            b"\x01\x02",
            "paperless_billing",
            "the bytes 0 or 1",
        ),
        (
            [binary_tensor("plan", "BYTES", 1, 7)],
            struct.pack("<I", 9) + b"abc",
            "plan",
            "says 9 bytes but only 3",
        ),
        (
            [binary_tensor("plan", "BYTES", 1, 2)],
            b"\x01\x00",
            "plan",
            "cut off in its 4-byte length",
        ),
        (
            [binary_tensor("plan", "BYTES", 1, 10)],
            (struct.pack("<I", 1) + b"a") * 2 + b"zz",
            "plan",
            "more than the 1 BYTES",
        ),
        (
            [binary_tensor("plan", "BYTES", 2, 5)],
            struct.pack("<I", 1) + b"a",
            "plan",
            "needs 2 BYTES elements but the binary data has 1",
        ),
        (
            [dict(tensor("age", "FP64", [1.0, 2.0]), parameters={"binary_data_size": 16})],
            two_doubles,
            "age",
            "both 'data' and binary_data_size",
        ),
    ]
    for inputs, binary, name, fragment in cases:
        problems = malformed(inputs, signature, binary)
        assert fragment in problems[name], (fragment, problems)


def test_v2_a_bad_size_does_not_shift_later_inputs(signature: dict[str, Any]) -> None:
    inputs = [binary_tensor("age", "FP64", 1, 99), binary_tensor("tenure_months", "FP64", 1, 8)]
    problems = malformed(inputs, signature, np.array([1.0]).tobytes())
    assert problems["tenure_months"] == "not read: an earlier input's binary_data_size was wrong"
    assert "binary data" not in problems


def test_v2_row_cap_applies_before_reading(signature: dict[str, Any]) -> None:
    inputs = [{"name": "age", "shape": [10**12, 1], "datatype": "FP64", "data": [1.0]}]
    with pytest.raises(PayloadTooLarge, match="1000000000000 rows"):
        codec.feeds_from_v2(inputs, signature)
    with pytest.raises(PayloadTooLarge):
        codec.feeds_from_v2(
            [binary_tensor("age", "FP64", 11, 88)], signature, bytes(88), max_rows=10
        )


# -- Open Inference Protocol: requests ----------------------------------------------------
def test_parse_v2_request_splits_header_and_binary() -> None:
    head = orjson.dumps(
        {
            "id": "r-7",
            "inputs": [{"name": "age"}],
            "outputs": [{"name": "label"}],
            "parameters": {"binary_data_output": True},
        }
    )
    request = codec.parse_v2_request(head + b"\x01\x02", str(len(head)))
    assert request == codec.V2Request(
        inputs=[{"name": "age"}],
        outputs=[{"name": "label"}],
        id="r-7",
        binary_output=True,
        binary=b"\x01\x02",
    )
    plain = codec.parse_v2_request(b'{"inputs": [], "outputs": []}')
    assert (plain.binary, plain.outputs, plain.id, plain.binary_output) == (None, None, None, False)


@pytest.mark.parametrize(
    ("body", "header", "fragment"),
    [
        (b'{"inputs": []}', "abc", "Inference-Header-Content-Length is 'abc'"),
        (b'{"inputs": []}', "0", "from 1 to the body's 14 bytes"),
        (b'{"inputs": []}', "15", "from 1 to the body's 14 bytes"),
        (b'{"inputs": []}', "-3", "whole number"),
        (b'{"inputs": []}', "5", "not valid JSON"),
        (b"[1, 2]", None, "a JSON object with 'inputs', got a JSON array of 2 items"),
        (b'{"input": []}', None, "with 'inputs'"),
        (b'{"inputs": [], "id": 7}', None, "'id' must be a string"),
        (b'{"inputs": [], "parameters": [1]}', None, "'parameters' must be an object"),
        (
            b'{"inputs": [], "parameters": {"binary_data_output": 1}}',
            None,
            "binary_data_output must be true or false",
        ),
        (b'{"inputs": [], "outputs": ["label"]}', None, "'outputs' must be a list of objects"),
    ],
)
def test_parse_v2_request_refuses_malformed_requests(
    body: bytes, header: str | None, fragment: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        codec.parse_v2_request(body, header)
    assert fragment in str(caught.value)


def triton_request(
    frame: pd.DataFrame,
    signature: dict[str, Any],
    *,
    binary: bool,
    outputs: list[Any] | None = None,
) -> tuple[bytes, int | None]:
    """The body and header length tritonclient's HTTP client would send for ``frame``."""
    http = pytest.importorskip("tritonclient.http")
    from tritonclient.http import _utils

    inputs = []
    for column in signature["inputs"]:
        values = frame[column["name"]]
        if column["kind"] == "categorical":
            array, datatype = values.to_numpy(dtype=object), "BYTES"
        elif column["kind"] == "datetime":
            array, datatype = np.array([t.isoformat() for t in values], dtype=object), "BYTES"
        elif column["kind"] == "boolean":
            array, datatype = values.to_numpy(dtype=bool), "BOOL"
        else:
            array, datatype = values.to_numpy(dtype=np.float32), "FP32"
        infer_input = http.InferInput(column["name"], [len(frame), 1], datatype)
        infer_input.set_data_from_numpy(array.reshape(-1, 1), binary_data=binary)
        inputs.append(infer_input)
    body, json_size = _utils._get_inference_request(
        inputs=inputs, request_id="req-1", outputs=outputs, sequence_id=0, sequence_start=False,
        sequence_end=False, priority=0, timeout=None, custom_parameters=None,
    )  # fmt: skip
    return bytes(body), json_size


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_requests_decode(
    served_home: ServedHome, model: ServedModel, binary: bool
) -> None:
    frame = served_home.inputs("churn@1")
    if not binary:  # JSON cannot carry NaN; tritonclient would write it anyway
        frame = frame.dropna()
    body, header_length = triton_request(frame, model.signature, binary=binary)
    assert (header_length is not None) == binary
    request = codec.parse_v2_request(body, header_length)
    assert request.id == "req-1"
    assert request.binary_output is True
    feeds = codec.feeds_from_v2(request.inputs, model.signature, request.binary)
    expected = served_home.registry.load("churn@1").predict_proba(frame)
    np.testing.assert_allclose(model.infer(feeds).probabilities, expected, atol=1e-5)  # type: ignore[arg-type]


# -- responses ----------------------------------------------------------------------------
PREDICTION = Prediction(
    codes=np.array([1, 0, 1]),
    probabilities=np.array([[0.25, 0.75], [0.875, 0.125], [0.5, 0.5]], dtype=np.float32),
)


def with_classes(model: ServedModel, classes: list[Any]) -> ServedModel:
    signature = {**model.signature, "output": {**model.signature["output"], "classes": classes}}
    version = replace(model_version_of(model), signature=signature)
    return ServedModel(version, model.runtime, format=model.format, runtime_note=model.runtime_note)


def model_version_of(model: ServedModel) -> Any:
    from modelyard.store import ModelVersion

    return ModelVersion(
        name=model.name, version=model.version, run_id="r", status="ready", task=model.task,
        created_at=0, created_by=None, description=None, lineage={}, signature=model.signature,
        metrics={}, size_bytes=0, formats={},
    )  # fmt: skip


def test_encode_v1_maps_codes_to_labels(model: ServedModel) -> None:
    body = orjson.loads(codec.encode_v1(PREDICTION, model, "req-1"))
    assert body == {
        "model": "churn",
        "version": 1,
        "request_id": "req-1",
        "predictions": [1, 0, 1],
        "probabilities": [[0.25, 0.75], [0.875, 0.125], [0.5, 0.5]],
        "classes": [0, 1],
    }
    text = orjson.loads(codec.encode_v1(PREDICTION, with_classes(model, ["stay", "leave"]), None))
    assert text["predictions"] == ["leave", "stay", "leave"]
    assert text["classes"] == ["stay", "leave"]
    assert text["request_id"] is None


def test_encode_v1_regressor(served_home: ServedHome) -> None:
    regressor = load_served_model(served_home.registry, "charges@1")
    body = orjson.loads(codec.encode_v1(Prediction(values=np.array([1.5, 20.25])), regressor, "r"))
    assert body == {
        "model": "charges",
        "version": 1,
        "request_id": "r",
        "predictions": [1.5, 20.25],
    }
    with pytest.raises(ValidationError, match="regressor but the prediction has no values"):
        codec.encode_v1(PREDICTION, regressor, "r")


def test_encode_v2_json(model: ServedModel) -> None:
    body, headers = codec.encode_v2(PREDICTION, model, "req-1", None)
    assert headers == {"content-type": "application/json"}
    assert orjson.loads(body) == {
        "model_name": "churn",
        "model_version": "1",
        "id": "req-1",
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [3], "data": [1, 0, 1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [3, 2],
             "data": [0.25, 0.75, 0.875, 0.125, 0.5, 0.5]},
        ],
    }  # fmt: skip


def split_binary(body: bytes, headers: dict[str, str]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The JSON header and each binary output's bytes, decoded by hand."""
    length = int(headers["inference-header-content-length"])
    header, offset, chunks = orjson.loads(body[:length]), length, {}
    for output in header["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size")
        if size is not None:
            assert "data" not in output
            chunks[output["name"]] = body[offset : offset + size]
            offset += size
    assert offset == len(body)
    return header, chunks


def test_encode_v2_binary_round_trips(model: ServedModel) -> None:
    relabelled = with_classes(model, ["stay", "leave"])
    body, headers = codec.encode_v2(PREDICTION, relabelled, None, None, binary_output=True)
    assert headers["content-type"] == "application/octet-stream"
    header, chunks = split_binary(body, headers)
    assert "id" not in header
    assert [(o["name"], o["datatype"], o["shape"]) for o in header["outputs"]] == [
        ("label", "BYTES", [3]),
        ("probabilities", "FP32", [3, 2]),
    ]
    labels, offset = [], 0
    while offset < len(chunks["label"]):
        (size,) = struct.unpack_from("<I", chunks["label"], offset)
        labels.append(chunks["label"][offset + 4 : offset + 4 + size].decode())
        offset += 4 + size
    assert labels == ["leave", "stay", "leave"]
    probabilities = np.frombuffer(chunks["probabilities"], dtype="<f4").reshape(3, 2)
    np.testing.assert_array_equal(probabilities, PREDICTION.probabilities)  # type: ignore[arg-type]


@pytest.mark.parametrize("binary", [True, False])
def test_encode_v2_reads_back_with_tritonclient(model: ServedModel, binary: bool) -> None:
    http = pytest.importorskip("tritonclient.http")
    for classes, datatype in (
        ([0, 1], np.int64),
        (["stay", "leave"], np.object_),
        ([False, True], np.bool_),
    ):
        relabelled = with_classes(model, classes)
        body, headers = codec.encode_v2(PREDICTION, relabelled, "q", None, binary_output=binary)
        length = headers.get("inference-header-content-length")
        assert (length is not None) == binary
        result = http.InferResult.from_response_body(
            body, header_length=None if length is None else int(length)
        )
        assert result.get_response()["id"] == "q"
        labels = result.as_numpy("label")
        assert labels.dtype == datatype
        expected = [classes[c] for c in (1, 0, 1)]
        assert [v.decode() if isinstance(v, bytes) else v for v in labels.tolist()] == expected
        probabilities = result.as_numpy("probabilities")
        np.testing.assert_array_equal(probabilities, PREDICTION.probabilities)  # type: ignore[arg-type]


def test_encode_v2_honours_requested_outputs(model: ServedModel) -> None:
    requested = [{"name": "probabilities", "parameters": {"binary_data": True}}, {"name": "label"}]
    body, headers = codec.encode_v2(PREDICTION, model, "r", requested)
    header, chunks = split_binary(body, headers)
    assert [o["name"] for o in header["outputs"]] == ["probabilities", "label"]
    assert header["outputs"][1]["data"] == [1, 0, 1]
    assert list(chunks) == ["probabilities"]
    assert len(chunks["probabilities"]) == 24
    only, _ = codec.encode_v2(
        PREDICTION,
        model,
        "r",
        [{"name": "label", "parameters": {"binary_data": False}}],
        binary_output=True,
    )
    assert [o["name"] for o in orjson.loads(only)["outputs"]] == ["label"]
    with pytest.raises(
        ValidationError, match=r"no output.*'variable'; its outputs: label, probabilities"
    ):
        codec.encode_v2(PREDICTION, model, "r", [{"name": "variable"}])
    with pytest.raises(ValidationError, match="classification extension"):
        codec.encode_v2(
            PREDICTION, model, "r", [{"name": "label", "parameters": {"classification": 2}}]
        )


def test_encode_v2_regressor_and_metadata(served_home: ServedHome, model: ServedModel) -> None:
    regressor = load_served_model(served_home.registry, "charges@1")
    body, _ = codec.encode_v2(Prediction(values=np.array([1.5, 2.0])), regressor, "r", None)
    assert orjson.loads(body)["outputs"] == [
        {"name": "predictions", "datatype": "FP64", "shape": [2], "data": [1.5, 2.0]}
    ]
    meta = codec.v2_metadata(model)
    assert meta["name"] == "churn"
    assert meta["versions"] == ["1"]
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"][0] == {"name": "region", "datatype": "BYTES", "shape": [-1, 1]}
    assert {"name": "signup_at", "datatype": "BYTES", "shape": [-1, 1]} in meta["inputs"]
    assert meta["outputs"][1] == {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}
    native = codec.v2_metadata(load_served_model(served_home.registry, "churn@2"))
    assert native["platform"] == "modelyard_skops"
    assert "onnx unavailable" in native["parameters"]["runtime_note"]
