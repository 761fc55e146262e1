"""Batch inference over Parquet, CSV and dataset versions, checked against the registry."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.exceptions import (
    MissingDependencyError,
    NotFoundError,
    SignatureError,
    ValidationError,
)
from modelyard.serving.batch import predict_batch
from tests.serving.conftest import ServedHome


def frame_with_ids(home: ServedHome) -> pd.DataFrame:
    """Every column of the fresh rows (targets included) plus a text id column."""
    frame = home.frame.copy()
    frame.insert(0, "row_id", [f"R{i:04d}" for i in range(len(frame))])
    return frame


def expected(home: ServedHome, ref: str, frame: pd.DataFrame) -> tuple[Any, Any]:
    """What the registry's own predictor answers: labels, and probabilities (or None)."""
    model = home.registry.load(ref)
    names = [c["name"] for c in home.registry.get(ref).signature["inputs"]]
    rows = frame[names]
    return model.predict(rows), model.predict_proba(rows) if model.classes else None


def test_parquet_in_chunks_matches_the_registry_and_reports_progress(
    served_home: ServedHome, tmp_path: Path
) -> None:
    frame = frame_with_ids(served_home)
    source = tmp_path / "in.parquet"
    frame.to_parquet(source)
    progress: list[tuple[int, int | None]] = []

    result = predict_batch(
        served_home.registry,
        "churn@1",
        str(source),
        str(tmp_path / "out.parquet"),
        chunk_rows=7,
        id_column="row_id",
        on_progress=lambda rows, total, seconds: progress.append((rows, total)),
    )

    assert (result.rows, result.format) == (60, "parquet")
    assert result.output == str(tmp_path / "out.parquet")
    out = pq.read_table(result.output).to_pandas()
    assert list(out.columns) == ["row_id", "prediction", "proba_0", "proba_1"]
    assert out["row_id"].tolist() == frame["row_id"].tolist()
    labels, probabilities = expected(served_home, "churn@1", frame)
    np.testing.assert_array_equal(out["prediction"].to_numpy(), labels.astype(np.int64))
    np.testing.assert_allclose(out[["proba_0", "proba_1"]].to_numpy(), probabilities, atol=1e-6)
    assert progress == [(min(n, 60), 60) for n in range(7, 67, 7)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "out.parquet"]


def test_csv_in_csv_out_with_every_input_column(served_home: ServedHome, tmp_path: Path) -> None:
    frame = frame_with_ids(served_home)
    frame.loc[3, "monthly_charges"] = np.nan  # a missing number stays missing
    source = tmp_path / "in.csv.gz"
    with gzip.open(source, "wt") as handle:
        frame.to_csv(handle, index=False)

    result = predict_batch(
        served_home.registry,
        "churn@1",
        str(source),
        str(tmp_path / "out.csv"),
        chunk_rows=25,
        include_inputs=True,
    )

    assert (result.rows, result.format) == (60, "csv")
    out = pd.read_csv(result.output, dtype={"row_id": str})
    assert list(out.columns) == [*frame.columns, "prediction", "proba_0", "proba_1"]
    assert out["row_id"].tolist() == frame["row_id"].tolist()
    _, probabilities = expected(served_home, "churn@1", frame)
    np.testing.assert_allclose(out[["proba_0", "proba_1"]].to_numpy(), probabilities, atol=1e-6)


def test_a_dataset_version_as_input(served_home: ServedHome, tmp_path: Path) -> None:
    result = predict_batch(
        served_home.registry, "churn@1", "churn@1", str(tmp_path / "out.parquet"), chunk_rows=150
    )
    training_rows = served_home.registry.data.get("churn@1").to_pandas()  # type: ignore[union-attr]
    out = pq.read_table(result.output).to_pandas()
    assert result.rows == len(training_rows) == 400
    _, probabilities = expected(served_home, "churn@1", training_rows)
    np.testing.assert_allclose(out[["proba_0", "proba_1"]].to_numpy(), probabilities, atol=1e-6)


@pytest.mark.parametrize("ref", ["churn@2", "charges@1"])
def test_native_models_and_regressors(served_home: ServedHome, tmp_path: Path, ref: str) -> None:
    frame = frame_with_ids(served_home)
    frame.to_parquet(tmp_path / "in.parquet")
    result = predict_batch(
        served_home.registry, ref, str(tmp_path / "in.parquet"), str(tmp_path / "o.parquet")
    )
    out = pq.read_table(result.output).to_pandas()
    labels, probabilities = expected(served_home, ref, frame)
    if probabilities is None:
        assert list(out.columns) == ["prediction"]
        np.testing.assert_allclose(out["prediction"].to_numpy(), labels, rtol=1e-5)
    else:
        np.testing.assert_array_equal(out["prediction"].to_numpy(), labels.astype(np.int64))
        np.testing.assert_allclose(out[["proba_0", "proba_1"]].to_numpy(), probabilities)


