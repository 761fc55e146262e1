"""Manifests: validation, immutability, and canonical JSON."""

from __future__ import annotations

import hashlib
import json

import pytest

from modelyard.artifacts import BlobRef, Manifest
from modelyard.exceptions import NotFoundError, ValidationError

A = BlobRef(hashlib.sha256(b"a").hexdigest(), 1)
B = BlobRef(hashlib.sha256(b"bb").hexdigest(), 2)


def test_a_manifest_maps_paths_to_refs() -> None:
    manifest = Manifest({"plots/roc.png": B, "model/model.skops": A})

    assert list(manifest) == ["model/model.skops", "plots/roc.png"]
    assert manifest["model/model.skops"] == A
    assert len(manifest) == 2
    assert "plots/roc.png" in manifest
    assert manifest.total_size == 3


def test_json_round_trips() -> None:
    manifest = Manifest({"model/model.skops": A, "名前/データ.txt": B})

    assert Manifest.from_json(manifest.to_json()) == manifest
    assert Manifest.from_json(manifest.to_json().decode("utf-8")) == manifest


def test_json_is_canonical() -> None:
    manifest = Manifest([("b.txt", B), ("a.txt", A)])

    expected = (
        f'{{"files":{{"a.txt":{{"sha256":"{A.sha256}","size":1}},'
        f'"b.txt":{{"sha256":"{B.sha256}","size":2}}}},"version":1}}'
    ).encode()
    assert manifest.to_json() == expected


def test_identical_manifests_hash_identically() -> None:
    first = Manifest({"a.txt": A, "b.txt": B})
    second = Manifest([("b.txt", B), ("a.txt", A)])
    reparsed = Manifest.from_json(json.dumps(json.loads(first.to_json()), indent=4))

    assert first.to_json() == second.to_json() == reparsed.to_json()
    assert first.digest() == second.digest() == hashlib.sha256(first.to_json()).hexdigest()
    assert hash(first) == hash(second)
    assert first == second == {"a.txt": A, "b.txt": B}
    assert Manifest({"a.txt": A}) != first


def test_the_empty_manifest_is_valid() -> None:
    manifest = Manifest()

    assert len(manifest) == 0
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_paths_are_normalized_and_duplicates_rejected() -> None:
    manifest = Manifest({"cafe\u0301.txt": A})

    assert list(manifest) == ["caf\u00e9.txt"]
    assert manifest["cafe\u0301.txt"] == A
    with pytest.raises(ValidationError, match="appears twice"):
        Manifest([("caf\u00e9.txt", A), ("cafe\u0301.txt", B)])


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a//b", "a\\b", ""])
def test_invalid_paths_are_rejected(path: str) -> None:
    with pytest.raises(ValidationError, match="invalid artifact path"):
        Manifest({path: A})


def test_values_must_be_blob_refs() -> None:
    with pytest.raises(ValidationError, match="expected a BlobRef"):
        Manifest({"a.txt": (A.sha256, 1)})  # type: ignore[arg-type]


def test_a_path_cannot_be_both_file_and_folder() -> None:
    with pytest.raises(ValidationError, match="'model' is a file"):
        Manifest({"model": A, "model/weights.bin": B})


def test_missing_paths_raise_not_found() -> None:
    manifest = Manifest({"a.txt": A})

    with pytest.raises(NotFoundError, match=r"no file 'b\.txt'"):
        manifest["b.txt"]
    assert manifest.get("b.txt") is None


def test_manifests_are_immutable() -> None:
    manifest = Manifest({"a.txt": A})

    with pytest.raises(TypeError):
        manifest["b.txt"] = B  # type: ignore[index]
    with pytest.raises(AttributeError):
        manifest.extra = 1  # type: ignore[attr-defined]

    updated = manifest.with_entry("b.txt", B)
    assert list(manifest) == ["a.txt"]
    assert list(updated) == ["a.txt", "b.txt"]


def _document(files: object, version: object = 1) -> bytes:
    return json.dumps({"files": files, "version": version}).encode()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"not json", "not valid UTF-8 JSON"),
        (b"\xff\xfe", "not valid UTF-8 JSON"),
        (b"", "not valid UTF-8 JSON"),
        (b"[]", "exactly the keys"),
        (b"{}", "exactly the keys"),
        (b'{"files": {}}', "exactly the keys"),
        (b'{"files": {}, "version": 1, "extra": 0}', "exactly the keys"),
        (_document({}, 2), "format version is 2"),
        (_document({}, True), "format version is True"),
        (_document({}, "1"), "format version is '1'"),
        (_document([]), '"files" must be an object'),
        (_document({"a": "b"}), "entry for 'a'"),
        (_document({"a": {"sha256": A.sha256}}), "entry for 'a'"),
        (_document({"a": {"sha256": A.sha256, "size": 1, "x": 0}}), "entry for 'a'"),
        (_document({"a": {"sha256": A.sha256, "size": -1}}), "invalid blob size"),
        (_document({"a": {"sha256": A.sha256, "size": 1.5}}), "invalid blob size"),
        (_document({"a": {"sha256": "zz", "size": 1}}), "invalid blob name"),
        (_document({"../a": {"sha256": A.sha256, "size": 1}}), "invalid artifact path"),
        (
            b'{"files": {}, "files": {}, "version": 1}',
            "key 'files' appears twice",
        ),
        (
            b'{"files": {"a": {"sha256": "%s", "size": NaN}}, "version": 1}' % A.sha256.encode(),
            "NaN",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "not valid UTF-8 JSON"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_malformed_json_is_a_validation_error(data: bytes, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Manifest.from_json(data)


def test_from_json_rejects_other_types() -> None:
    with pytest.raises(ValidationError, match="expected bytes or str"):
        Manifest.from_json({"files": {}})  # type: ignore[arg-type]
