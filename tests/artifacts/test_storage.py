"""The storage contract, passed by every backend, and the choice of backend."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from modelyard.artifacts import FsspecStorage, LocalStorage, Storage, make_storage
from modelyard.exceptions import (
    MissingDependencyError,
    NotFoundError,
    StoreError,
    ValidationError,
)


@pytest.fixture
def storage(storage_url: str) -> Storage:
    """One storage backend per parameter of ``storage_url``."""
    return make_storage(storage_url)


def test_make_storage_picks_the_backend(storage: Storage, storage_url: str) -> None:
    expected = FsspecStorage if storage_url.startswith("memory://") else LocalStorage
    assert isinstance(storage, expected)
    assert isinstance(storage, Storage)


def test_write_then_read_round_trips(storage: Storage) -> None:
    storage.write_bytes("a/b/c.bin", b"payload")

    assert storage.read_bytes("a/b/c.bin") == b"payload"
    assert storage.exists("a/b/c.bin")
    assert storage.size("a/b/c.bin") == 7
    with storage.open("a/b/c.bin") as handle:
        assert handle.read(3) == b"pay"
        assert handle.read() == b"load"


def test_write_replaces_an_existing_object(storage: Storage) -> None:
    storage.write_bytes("k", b"old")
    storage.write_bytes("k", b"new content")

    assert storage.read_bytes("k") == b"new content"


def test_empty_objects_are_stored(storage: Storage) -> None:
    storage.write_bytes("empty", b"")

    assert storage.exists("empty")
    assert storage.read_bytes("empty") == b""
    assert storage.size("empty") == 0


def test_write_file_copies_a_local_file(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"\x00\x01" * 1_000_000)

    storage.write_file("files/copy.bin", source)

    assert storage.read_bytes("files/copy.bin") == source.read_bytes()


def test_write_file_from_a_missing_file_is_not_found(storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no local file"):
        storage.write_file("k", tmp_path / "missing.bin")

    assert not storage.exists("k")


def test_delete_removes_the_object(storage: Storage) -> None:
    storage.write_bytes("k", b"x")

    storage.delete("k")

    assert not storage.exists("k")


@pytest.mark.parametrize("action", ["read_bytes", "open", "size", "delete"])
def test_missing_objects_raise_not_found(storage: Storage, action: str) -> None:
    with pytest.raises(NotFoundError, match="no object 'nope/missing'") as caught:
        getattr(storage, action)("nope/missing")

    assert isinstance(caught.value, KeyError)
    assert caught.value.details["key"] == "nope/missing"


def test_exists_is_false_for_missing_objects(storage: Storage) -> None:
    assert not storage.exists("nope")


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a\\b", ""])
def test_keys_that_could_escape_are_rejected(storage: Storage, key: str) -> None:
    with pytest.raises(ValidationError):
        storage.write_bytes(key, b"x")
    with pytest.raises(ValidationError):
        storage.read_bytes(key)


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.is_file() and p.name.startswith(".")]


def test_a_failed_rename_leaves_no_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path / "root")

    def failing_replace(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StoreError, match=r"cannot write 'a/b\.bin'.*No space left on device"):
        storage.write_bytes("a/b.bin", b"data")

    assert not (tmp_path / "root" / "a" / "b.bin").exists()
    assert _no_temp_files(tmp_path)


def test_a_failure_mid_copy_keeps_the_previous_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path / "root")
    storage.write_bytes("k", b"previous")
    source = tmp_path / "source.bin"
    source.write_bytes(b"new" * 1000)

    def failing_copy(src: Any, dst: Any, length: int = 0) -> None:
        dst.write(b"partial")
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(shutil, "copyfileobj", failing_copy)
    with pytest.raises(StoreError, match="Input/output error"):
        storage.write_file("k", source)

    assert storage.read_bytes("k") == b"previous"
    assert _no_temp_files(tmp_path / "root")


def test_an_interrupted_write_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path / "root")

    class Interrupted(BaseException):
        pass

    def interrupted_fsync(fd: int) -> None:
        raise Interrupted

    storage.write_bytes("existing", b"")  # the folder exists: the temp file is reached
    monkeypatch.setattr(os, "fsync", interrupted_fsync)
    with pytest.raises(Interrupted):
        storage.write_bytes("k", b"data")
    monkeypatch.undo()

    assert not storage.exists("k")
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == ["existing"]


def test_local_storage_lays_files_out_under_its_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")

    storage.write_bytes("a/b/c.txt", b"hi")

    assert (tmp_path / "root" / "a" / "b" / "c.txt").read_bytes() == b"hi"
    assert storage.root == tmp_path / "root"
    assert storage.url == str(tmp_path / "root")


def test_local_io_errors_become_store_errors(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_bytes(b"")
    storage = LocalStorage(not_a_folder)

    with pytest.raises(StoreError, match="cannot write 'k'"):
        storage.write_bytes("k", b"x")


def test_make_storage_accepts_file_urls(tmp_path: Path) -> None:
    storage = make_storage(tmp_path.as_uri() + "/store")

    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "store"


def test_make_storage_accepts_plain_paths(tmp_path: Path) -> None:
    storage = make_storage(str(tmp_path / "store"))

    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "store"


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("nosuchprotocol://bucket/x", "cannot use 'nosuchprotocol://bucket/x'"),
        ("file://otherhost/x", "names the host 'otherhost'"),
    ],
)
def test_make_storage_rejects_bad_urls(url: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        make_storage(url)


def test_make_storage_rejects_options_for_local_folders(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="only apply to fsspec URLs"):
        make_storage(str(tmp_path), anon=True)


def test_a_missing_fsspec_backend_names_the_package() -> None:
    try:
        import s3fs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("s3fs is installed")

    with pytest.raises(MissingDependencyError, match="s3fs"):
        make_storage("s3://bucket/prefix")
