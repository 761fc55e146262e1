"""PredictionLog and FeedbackLog: Parquet content, rotation, bounded memory, safety."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from modelyard.exceptions import ConfigError, ValidationError
from modelyard.registry.onnx_model import EMPTY_LEVEL
from modelyard.serving.prediction_log import FeedbackLog, LogEntry, PredictionLog
from modelyard.serving.runtime import Prediction

INT64_MIN = np.iinfo(np.int64).min
T0 = 1_700_000_000_000  # ms since the epoch
FILE_NAME = re.compile(r"^predictions-\d{8}T\d{6}Z-\d+-\d{6}\.parquet$")


def classifier_entry(request_id: str, xs: list[float], *, version: int = 1) -> LogEntry:
    probs = np.array([[1 - x / 10, x / 10] for x in np.nan_to_num(xs)], dtype=np.float32)
    return LogEntry(
        request_id=request_id,
        timestamp_ms=T0,
        model="churn",
        version=version,
        latency_ms=1.5,
        inputs={"x": np.array(xs, dtype=np.float64).reshape(-1, 1)},
        prediction=Prediction(codes=(probs[:, 1] > 0.5).astype(np.int64), probabilities=probs),
        classes=["no", "yes"],
    )


def read_folder(folder: Path) -> pa.Table:
    files = sorted(folder.glob("*.parquet"))
    assert files, f"no parquet files in {folder}"
    return pa.concat_tables([pq.read_table(f) for f in files])


def test_entries_land_in_parquet_with_natural_types(tmp_path: Path) -> None:
    stamps = np.array(["2024-05-01T12:00:00", "NaT"], dtype="datetime64[ns]").view(np.int64)
    first = LogEntry(
        request_id="req-1",
        timestamp_ms=T0,
        model="churn",
        version=3,
        latency_ms=2.25,
        inputs={
            "tenure": np.array([[12.0], [np.nan]]),
            "plan": np.array([["gold"], [""]], dtype=object),
            "signup": stamps.reshape(-1, 1),
        },
        prediction=Prediction(
            codes=np.array([1, 0]),
            probabilities=np.array([[0.2, 0.8], [0.9, 0.1]], dtype=np.float32),
        ),
        classes=["no", "yes"],
    )
    second = LogEntry(
        request_id="req-2",
        timestamp_ms=T0 + 5,
        model="churn",
        version=3,
        latency_ms=0.5,
        inputs={
            "tenure": np.array([[1.0]]),
            "plan": np.array([[EMPTY_LEVEL]], dtype=object),
            "signup": np.array([[INT64_MIN]]),
        },
        prediction=Prediction(
            codes=np.array([0]), probabilities=np.array([[0.6, 0.4]], dtype=np.float32)
        ),
        classes=["no", "yes"],
    )
    regression = LogEntry(
        "req-3",
        T0,
        "price",
        1,
        9.0,
        {"area": np.array([[70.0]])},
        Prediction(values=np.array([123.5])),
    )
    with PredictionLog(tmp_path) as log:
        for entry in (first, second, regression):
            log.record(entry)
    assert (log.dropped, log.failed, log.written) == (0, 0, 4)
    assert all(FILE_NAME.match(f.name) for f in tmp_path.glob("*/*.parquet"))
    assert not list(tmp_path.rglob("*.tmp"))

    churn = read_folder(tmp_path / "churn")
    assert churn.schema.field("in.tenure").type == pa.float64()
    assert churn.schema.field("in.plan").type == pa.string()
    assert churn.schema.field("in.signup").type == pa.timestamp("ns", tz="UTC")
    assert churn.schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert churn.schema.field("out.label").type == pa.string()
    assert churn.column_names[:6] == [
        "request_id",
        "row",
        "timestamp",
        "model",
        "version",
        "latency_ms",
    ]
    rows = churn.to_pylist()
    assert [r["request_id"] for r in rows] == ["req-1", "req-1", "req-2"]
    assert [r["row"] for r in rows] == [0, 1, 0]
    assert [r["version"] for r in rows] == [3, 3, 3]
    assert [r["latency_ms"] for r in rows] == [2.25, 2.25, 0.5]
    assert [r["in.tenure"] for r in rows] == [12.0, None, 1.0]  # missing is null
    assert [r["in.plan"] for r in rows] == ["gold", None, ""]  # EMPTY_LEVEL is a real ""
    assert rows[0]["in.signup"] == dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    assert rows[1]["in.signup"] is None
    assert rows[2]["in.signup"] is None
    assert rows[2]["timestamp"] == dt.datetime.fromtimestamp((T0 + 5) / 1000, tz=dt.UTC)
    assert [r["out.label"] for r in rows] == ["yes", "no", "no"]
    assert [r["out.prob.yes"] for r in rows] == pytest.approx([0.8, 0.1, 0.4])

    price = read_folder(tmp_path / "price").to_pylist()
    assert price == [
        {
            "request_id": "req-3",
            "row": 0,
            "timestamp": dt.datetime.fromtimestamp(T0 / 1000, tz=dt.UTC),
            "model": "price",
            "version": 1,
            "latency_ms": 9.0,
            "in.area": 70.0,
            "out.value": 123.5,
        }
    ]


def test_integer_and_bool_classes_keep_their_type(tmp_path: Path) -> None:
    def entry(classes: list[object]) -> LogEntry:
        pred = Prediction(codes=np.array([1, 0]), probabilities=np.full((2, 2), 0.5))
        return LogEntry(
            "r", T0, f"m{type(classes[0]).__name__}", 1, 1.0, {"x": np.zeros((2, 1))}, pred, classes
        )

    with PredictionLog(tmp_path) as log:
        log.record(entry([0, 1]))
        log.record(entry([False, True]))
    assert read_folder(tmp_path / "mint").column("out.label").to_pylist() == [1, 0]
    assert read_folder(tmp_path / "mbool").column("out.label").to_pylist() == [True, False]
    assert "out.prob.True" in read_folder(tmp_path / "mbool").column_names


def test_files_rotate_by_rows(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, max_rows_per_file=10) as log:
        for i in range(8):
            log.record(classifier_entry(f"r{i}", [1.0, 2.0, 3.0]))  # 24 rows in all
    files = sorted((tmp_path / "churn").glob("*.parquet"))
    assert [pq.read_metadata(f).num_rows for f in files] == [10, 10, 4]
    ids = read_folder(tmp_path / "churn").column("request_id").to_pylist()
    assert ids == [f"r{i}" for i in range(8) for _ in range(3)]


def test_files_rotate_by_age_without_close(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, max_file_age_s=0.2, flush_interval_s=0.05)
    try:
        log.record(classifier_entry("early", [1.0]))
        folder = tmp_path / "churn"
        deadline = time.monotonic() + 10
        while not list(folder.glob("*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert read_folder(folder).column("request_id").to_pylist() == ["early"]
        log.record(classifier_entry("late", [1.0]))
        while len(list(folder.glob("*.parquet"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(list(folder.glob("*.parquet"))) == 2
    finally:
        log.close()


def test_memory_stays_bounded_and_drops_are_counted(tmp_path: Path) -> None:
    entry = classifier_entry("flood", [1.0] * 1000)
    with PredictionLog(tmp_path, max_buffer_rows=5_000, flush_interval_s=30) as log:
        started = time.perf_counter()
        high_water = 0
        for _ in range(1000):  # a million rows
            log.record(entry)
            high_water = max(high_water, log.buffered_rows)
        took = time.perf_counter() - started
    assert high_water <= 5_000
    assert log.dropped > 0
    assert log.dropped + log.written + log.failed == 1_000_000
    assert log.written == sum(
        pq.read_metadata(f).num_rows for f in (tmp_path / "churn").glob("*.parquet")
    )
    assert took < 5  # the hot path never waited for the writer


def test_concurrent_record_from_threads(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, flush_interval_s=0.01, max_rows_per_file=700) as log:

        def worker(thread: int) -> None:
            for i in range(500):
                log.record(classifier_entry(f"t{thread}-{i}", [float(i % 7)]))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    ids = read_folder(tmp_path / "churn").column("request_id").to_pylist()
    assert sorted(ids) == sorted(f"t{t}-{i}" for t in range(8) for i in range(500))
    assert log.dropped == log.failed == 0


def test_close_flushes_and_later_records_are_dropped(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, flush_interval_s=60, max_file_age_s=600)
    log.record(classifier_entry("a", [1.0, 2.0]))
    assert not list(tmp_path.rglob("*.parquet"))
    log.close()
    assert read_folder(tmp_path / "churn").num_rows == 2
    log.record(classifier_entry("b", [1.0]))
    log.close()  # idempotent
    assert (log.dropped, log.written) == (1, 2)


@pytest.mark.slow
def test_a_crash_leaves_only_temp_files_behind(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})
        from tests.serving.test_prediction_log import classifier_entry
        from modelyard.serving.prediction_log import PredictionLog
        log = PredictionLog(Path({str(tmp_path)!r}), flush_interval_s=0.02)
        for i in range(50):
            log.record(classifier_entry(f"r{{i}}", [1.0, 2.0]))
        while not list(Path({str(tmp_path)!r}).rglob("*.tmp")):
            time.sleep(0.01)
        time.sleep(0.1)
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
    assert list(tmp_path.rglob("*.tmp"))
    assert not list(tmp_path.rglob("*.parquet"))  # nothing half-written is visible
    with PredictionLog(tmp_path) as log:  # a new process carries on beside the debris
        log.record(classifier_entry("after", [1.0]))
    dataset = ds.dataset(tmp_path / "churn", format="parquet")  # hidden temp files ignored
    assert dataset.to_table().column("request_id").to_pylist() == ["after"]


def test_an_unwritable_directory_fails_at_construction(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="not writable") as error:
        PredictionLog(blocker / "logs")
    assert "a-file" in str(error.value)
    with pytest.raises(ConfigError):
        FeedbackLog(blocker)
    with pytest.raises(ValidationError, match="max_rows_per_file"):
        PredictionLog(tmp_path, max_rows_per_file=0)


def test_hostile_strings_survive(tmp_path: Path) -> None:
    huge = "x" * 10_000_000
    values = [huge, "nul\x00inside", "ünïcødé 😀 \u202eRTL", "lone \ud800 surrogate"]
    entry = LogEntry(
        request_id="id\x00\ud800😀",
        timestamp_ms=T0,
        model="../../evil/名前",
        version=1,
        latency_ms=1.0,
        inputs={"text": np.array(values, dtype=object).reshape(-1, 1)},
        prediction=Prediction(values=np.arange(4, dtype=np.float64)),
    )
    with PredictionLog(tmp_path) as log:
        log.record(entry)
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert folder.parent == tmp_path
    assert not folder.name.startswith(".")
    table = read_folder(folder)
    assert table.column("in.text").to_pylist() == [*values[:3], "lone ? surrogate"]
    assert table.column("request_id").to_pylist() == ["id\x00?😀"] * 4
    assert table.column("model").to_pylist() == ["../../evil/名前"] * 4


def test_malformed_entries_are_counted_not_raised(tmp_path: Path) -> None:
    ragged = LogEntry(
        "bad", T0, "churn", 1, 1.0, {"x": np.zeros((3, 1))}, Prediction(values=np.zeros(2))
    )
    wrong_codes = dataclasses.replace(
        classifier_entry("bad2", [1.0]),
        prediction=Prediction(codes=np.array([5]), probabilities=np.ones((1, 2))),
    )
    with PredictionLog(tmp_path) as log:
        log.record(ragged)
        log.record(wrong_codes)
        log.record(LogEntry("none", T0, "churn", 1, 1.0, {}, None))  # type: ignore[arg-type]
        log.record(classifier_entry("good", [1.0]))
    assert read_folder(tmp_path / "churn").column("request_id").to_pylist() == ["good"]
    assert (log.dropped, log.failed, log.written) == (1, 3, 1)


def test_versions_with_different_inputs_go_to_different_files(tmp_path: Path) -> None:
    other = LogEntry(
        "v2",
        T0,
        "churn",
        2,
        1.0,
        {"y": np.array([["a"]], dtype=object)},
        Prediction(values=np.ones(1)),
    )
    with PredictionLog(tmp_path) as log:
        log.record(classifier_entry("v1", [1.0]))
        log.record(other)
        log.record(classifier_entry("v1b", [2.0]))
    files = sorted((tmp_path / "churn").glob("*.parquet"))
    schemas = {tuple(pq.read_schema(f).names) for f in files}
    assert len(files) == 2
    assert len(schemas) == 2
    dataset = ds.dataset(files, format="parquet", schema=None)
    assert dataset.count_rows() == 3


def test_feedback_is_logged_by_request_id(tmp_path: Path) -> None:
    with FeedbackLog(tmp_path, max_rows_per_file=3) as feedback:
        feedback.record("r1", "yes", T0)
        feedback.record("r2", 1, T0 + 1, row=2)
        feedback.record("r3", 2.5, T0 + 2)
        feedback.record("r4", True, T0 + 3)
        feedback.record("r5", None)
    files = sorted(tmp_path.glob("feedback-*.parquet"))
    assert [pq.read_metadata(f).num_rows for f in files] == [3, 2]
    table = pa.concat_tables([pq.read_table(f) for f in files])
    assert table.column("request_id").to_pylist() == ["r1", "r2", "r3", "r4", "r5"]
    assert table.column("label").to_pylist() == ["yes", "1", "2.5", "True", None]
    assert table.column("value").to_pylist() == [None, 1.0, 2.5, 1.0, None]
    assert table.column("row").to_pylist() == [0, 2, 0, 0, 0]
    assert table.schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert table.column("timestamp").to_pylist()[4] > dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def test_bad_feedback_is_refused_with_what_to_fix(tmp_path: Path) -> None:
    with FeedbackLog(tmp_path) as feedback:
        with pytest.raises(ValidationError, match="request_id=7 must be text"):
            feedback.record(7, "yes")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match=r"label=.* must be text, a number"):
            feedback.record("r1", {"nested": 1})
        with pytest.raises(ValidationError, match="timestamp_ms='soon' must be an integer"):
            feedback.record("r1", "yes", "soon")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="row=-1"):
            feedback.record("r1", "yes", row=-1)
        feedback.record("r1", "yes", np.int64(T0), row=np.int64(1))  # type: ignore[arg-type]
    assert pq.read_table(next(tmp_path.glob("feedback-*.parquet"))).num_rows == 1


def test_one_entry_per_model_call_keeps_each_requests_rows(tmp_path: Path) -> None:
    batch = dataclasses.replace(
        classifier_entry("ignored", [1.0, 2.0, 3.0, 9.0]),
        parts=(("a", T0, 1.25, 1), ("b", T0 + 5, 2.5, 3)),
    )
    ragged = dataclasses.replace(batch, parts=(("c", T0, 1.0, 1), ("d", T0, 1.0, 1)))
    with PredictionLog(tmp_path) as log:
        log.record(batch)
        log.record(ragged)  # parts for 2 rows, 4 predicted: skipped and counted
    table = read_folder(tmp_path / "churn")
    assert table.column("request_id").to_pylist() == ["a", "b", "b", "b"]
    assert table.column("row").to_pylist() == [0, 0, 1, 2]
    assert table.column("latency_ms").to_pylist() == [1.25, 2.5, 2.5, 2.5]
    stamps = [t.timestamp() * 1000 for t in table.column("timestamp").to_pylist()]
    assert stamps == [T0, T0 + 5, T0 + 5, T0 + 5]
    assert table.column("in.x").to_pylist() == [1.0, 2.0, 3.0, 9.0]
    assert table.column("out.label").to_pylist() == ["no", "no", "no", "yes"]
    assert (log.failed, log.written) == (4, 4)


def test_block_feeds_log_like_plain_feeds_into_the_same_file(tmp_path: Path) -> None:
    from modelyard.serving._blocks import BlockFeeds
    from modelyard.serving._feed_plan import FeedPlan

    plan = FeedPlan(
        {
            "inputs": [
                {"name": "x", "kind": "numeric"},
                {"name": "plan", "kind": "categorical"},
                {"name": "vip", "kind": "boolean"},
                {"name": "since", "kind": "datetime"},
            ]
        }
    )
    rows = [
        {"x": 1.5, "plan": "pro", "vip": True, "since": "2024-05-01T00:00:00Z"},
        {"x": None, "plan": "", "vip": None, "since": None},
    ]
    planned = [plan.from_records([row], max_rows=5) for row in rows]
    assert all(p is not None for p in planned)
    parts = [p[0] for p in planned if p is not None]
    batch = BlockFeeds.concat(parts)
    assert batch is not None
    plain = {name: np.asarray(values).copy() for name, values in parts[0].items()}
    probs = np.array([[0.25, 0.75], [0.5, 0.5], [0.9, 0.1]], dtype=np.float32)

    def entry(rid: str, inputs: Any, prob: np.ndarray, parts: Any = ()) -> LogEntry:
        prediction = Prediction(codes=(prob[:, 1] > 0.6).astype(np.int64), probabilities=prob)
        return LogEntry(rid, T0, "churn", 1, 1.0, inputs, prediction, ["no", "yes"], parts)

    with PredictionLog(tmp_path) as log:
        log.record(entry("batch", batch, probs[:2], (("a", T0, 1.0, 1), ("b", T0, 2.0, 1))))
        log.record(entry("plain", plain, probs[2:]))
    files = list((tmp_path / "churn").glob("*.parquet"))
    assert len(files) == 1  # one schema, one file
    table = read_folder(tmp_path / "churn")
    assert table.column_names[6:10] == ["in.x", "in.plan", "in.vip", "in.since"]
    by_id = {r["request_id"]: r for r in table.to_pylist()}
    assert by_id["a"]["in.x"] == 1.5
    assert by_id["a"]["in.plan"] == "pro"
    assert by_id["a"]["in.vip"] == 1.0
    assert by_id["a"]["in.since"].isoformat() == "2024-05-01T00:00:00+00:00"
    assert by_id["b"]["in.x"] is None
    assert by_id["b"]["in.plan"] == ""
    assert by_id["b"]["in.since"] is None
    assert by_id["b"]["in.vip"] is None
    assert by_id["plain"]["in.plan"] == "pro"
    assert by_id["plain"]["out.label"] == "no"
    assert (log.failed, log.written) == (0, 3)


def test_versions_sharing_a_schema_keep_their_own_version_on_every_row(tmp_path: Path) -> None:
    """Entries of two versions with the same inputs land in one table; each row keeps its
    entry's version, request id and row number, whether requests had one row or many."""
    one = dataclasses.replace(
        classifier_entry("ignored", [1.0, 2.0]), parts=(("a", T0, 1.0, 1), ("b", T0, 2.0, 1))
    )
    many = dataclasses.replace(
        classifier_entry("ignored", [3.0, 4.0, 8.0], version=2),
        parts=(("c", T0, 3.0, 2), ("d", T0, 4.0, 1)),
    )
    single = classifier_entry("e", [9.0], version=3)
    with PredictionLog(tmp_path) as log:
        for entry in (one, many, single):
            log.record(entry)
    table = read_folder(tmp_path / "churn")
    assert table.column("request_id").to_pylist() == ["a", "b", "c", "c", "d", "e"]
    assert table.column("version").to_pylist() == [1, 1, 2, 2, 2, 3]
    assert table.column("row").to_pylist() == [0, 0, 0, 1, 0, 0]
    assert table.column("model").to_pylist() == ["churn"] * 6
    assert table.column("latency_ms").to_pylist() == [1.0, 2.0, 3.0, 3.0, 4.0, 1.5]
    assert table.column("in.x").to_pylist() == [1.0, 2.0, 3.0, 4.0, 8.0, 9.0]
