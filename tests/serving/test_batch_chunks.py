"""A model package, as a Ray worker rebuilds it, serves exactly what the driver serves."""

from __future__ import annotations

import pickle

import pyarrow as pa
import pytest

from modelyard.serving._batch_chunks import ChunkPredictor
from modelyard.serving.batch import _package
from modelyard.serving.runtime import load_served_model
from tests.serving.conftest import ServedHome


@pytest.mark.parametrize("ref", ["churn@1", "churn@2", "charges@1"])
def test_a_shipped_package_loads_the_drivers_model(served_home: ServedHome, ref: str) -> None:
    registry = served_home.registry
    driver = load_served_model(registry, ref, intra_op_threads=1)
    package = pickle.loads(pickle.dumps(_package(registry, driver)))  # the trip to a worker

    worker = package.load()

    assert (worker.ref, worker.format, worker.classes) == (
        driver.ref,
        driver.format,
        driver.classes,
    )
    assert worker.runtime_note == driver.runtime_note
    assert type(worker.runtime) is type(driver.runtime)
    table = pa.Table.from_pandas(served_home.inputs(ref), preserve_index=False)
    assert ChunkPredictor(worker, [])(table).equals(ChunkPredictor(driver, [])(table))


def test_the_formats_differ_as_the_registry_says(served_home: ServedHome) -> None:
    formats = {
        ref: load_served_model(served_home.registry, ref).format for ref in ("churn@1", "churn@2")
    }
    assert formats["churn@1"].startswith("onnx")
    assert not formats["churn@2"].startswith("onnx")  # so both paths of load() are covered
