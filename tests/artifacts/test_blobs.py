"""Content-addressed blobs: round trips, dedup, verification, encryption, big files."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard.artifacts import BlobRef, BlobStore, LocalStorage
from modelyard.artifacts.blobs import blob_key
from modelyard.exceptions import (
    ConflictError,
    EncryptionError,
    IntegrityError,
    NotFoundError,
    ValidationError,
)

MakeStore = Callable[..., BlobStore]
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
MIB = 1 << 20


@pytest.fixture(params=[False, True], ids=["plain", "encrypted"])
def store(request: pytest.FixtureRequest, make_store: MakeStore, master_key: bytes) -> BlobStore:
    """A blob store on each backend, without and with encryption."""
    return make_store(master_key if request.param else None)


def _flip_a_byte(store: BlobStore, sha256: str) -> None:
    key = blob_key(sha256, encrypted=store.encrypted)
    stored = bytearray(store.storage.read_bytes(key))
    stored[len(stored) // 2] ^= 0x01
    store.storage.write_bytes(key, bytes(stored))


def test_put_bytes_then_get_bytes_round_trips(store: BlobStore) -> None:
    ref = store.put_bytes(b"hello")

    assert ref == BlobRef(hashlib.sha256(b"hello").hexdigest(), 5)
    assert store.exists(ref.sha256)
    assert store.get_bytes(ref.sha256) == b"hello"


def test_blobs_are_laid_out_by_hash(
    store: BlobStore, stored_files: Callable[[], list[str]]
) -> None:
    ref = store.put_bytes(b"layout")

    suffix = ".enc" if store.encrypted else ""
    h = ref.sha256
    assert stored_files() == [f"blobs/sha256/{h[:2]}/{h[2:4]}/{h}{suffix}"]


def test_put_file_then_download_round_trips(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights" * 1000)

    ref = store.put_file(source)
    dest = tmp_path / "out" / "nested" / "model.bin"
    downloaded = store.download(ref.sha256, dest)

    assert ref == BlobRef(hashlib.sha256(source.read_bytes()).hexdigest(), 7000)
    assert downloaded == ref
    assert dest.read_bytes() == source.read_bytes()


def test_the_empty_blob_is_stored_and_read(store: BlobStore, tmp_path: Path) -> None:
    ref = store.put_bytes(b"")

    assert ref == BlobRef(EMPTY_SHA256, 0)
    assert store.get_bytes(EMPTY_SHA256) == b""
    assert store.download(EMPTY_SHA256, tmp_path / "empty").size == 0
    assert (tmp_path / "empty").read_bytes() == b""
    empty_file = tmp_path / "empty-source"
    empty_file.write_bytes(b"")
    assert store.put_file(empty_file) == ref


def test_same_content_twice_is_stored_once(
    store: BlobStore,
    stored_files: Callable[[], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = store.put_bytes(b"same content")
    source = tmp_path / "same.txt"
    source.write_bytes(b"same content")

    def no_more_writes(*args: object) -> None:
        raise AssertionError("content already present was written again")

    monkeypatch.setattr(store.storage, "write_bytes", no_more_writes)
    monkeypatch.setattr(store.storage, "write_file", no_more_writes)
    second = store.put_bytes(b"same content")
    third = store.put_file(source)

    assert first == second == third
    assert len(stored_files()) == 1


def test_a_flipped_byte_is_detected_by_get_bytes(store: BlobStore) -> None:
    ref = store.put_bytes(b"important model weights")
    _flip_a_byte(store, ref.sha256)

    with pytest.raises(IntegrityError, match=ref.sha256) as caught:
        store.get_bytes(ref.sha256)

    assert caught.value.details["blob"] == ref.sha256


def test_a_flipped_byte_is_detected_by_download_and_leaves_nothing(
    store: BlobStore, tmp_path: Path
) -> None:
    ref = store.put_bytes(b"important model weights" * 100_000)
    _flip_a_byte(store, ref.sha256)
    dest = tmp_path / "out" / "weights.bin"

    with pytest.raises(IntegrityError, match=ref.sha256):
        store.download(ref.sha256, dest)

    assert not dest.exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_a_corrupt_download_keeps_the_previous_file(store: BlobStore, tmp_path: Path) -> None:
    ref = store.put_bytes(b"new content")
    _flip_a_byte(store, ref.sha256)
    dest = tmp_path / "file.txt"
    dest.write_bytes(b"previous content")

    with pytest.raises(IntegrityError):
        store.download(ref.sha256, dest)

    assert dest.read_bytes() == b"previous content"


def test_a_blob_copied_under_another_name_is_detected(store: BlobStore) -> None:
    real = store.put_bytes(b"the real thing")
    other = store.put_bytes(b"something else")
    real_key = blob_key(real.sha256, encrypted=store.encrypted)
    other_key = blob_key(other.sha256, encrypted=store.encrypted)
    store.storage.write_bytes(other_key, store.storage.read_bytes(real_key))

    with pytest.raises(IntegrityError, match=other.sha256):
        store.get_bytes(other.sha256)


def test_encrypted_blobs_do_not_hold_the_plaintext(
    make_store: MakeStore, master_key: bytes
) -> None:
    store = make_store(master_key)
    plaintext = b"customer churn model, very secret " * 100

    ref = store.put_bytes(plaintext)
    stored = store.storage.read_bytes(blob_key(ref.sha256, encrypted=True))

    assert store.encrypted
    assert b"very secret" not in stored
    assert not store.storage.exists(blob_key(ref.sha256))


def test_encrypted_files_do_not_hold_the_plaintext(
    make_store: MakeStore, master_key: bytes, tmp_path: Path
) -> None:
    store = make_store(master_key)
    source = tmp_path / "secret.csv"
    source.write_bytes(b"name,salary\nalice,100\n" * 10_000)

    ref = store.put_file(source)
    stored = store.storage.read_bytes(blob_key(ref.sha256, encrypted=True))

    assert b"alice" not in stored
    assert store.get_bytes(ref.sha256) == source.read_bytes()


def test_encrypted_blobs_are_unreadable_without_the_key(
    make_store: MakeStore, master_key: bytes, tmp_path: Path
) -> None:
    ref = make_store(master_key).put_bytes(b"secret")
    keyless = make_store(None)
    dest = tmp_path / "secret.txt"

    assert keyless.exists(ref.sha256)
    with pytest.raises(EncryptionError, match="MODELYARD_MASTER_KEY"):
        keyless.get_bytes(ref.sha256)
    with pytest.raises(EncryptionError, match="no master key is configured"):
        keyless.download(ref.sha256, dest)
    assert not dest.exists()


def test_encrypted_blobs_are_unreadable_with_a_wrong_key(
    make_store: MakeStore, master_key: bytes, other_key: bytes, tmp_path: Path
) -> None:
    ref = make_store(master_key).put_bytes(b"secret")
    wrong = make_store(other_key)

    with pytest.raises(EncryptionError, match="encrypted with key"):
        wrong.get_bytes(ref.sha256)
    with pytest.raises(EncryptionError, match="encrypted with key"):
        wrong.download(ref.sha256, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_encrypted_blobs_round_trip_with_the_right_key(
    make_store: MakeStore, master_key: bytes, tmp_path: Path
) -> None:
    ref = make_store(master_key).put_bytes(b"secret")
    reader = make_store(bytes(master_key))

    assert reader.get_bytes(ref.sha256) == b"secret"
    assert reader.download(ref.sha256, tmp_path / "x") == ref
    assert (tmp_path / "x").read_bytes() == b"secret"


def test_an_encrypted_store_still_reads_plain_blobs(
    make_store: MakeStore, master_key: bytes
) -> None:
    ref = make_store(None).put_bytes(b"written before encryption was turned on")

    assert make_store(master_key).get_bytes(ref.sha256) == (
        b"written before encryption was turned on"
    )


@pytest.mark.parametrize(
    "name",
    [
        "",
        "abc",
        "A" * 64,
        EMPTY_SHA256.upper(),
        "g" * 64,
        "a" * 63,
        "a" * 65,
        "a" * 64 + "\n",
        "../../../../etc/passwd" + "a" * 42,
        "aa/bb/" + "a" * 58,
        None,
        7,
    ],
    ids=repr,
)
def test_invalid_blob_names_are_rejected(store: BlobStore, name: object, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="64 lowercase hexadecimal"):
        store.get_bytes(name)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        store.download(name, tmp_path / "x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        store.exists(name)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_missing_blobs_are_not_found(store: BlobStore, tmp_path: Path) -> None:
    missing = hashlib.sha256(b"never stored").hexdigest()

    assert not store.exists(missing)
    with pytest.raises(NotFoundError, match=f"no blob {missing}"):
        store.get_bytes(missing)
    with pytest.raises(KeyError):
        store.download(missing, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_put_file_of_a_missing_file_is_not_found(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no local file"):
        store.put_file(tmp_path / "missing.bin")


def test_a_file_changing_while_stored_is_a_conflict(tmp_path: Path) -> None:
    class AppendingStorage(LocalStorage):
        def write_file(self, key: str, source: Path) -> None:
            super().write_file(key, source)
            with open(source_file, "ab") as handle:
                handle.write(b" and more")

    source_file = tmp_path / "growing.log"
    source_file.write_bytes(b"first line")
    store = BlobStore(AppendingStorage(tmp_path / "store"))

    with pytest.raises(ConflictError, match="changed while it was being stored"):
        store.put_file(source_file)

    assert not store.exists(hashlib.sha256(b"first line").hexdigest())


@pytest.mark.parametrize("key", [b"short", bytes(64)], ids=len)
def test_a_master_key_of_the_wrong_size_is_rejected(storage_url: str, key: bytes) -> None:
    with pytest.raises(EncryptionError, match="must be 32 bytes"):
        BlobStore(storage_url, key)


def test_a_large_file_goes_through_put_file_and_download(
    store: BlobStore, tmp_path: Path, rng: random.Random
) -> None:
    source = tmp_path / "large.bin"
    with open(source, "wb") as handle:
        for _ in range(50):
            handle.write(rng.randbytes(MIB))
        handle.write(b"tail")

    ref = store.put_file(source)
    dest = tmp_path / "large-copy.bin"
    store.download(ref.sha256, dest)

    assert ref.size == 50 * MIB + 4
    assert dest.stat().st_size == ref.size
    with open(source, "rb") as original, open(dest, "rb") as copy:
        while block := original.read(8 * MIB):
            assert copy.read(8 * MIB) == block


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_large_files_stream_in_bounded_memory(
    tmp_path: Path, master_key: bytes, encrypted: bool
) -> None:
    store = BlobStore(str(tmp_path / "store"), master_key if encrypted else None)
    source = tmp_path / "large.bin"
    with open(source, "wb") as handle:
        for index in range(40):
            handle.write(bytes([index]) * MIB)

    tracemalloc.start()
    try:
        ref = store.put_file(source)
        store.download(ref.sha256, tmp_path / "copy.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * MIB
    assert (tmp_path / "copy.bin").stat().st_size == 40 * MIB


def test_local_path_is_the_plaintext_file_checked_once(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "arts"))
    ref = store.put_bytes(b"parquet bytes")
    path = store.local_path(ref.sha256)
    assert path is not None
    assert path.read_bytes() == b"parquet bytes"
    assert store.local_path("0" * 64) is None


def test_local_path_refuses_a_corrupt_file(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "arts"))
    ref = store.put_bytes(b"original content")
    path = store.local_path(ref.sha256)
    assert path is not None
    path.chmod(0o644)
    path.write_bytes(b"tampered content!")  # other size and mtime: checked again
    with pytest.raises(IntegrityError):
        store.local_path(ref.sha256)


def test_encrypted_and_remote_blobs_have_no_local_path(tmp_path: Path) -> None:
    sealed = BlobStore(str(tmp_path / "enc"), master_key=bytes(range(32)))
    assert sealed.local_path(sealed.put_bytes(b"secret").sha256) is None
    remote = BlobStore("memory://local-path-test")
    assert remote.local_path(remote.put_bytes(b"x").sha256) is None