def test_an_empty_input_gives_an_empty_output_with_the_columns(
    served_home: ServedHome, tmp_path: Path
) -> None:
    frame_with_ids(served_home).head(0).to_parquet(tmp_path / "in.parquet")
    result = predict_batch(
        served_home.registry,
        "churn@1",
        str(tmp_path / "in.parquet"),
        str(tmp_path / "out.parquet"),
        id_column="row_id",
    )
    table = pq.read_table(result.output)
    assert result.rows == table.num_rows == 0
    assert table.column_names == ["row_id", "prediction", "proba_0", "proba_1"]


def test_missing_columns_fail_before_anything_is_written(
    served_home: ServedHome, tmp_path: Path
) -> None:
    frame_with_ids(served_home).drop(columns=["age", "plan"]).to_parquet(tmp_path / "in.parquet")
    output = tmp_path / "out.parquet"
    output.write_bytes(b"the previous output")
    with pytest.raises(SignatureError, match="'plan', 'age'") as caught:
        predict_batch(served_home.registry, "churn@1", str(tmp_path / "in.parquet"), str(output))
    assert caught.value.details["missing"] == ["plan", "age"]
    assert output.read_bytes() == b"the previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "out.parquet"]


def test_a_bad_value_in_a_later_chunk_leaves_the_old_output_and_no_temporary_file(
    served_home: ServedHome, tmp_path: Path
) -> None:
    frame = frame_with_ids(served_home).astype({"signup_at": str})
    frame.loc[45, "signup_at"] = "not a date"
    frame.to_csv(tmp_path / "in.csv", index=False)
    output = tmp_path / "out.parquet"
    output.write_bytes(b"the previous output")
    with pytest.raises(SignatureError, match=r"rows 40 to 49") as caught:
        predict_batch(
            served_home.registry, "churn@1", str(tmp_path / "in.csv"), str(output), chunk_rows=10
        )
    assert list(caught.value.details["conflicts"]) == ["signup_at"]
    assert output.read_bytes() == b"the previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.parquet"]


def test_infinity_is_refused_naming_the_column_and_row(
    served_home: ServedHome, tmp_path: Path
) -> None:
    frame = frame_with_ids(served_home)
    frame.loc[12, "total_charges"] = np.inf
    frame.to_parquet(tmp_path / "in.parquet")
    with pytest.raises(SignatureError, match=r"'total_charges' .* infinity \(first at row 12"):
        predict_batch(
            served_home.registry, "churn@1", str(tmp_path / "in.parquet"), str(tmp_path / "o.pq")
        )
    assert not (tmp_path / "o.pq").exists()


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"chunk_rows": 0}, ValidationError, "chunk_rows must be a whole number"),
        ({"chunk_rows": True}, ValidationError, "chunk_rows must be a whole number"),
        ({"executor": "dask"}, ValidationError, "'dask' is not one of local, ray"),
        ({"output": "out.txt"}, ValidationError, r"name it .parquet \(or .pq\) or .csv"),
        ({"id_column": "nope"}, ValidationError, "id column 'nope' is not in"),
        ({"source": "missing.parquet"}, NotFoundError, "no such input file"),
        ({"source": "data.json"}, NotFoundError, "no such input file"),
        ({"source": "/no/such/dataset"}, NotFoundError, "not a dataset reference either"),
        ({"source": "ghost@1"}, NotFoundError, "ghost"),
        ({"source": "garbage.parquet"}, ValidationError, "not a readable Parquet file"),
        ({"source": "ragged.csv"}, ValidationError, "cannot read as CSV"),
        ({"source": "empty.csv"}, ValidationError, "is empty"),
        ({"source": "folder.parquet"}, NotFoundError, "no such input file"),
    ],
)
def test_bad_arguments_and_bad_files(
    served_home: ServedHome,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    options: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    frame_with_ids(served_home).to_parquet("in.parquet")
    Path("garbage.parquet").write_bytes(b"PAR1 this is not parquet")
    Path("ragged.csv").write_text("a,b\n1,2\n3,4,5\n")
    Path("empty.csv").write_text("")
    Path("folder.parquet").mkdir()
    arguments = {"source": "in.parquet", "output": "out.parquet", **options}
    source, output = arguments.pop("source"), arguments.pop("output")
    with pytest.raises(error, match=message):
        predict_batch(served_home.registry, "churn@1", source, output, **arguments)
    assert not Path("out.parquet").exists()


def test_an_input_column_named_like_an_output_column_is_refused(
    served_home: ServedHome, tmp_path: Path
) -> None:
    frame = frame_with_ids(served_home).rename(columns={"row_id": "proba_1"})
    frame.to_parquet(tmp_path / "in.parquet")
    with pytest.raises(ValidationError, match="'proba_1' would collide"):
        predict_batch(
            served_home.registry,
            "churn@1",
            str(tmp_path / "in.parquet"),
            str(tmp_path / "out.parquet"),
            include_inputs=True,
        )


def test_many_rows_in_small_chunks_keep_their_order(
    served_home: ServedHome, tmp_path: Path
) -> None:
    frame = pd.concat([frame_with_ids(served_home)] * 50, ignore_index=True)  # 3,000 rows
    frame["row_id"] = [f"R{i:05d}" for i in range(len(frame))]
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "in.parquet", row_group_size=333)
    result = predict_batch(
        served_home.registry,
        "churn@1",
        str(tmp_path / "in.parquet"),
        str(tmp_path / "out.parquet"),
        chunk_rows=128,
        id_column="row_id",
    )
    out = pq.read_table(result.output).to_pandas()
    assert out["row_id"].tolist() == frame["row_id"].tolist()
    _, probabilities = expected(served_home, "churn@1", frame)
    np.testing.assert_allclose(out[["proba_0", "proba_1"]].to_numpy(), probabilities, atol=1e-6)


