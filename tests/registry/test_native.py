"""Safe by default: skops with trusted types only; pickle only on opt-in and hash match."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression

from modelyard.exceptions import IntegrityError, UnsafeFormatError, ValidationError
from modelyard.registry import ModelRegistry
from modelyard.registry.native import dump_skops, load_pickle, load_skops, untrusted_types
from tests.registry.conftest import Home


class _Exploit:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


class _Custom:
    """A type nobody declared trusted."""

    def __init__(self) -> None:
        self.payload = [1, 2, 3]


def _pickle_run(home: Home, payload: bytes, name: str = "model/model.pkl") -> str:
    with home.tracking.start_run("churn", run_name="hand-logged") as run:
        run.log_bytes(payload, name)
        run.log_dict(home.result.signature, "model/signature.json")
    return run.run_id


def test_a_planted_malicious_pickle_is_refused_and_never_runs(home: Home, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    run_id = _pickle_run(home, pickle.dumps(_Exploit(marker)))
    assert home.registry.allow_pickle is False
    with pytest.raises(UnsafeFormatError, match="MODELYARD_ALLOW_PICKLE"):
        home.registry.register(run_id, "evil")
    assert not marker.exists()
    with pytest.raises(UnsafeFormatError):
        load_pickle(pickle.dumps(_Exploit(marker)), expected_sha256="0" * 64, allow_pickle=False)
    assert not marker.exists()


def test_opted_in_pickles_load_only_when_the_hash_matches(home: Home, tmp_path: Path) -> None:
    model_bytes = pickle.dumps(home.result.model)
    run_id = _pickle_run(home, model_bytes)
    opted = ModelRegistry.from_settings(home.settings)
    opted.allow_pickle = True
    try:
        version = opted.register(run_id, "pickled", onnx=False)
        assert version.formats["pickle"]["blob"] == hashlib.sha256(model_bytes).hexdigest()
        rows = home.frame.drop(columns=["churned"]).iloc[:5]
        assert opted.load(version.ref).predict(rows).shape == (5,)
        # The record's hash must match the bytes: a swapped blob is refused unloaded.
        marker = tmp_path / "pwned"
        evil = pickle.dumps(_Exploit(marker))
        with pytest.raises(IntegrityError, match="changed after registration"):
            load_pickle(evil, expected_sha256=version.formats["pickle"]["blob"], allow_pickle=True)
        assert not marker.exists()
    finally:
        opted.close()
    with pytest.raises(UnsafeFormatError):  # the default registry still refuses to load it
        home.registry.load(version.ref)


def test_skops_refuses_types_outside_the_trusted_list() -> None:
    data = dump_skops({"model": LogisticRegression(), "extra": _Custom()})
    assert untrusted_types(data) == [f"{__name__}._Custom"]
    with pytest.raises(UnsafeFormatError, match="_Custom"):
        load_skops(data)


def test_names_imported_into_the_transformers_module_are_not_trusted() -> None:
    from modelyard.features import transformers

    imported = [
        n
        for n, v in vars(transformers).items()
        if callable(v) and getattr(v, "__module__", "") != transformers.__name__
    ]
    assert imported  # the module does import helpers (e.g. from sklearn)
    from modelyard.registry.native import _own_classes

    own = _own_classes()
    assert f"{transformers.__name__}.AsFloat" in own
    assert not any(f"{transformers.__name__}.{n}" in own for n in imported)


def test_every_family_type_is_trusted(home: Home) -> None:
    assert untrusted_types(dump_skops(home.result.model)) == []
    assert type(load_skops(dump_skops(home.result.model))) is type(home.result.model)


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04" + b"\0" * 100, os.urandom(4096)])
def test_garbage_skops_files_are_integrity_errors(data: bytes) -> None:
    with pytest.raises(IntegrityError, match="skops"):
        load_skops(data)


def test_pickle_arguments_are_checked() -> None:
    with pytest.raises(ValidationError, match="SHA-256"):
        load_pickle(b"x", expected_sha256="abc", allow_pickle=True)
    data = pickle.dumps([1, 2])
    sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(ValidationError, match="flavor"):
        load_pickle(data, expected_sha256=sha, allow_pickle=True, flavor="cloudpickle")
    assert load_pickle(data, expected_sha256=sha, allow_pickle=True) == [1, 2]


def test_a_run_with_a_model_but_no_signature_is_refused(home: Home) -> None:
    with home.tracking.start_run("churn", run_name="no-signature") as run:
        run.log_bytes(dump_skops(home.result.model), "model/model.skops")
    with pytest.raises(ValidationError, match=r"no model/signature\.json"):
        home.registry.register(run.run_id, "nosig")
    with home.tracking.start_run("churn", run_name="bad-signature") as run:
        run.log_bytes(dump_skops(home.result.model), "model/model.skops")
        run.log_text(
            json.dumps({"inputs": [], "output": {"task": "clustering"}}), "model/signature.json"
        )
    with pytest.raises(ValidationError, match="clustering"):
        home.registry.register(run.run_id, "nosig")


def test_pickle_opt_in_comes_from_the_environment(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import joblib

    from modelyard.config import load_settings

    buffer = __import__("io").BytesIO()
    joblib.dump(home.result.model, buffer)
    run_id = _pickle_run(home, buffer.getvalue(), name="model/model.joblib")
    monkeypatch.setenv("MODELYARD_ALLOW_PICKLE", "1")
    opted = ModelRegistry.from_settings(load_settings(home=home.settings.home))
    try:
        assert opted.allow_pickle is True
        version = opted.register(run_id, "joblibbed", onnx=False)
        assert "joblib" in version.formats
        rows = home.frame.drop(columns=["churned"]).iloc[:4]
        assert opted.load(version.ref).predict(rows).shape == (4,)
        # A swapped blob is refused before a byte is unpickled.
        path = opted.blobs.local_path(version.formats["joblib"]["blob"])
        assert path is not None
        path.chmod(0o644)
        original = path.read_bytes()
        marker = tmp_path / "pwned"
        path.write_bytes(pickle.dumps(_Exploit(marker)))
        try:
            fresh = ModelRegistry.from_settings(load_settings(home=home.settings.home))
            with pytest.raises(IntegrityError):
                fresh.load(version.ref)
            fresh.close()
            assert not marker.exists()
        finally:
            path.write_bytes(original)
    finally:
        opted.close()
