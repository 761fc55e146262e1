"""Registering runs, reading versions back, aliases, search, archive/delete, loading."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from modelyard.exceptions import (
    ConflictError,
    IntegrityError,
    NotFoundError,
    SignatureError,
    ValidationError,
)
from modelyard.registry import ModelRegistry
from tests.registry.conftest import Home, make_home


@pytest.fixture(scope="module")
def registered(home: Home) -> Home:
    home.registry.register(home.result, "churn", description="first")
    return home


def test_a_version_records_its_lineage_and_packages(registered: Home) -> None:
    version = registered.registry.get("churn@1")
    lineage = version.lineage
    assert version.run_id == registered.result.run_id
    assert version.task == "binary"
    assert lineage["data"] == "churn@1"
    assert lineage["dataset_hash"] == registered.data.get("churn@1").content_hash
    assert lineage["target"] == "churned"
    assert lineage["split"] == {"fraction": 0.2}
    assert lineage["family"] in ("linear", "random_forest")
    assert lineage["train_spec"]["seed"] == 7
    assert "scikit-learn" in lineage["libraries"]
    assert lineage["python"]
    assert version.metrics["roc_auc"] == pytest.approx(registered.result.holdout["roc_auc"])
    assert version.signature == registered.result.signature
    skops = version.formats["skops"]
    assert skops["size"] == version.size_bytes > 0
    onnx = version.formats["onnx"]
    assert onnx["parity"]["ok"]
    assert onnx["parity"]["max_abs_diff"] <= 1e-4
    for fmt in ("skops", "onnx"):
        latency = version.formats[fmt]["latency"]
        assert 0 < latency["single_p50_ms"] <= latency["single_p99_ms"]
        assert latency["batch_rows"] == 1000
    assert version.description == "first"


def test_loaded_models_answer_like_the_trained_one(registered: Home) -> None:
    rows = registered.frame.drop(columns=["churned"]).iloc[:50]
    expected = registered.result.predict_proba(rows)
    for fmt in ("onnx", "skops"):
        model = registered.registry.load("churn@1", format=fmt)
        np.testing.assert_allclose(model.predict_proba(rows), expected, atol=1e-4)
        labels = model.predict(pa.Table.from_pandas(rows, preserve_index=False))
        assert set(labels) <= {0, 1}
    assert registered.registry.load("churn").format == "onnx"  # the default when parity holds


def test_signature_mismatch_names_every_problem(registered: Home) -> None:
    model = registered.registry.load("churn@1")
    rows = registered.frame.drop(columns=["churned", "plan"]).iloc[:5].copy()
    rows["age"] = ["old", "young", "30", "40", "50"]
    rows["surprise"] = 1
    with pytest.raises(SignatureError) as caught:
        model.predict(rows)
    message = str(caught.value)
    assert "missing column(s): 'plan'" in message
    assert "'surprise'" in message
    assert "column 'age': expected numbers, got 'old', 'young'" in message
    assert caught.value.details["missing"] == ["plan"]
    # Numbers as text are fine; extra columns can be ignored on request.
    ok = registered.frame.drop(columns=["churned"]).iloc[:3].astype({"age": str})
    ok["surprise"] = 1
    assert len(model.predict(ok, extra="ignore")) == 3


def test_refs_aliases_and_errors(registered: Home) -> None:
    reg = registered.registry
    with pytest.raises(NotFoundError, match=r"aliases: none yet"):
        reg.get("churn@champion")
    reg.set_alias("churn", "challenger", 1, reason="try it")
    assert reg.get("churn@challenger").version == 1
    with pytest.raises(NotFoundError, match=r"aliases: challenger \(v1\)"):
        reg.get("churn@champion")
    with pytest.raises(NotFoundError, match="models: churn"):
        reg.get("chrun@1")
    with pytest.raises(ValidationError, match="model reference"):
        reg.get("")
    with pytest.raises(ValidationError, match="alias"):
        reg.get("churn@not an alias")
    with pytest.raises(ValidationError, match="format"):
        reg.load("churn@1", format="tensorflow")
    reg.delete_alias("churn", "challenger")


def test_registering_a_run_without_a_model_is_refused(registered: Home) -> None:
    with registered.tracking.start_run("churn", run_name="notes") as run:
        run.log_text("hello", "notes.txt")
    with pytest.raises(ValidationError, match=r"has no model to register.*notes\.txt"):
        registered.registry.register(run.run_id, "churn")
    with pytest.raises(NotFoundError, match="no run"):
        registered.registry.register("f" * 32, "churn")
    with pytest.raises(ValidationError, match="model name"):
        registered.registry.register(registered.result, "../etc/passwd")


def test_a_tampered_blob_is_never_loaded(
    home: Home, tmp_path_factory: pytest.TempPathFactory
) -> None:
    reg = home.registry
    version = reg.register(home.result, "tamper")
    sha = version.formats["onnx"]["blob"]
    path = reg.blobs.local_path(sha)
    assert path is not None
    path.chmod(0o644)
    original = path.read_bytes()  # content-addressed: other versions share this blob
    path.write_bytes(original[:-10] + b"0123456789")
    fresh = ModelRegistry.from_settings(home.settings)  # no cached verification
    try:
        with pytest.raises(IntegrityError):
            fresh.load(version.ref, format="onnx")
        assert fresh.load(version.ref, format="skops").predict(
            home.frame.drop(columns=["churned"]).iloc[:2]
        ).shape == (2,)
    finally:
        fresh.close()
        path.write_bytes(original)


def test_search_archive_delete_and_history(registered: Home) -> None:
    reg = registered.registry
    second = reg.register(registered.result, "search-me", onnx=False)
    reg.register(registered.result, "search-me", onnx=False)
    auc = second.metrics["roc_auc"]
    assert [v.version for v in reg.search("search-me", where=f"roc_auc >= {auc - 0.01}")] == [2, 1]
    assert reg.search("search-me", where=f"roc_auc > {auc + 0.5}") == []
    assert [v.version for v in reg.search("search-me", order_by="version ASC")] == [1, 2]
    with pytest.raises(ValidationError, match="METRIC OP NUMBER"):
        reg.search("search-me", where="roc_auc is big")
    assert "onnx=False" in second.formats["onnx"]["unavailable"]
    reg.set_alias("search-me", "champion", 1)
    with pytest.raises(ConflictError, match="champion"):
        reg.delete("search-me@1")
    reg.archive("search-me@2", reason="superseded")
    assert [v.version for v in reg.search("search-me", status="archived")] == [2]
    reg.restore("search-me@2")
    reg.delete("search-me@2", reason="cleanup")
    kinds = [(e.kind, e.version) for e in reg.history("search-me")]
    assert kinds == [
        ("register", 1),
        ("register", 2),
        ("alias", 1),
        ("status", 2),
        ("status", 2),
        ("delete", 2),
    ]


def test_int8_quantization_is_kept_with_its_measurements(home: Home) -> None:
    result = home.train({**_linear_only()})
    version = home.registry.register(result, "quantized", quantize=True)
    int8 = version.formats["onnx-int8"]
    assert int8["size"] > 0
    assert "accuracy_delta" in int8
    assert int8["speedup"] > 0
    assert abs(int8["accuracy_delta"]) < 0.1
    model = home.registry.load(version.ref, format="onnx-int8")
    proba = model.predict_proba(home.frame.drop(columns=["churned"]).iloc[:20])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def _linear_only() -> dict[str, object]:
    return {
        "families": {"linear": {}},
        "cv": {"folds": 2},
        "tuning": {"trials": 1},
        "ensembles": {"average": False, "stacking": False},
    }


def test_predicting_on_empty_huge_and_hostile_input(registered: Home) -> None:
    model = registered.registry.load("churn@1")
    features = registered.frame.drop(columns=["churned"])
    assert model.predict(features.iloc[:0]).shape == (0,)
    assert model.predict_proba(features.iloc[:0]).shape == (0, 2)
    hostile = features.iloc[:3].copy()
    hostile["region"] = ["<script>alert(1)</script>", "x" * 100_000, "\u202e\u0000ünï"]
    hostile["plan"] = [None, float("nan"), ""]
    proba = model.predict_proba(hostile)  # unseen and missing levels are handled, not errors
    assert proba.shape == (3, 2)
    assert np.isfinite(proba).all()
    big = features.sample(100_000, replace=True, random_state=0)
    assert model.predict(big).shape == (100_000,)
    with pytest.raises(ValidationError, match="DataFrame"):
        model.predict("age=3")  # type: ignore[arg-type]


@pytest.mark.postgres
def test_the_registry_on_postgresql(pg_database: Callable[[], str], tmp_path: Path) -> None:
    built = make_home(tmp_path, rows=300, db_url=pg_database())
    try:
        version = built.registry.register(built.result, "churn")
        built.registry.set_alias("churn", "champion", version.version)
        model = built.registry.load("churn@champion")
        rows = built.frame.drop(columns=["churned"]).iloc[:10]
        np.testing.assert_allclose(
            model.predict_proba(rows), built.result.predict_proba(rows), atol=1e-4
        )
        assert [e.kind for e in built.registry.history("churn")] == ["register", "alias"]
    finally:
        built.registry.close()
        built.tracking.close()
        built.data.close()


def test_a_failed_registration_leaves_nothing_behind(home: Home) -> None:
    root = home.settings.home / "artifacts"
    blobs_before = sorted(p for p in root.rglob("*") if p.is_file())
    models_before = home.registry.list_models()
    with pytest.raises(ValidationError, match="model name"):
        home.registry.register(home.result, "bad name!", quantize=True)
    assert sorted(p for p in root.rglob("*") if p.is_file()) == blobs_before
    assert home.registry.list_models() == models_before


def test_destructive_changes_name_their_version(registered: Home) -> None:
    with pytest.raises(ValidationError, match="churn@VERSION"):
        registered.registry.delete("churn")
    with pytest.raises(ValidationError, match="say which version"):
        registered.registry.archive("churn@latest")


def test_misspelt_metrics_in_search_are_errors(registered: Home) -> None:
    with pytest.raises(ValidationError, match=r"rocauc.*metrics: accuracy"):
        registered.registry.search("churn", where="rocauc >= 0.5")
    with pytest.raises(ValidationError, match="rocauc"):
        registered.registry.search("churn", order_by="rocauc DESC")


def test_infinite_and_out_of_range_values_are_signature_errors(registered: Home) -> None:
    model = registered.registry.load("churn@1")
    rows = registered.frame.drop(columns=["churned"]).iloc[:3].copy()
    rows["age"] = [float("inf"), -float("inf"), 30.0]
    rows["paperless_billing"] = [2, 0, 1]
    with pytest.raises(SignatureError) as caught:
        model.predict(rows)
    assert set(caught.value.details["conflicts"]) == {"age", "paperless_billing"}
    assert "finite" in str(caught.value)