def test_without_ray_the_error_names_the_extra(
    served_home: ServedHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame_with_ids(served_home).to_parquet(tmp_path / "in.parquet")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(MissingDependencyError, match=r"modelyard\[ray\]") as caught:
        predict_batch(
            served_home.registry,
            "churn@1",
            str(tmp_path / "in.parquet"),
            str(tmp_path / "out.parquet"),
            executor="ray",
        )
    assert caught.value.details["extra"] == "ray"
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.slow  # starts a local Ray instance (~10 s)
def test_the_ray_executor_matches_the_local_one(served_home: ServedHome, tmp_path: Path) -> None:
    import ray

    frame = pd.concat([frame_with_ids(served_home)] * 10, ignore_index=True)
    frame["row_id"] = [f"R{i:04d}" for i in range(len(frame))]
    frame.to_parquet(tmp_path / "in.parquet")
    local = predict_batch(
        served_home.registry,
        "churn@1",
        str(tmp_path / "in.parquet"),
        str(tmp_path / "local.parquet"),
        chunk_rows=50,
        id_column="row_id",
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = predict_batch(
            served_home.registry,
            "churn@1",
            str(tmp_path / "in.parquet"),
            str(tmp_path / "ray.parquet"),
            chunk_rows=50,
            id_column="row_id",
            executor="ray",
        )
        frame.loc[333, "total_charges"] = np.inf  # a worker's error comes back as our own error
        frame.to_parquet(tmp_path / "bad.parquet")
        with pytest.raises(SignatureError, match="first at row 333"):
            predict_batch(
                served_home.registry,
                "churn@1",
                str(tmp_path / "bad.parquet"),
                str(tmp_path / "bad-out.parquet"),
                chunk_rows=50,
                executor="ray",
            )
    finally:
        ray.shutdown()
    assert remote.rows == local.rows == 600
    assert pq.read_table(remote.output).equals(pq.read_table(local.output))
    assert not (tmp_path / "bad-out.parquet").exists()


def test_fsspec_urls_for_input_and_output(served_home: ServedHome) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    frame = frame_with_ids(served_home)
    with memory.open("/batch-test/in.parquet", "wb") as handle:
        frame.to_parquet(handle)
    try:
        result = predict_batch(
            served_home.registry,
            "churn@1",
            "memory://batch-test/in.parquet",
            "memory://batch-test/out/preds.parquet",
            chunk_rows=20,
            id_column="row_id",
        )
        assert result.output == "memory://batch-test/out/preds.parquet"
        with memory.open("/batch-test/out/preds.parquet", "rb") as handle:
            out = pq.read_table(handle).to_pandas()
    finally:
        memory.rm("/batch-test", recursive=True)
    assert out["row_id"].tolist() == frame["row_id"].tolist()
    _, probabilities = expected(served_home, "churn@1", frame)
    np.testing.assert_allclose(out[["proba_0", "proba_1"]].to_numpy(), probabilities, atol=1e-6)
