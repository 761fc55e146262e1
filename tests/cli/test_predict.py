"""``modelyard predict`` and ``modelyard predict-stream``, run in-process on a trained home."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from modelyard.cli.app import app
from modelyard.cli.predict import predict_command, predict_stream_command
from modelyard.config import load_settings
from modelyard.data import DataClient
from modelyard.data.synthetic import make_churn
from modelyard.registry import ModelRegistry
from modelyard.tracking import TrackingClient
from modelyard.training import train
from tests.cli.conftest import Result, words

CLI = Callable[..., Result]
REPO_ROOT = Path(__file__).resolve().parents[2]
PII = ["name", "email", "phone", "customer_id"]
SPEC = {
    "families": {"linear": {}},
    "cv": {"folds": 2},
    "tuning": {"trials": 1},
    "ensembles": {"average": False, "stacking": False},
    "seed": 1,
}
# The child of the SIGTERM test: the CLI with these commands (registered if the
# package does not register them yet).
CHILD = """
import sys
from modelyard.cli.app import app, main
from modelyard.cli.predict import predict_command, predict_stream_command
if "predict-stream" not in {c.name for c in app.registered_commands}:
    app.command("predict-stream")(predict_stream_command)
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module", autouse=True)
def commands() -> None:
    """The commands on the app, as ``modelyard.cli`` registers them."""
    names = {command.name for command in app.registered_commands}
    if "predict" not in names:
        app.command("predict")(predict_command)
    if "predict-stream" not in names:
        app.command("predict-stream")(predict_stream_command)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with ``churn@1``: a linear classifier with an ONNX package."""
    home = tmp_path_factory.mktemp("predict-home")
    conf = load_settings(home=home)
    tracking, data = TrackingClient.from_settings(conf), DataClient.from_settings(conf)
    registry = ModelRegistry.from_settings(conf)
    try:
        data.ingest(make_churn(300, seed=1).drop(columns=PII), "churn")
        result = train(
            "churn@1", "churned", SPEC, tracking=tracking, data_client=data, settings=conf
        )
        registry.register(result, "churn")
    finally:
        registry.close()
        tracking.close()
        data.close()
    return home


def fresh_rows(rows: int = 50) -> pd.DataFrame:
    return make_churn(rows, seed=9).drop(columns=["name", "email", "phone"])


def registry_proba(home: Path, frame: pd.DataFrame) -> Any:
    with ModelRegistry.from_settings(load_settings(home=home)) as registry:
        names = [c["name"] for c in registry.get("churn@1").signature["inputs"]]
        return registry.load("churn@1").predict_proba(frame[names])


def test_predict_writes_predictions_and_reports_the_rate(
    cli: CLI, trained: Path, tmp_path: Path
) -> None:
    frame = fresh_rows()
    frame.to_parquet(tmp_path / "in.parquet")
    done = cli(
        "--home", str(trained), "predict", "churn@1",
        "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "preds.parquet"),
        "--chunk-rows", "16", "--id-column", "customer_id",
    )  # fmt: skip
    assert done.code == 0, done.err
    text = words(done.out)
    assert "churn@1: 50 rows →" in text
    assert "rows/s" in text
    out = pq.read_table(tmp_path / "preds.parquet").to_pandas()
    assert list(out.columns) == ["customer_id", "prediction", "proba_0", "proba_1"]
    assert out["customer_id"].tolist() == frame["customer_id"].tolist()
    expected = registry_proba(trained, frame)
    np.testing.assert_allclose(out[["proba_0", "proba_1"]].to_numpy(), expected, atol=1e-6)


def test_predict_json_and_csv_output(cli: CLI, trained: Path, tmp_path: Path) -> None:
    fresh_rows(20).to_csv(tmp_path / "in.csv", index=False)
    done = cli(
        "--home", str(trained), "predict", "churn@1", "--input", str(tmp_path / "in.csv"),
        "--output", str(tmp_path / "preds.csv"), "--include-inputs", "--json",
    )  # fmt: skip
    assert done.code == 0, done.err
    doc = json.loads(done.out)
    assert (doc["rows"], doc["format"], doc["model"]) == (20, "csv", "churn@1")
    assert doc["output"] == str(tmp_path / "preds.csv")
    assert doc["rows_per_second"] > 0
    out = pd.read_csv(tmp_path / "preds.csv")
    assert len(out) == 20
    assert out.columns[-3:].tolist() == ["prediction", "proba_0", "proba_1"]


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"drop": True}, 1, r"error: .* lacks column\(s\) 'age'"),
        ({"--executor": "dask"}, 1, "error: executor 'dask' is not one of local, ray"),
        ({"--output": "preds.txt"}, 1, "error: cannot tell the output format"),
        ({"--input": "nowhere.parquet"}, 1, "error: no such input file"),
        ({"--chunk-rows": "0"}, 2, "--chunk-rows"),
    ],
)
def test_predict_errors_are_messages_with_exit_codes(
    cli: CLI, trained: Path, tmp_path: Path, change: dict[str, Any], code: int, message: str
) -> None:
    change = dict(change)
    dropped = ["age"] if change.pop("drop", False) else []
    fresh_rows(5).drop(columns=dropped).to_parquet(tmp_path / "in.parquet")
    options = {"--input": str(tmp_path / "in.parquet"), "--output": "preds.parquet", **change}
    args = [item for pair in options.items() for item in pair]
    done = cli("--home", str(trained), "predict", "churn@1", *args)
    assert done.code == code
    assert re.search(message, words(done.err)), done.err
    assert not Path("preds.parquet").exists()


def stream_records(rows: int) -> list[dict[str, Any]]:
    frame = fresh_rows(rows)
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return records


@pytest.fixture
def streams(redis_url: str, stream_name: str) -> Iterator[tuple[Any, str, str]]:
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client, stream_name, f"{stream_name}:out"
    client.delete(f"{stream_name}:out")
    client.close()


@pytest.mark.redis
def test_predict_stream_answers_and_dead_letters(
    cli: CLI, trained: Path, redis_url: str, streams: tuple[Any, str, str]
) -> None:
    r, source, sink = streams
    ids = [r.xadd(source, {"data": json.dumps(record)}) for record in stream_records(30)]
    bad = r.xadd(source, {"data": "{oops"})
    done = cli(
        "--home", str(trained), "predict-stream", "churn@1",
        "--from", f"{redis_url}?stream={source}", "--to", f"{redis_url}?stream={sink}",
        "--group", "scoring", "--consumer", "one", "--batch-size", "100", "--block-ms", "50",
        "--max-batches", "1",
    )  # fmt: skip
    assert done.code == 0, done.err
    assert "stopped: 30 predicted, 1 dead-lettered, 1 batches" in words(done.out)
    assert [fields[b"id"] for _, fields in r.xrange(sink)] == ids
    letters = r.xrange(f"{source}:dead-letter")
    assert [fields[b"id"] for _, fields in letters] == [bad]
    assert r.xpending(source, "scoring")["pending"] == 0


@pytest.mark.parametrize(
    ("source", "sink", "message"),
    [
        ("http://localhost/?stream=a", "redis://localhost:6379/0?stream=b", "must be a Redis URL"),
        ("redis://localhost:6379/0", "redis://localhost:6379/0?stream=b", "must name one stream"),
        (
            "redis://localhost:6379/0?stream=a",
            "redis://otherhost:6379/0?stream=b",
            "same Redis server",
        ),
    ],
)
def test_predict_stream_refuses_bad_stream_urls(
    cli: CLI, trained: Path, source: str, sink: str, message: str
) -> None:
    done = cli(
        "--home", str(trained), "predict-stream", "churn@1", "--from", source, "--to", sink,
        "--group", "g",
    )  # fmt: skip
    assert done.code == 1
    assert message in words(done.err)


@pytest.mark.slow  # a child Python process: ~3 s on a busy machine
@pytest.mark.redis
def test_predict_stream_stops_cleanly_on_sigterm(
    trained: Path, redis_url: str, streams: tuple[Any, str, str]
) -> None:
    r, source, sink = streams
    for record in stream_records(10):
        r.xadd(source, {"data": json.dumps(record)})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "src")])}
    child = subprocess.Popen(
        [
            sys.executable, "-c", CHILD, "--home", str(trained), "predict-stream", "churn@1",
            "--from", f"{redis_url}?stream={source}", "--to", f"{redis_url}?stream={sink}",
            "--group", "g", "--block-ms", "100",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while r.xlen(sink) < 10 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err.decode()
    assert "stopped: 10 predicted, 0 dead-lettered" in words(out.decode())
    assert r.xpending(source, "g")["pending"] == 0
