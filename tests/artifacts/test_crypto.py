"""Envelope encryption: round trips, wrong or missing keys, and tampering."""

from __future__ import annotations

import hashlib
import io
import random

import pytest

from modelyard.artifacts import seal, unseal
from modelyard.artifacts.crypto import (
    HEADER_LENGTH,
    MAGIC,
    key_fingerprint,
    seal_stream,
    unseal_stream,
)
from modelyard.exceptions import EncryptionError, IntegrityError

NAME = hashlib.sha256(b"secret model weights").hexdigest()
AAD = NAME.encode("ascii")
PLAINTEXT = b"secret model weights"


def _unseal_stream(sealed: bytes, key: bytes | None, aad: bytes = AAD) -> bytes:
    sink = io.BytesIO()
    unseal_stream(io.BytesIO(sealed), sink, key, aad, NAME)
    return sink.getvalue()


def _seal_stream(plaintext: bytes, key: bytes, aad: bytes = AAD) -> bytes:
    sink = io.BytesIO()
    seal_stream(io.BytesIO(plaintext), sink, key, aad)
    return sink.getvalue()


@pytest.mark.parametrize("plaintext", [b"", b"x", PLAINTEXT, bytes(range(256)) * 100])
def test_seal_then_unseal_round_trips(plaintext: bytes, master_key: bytes) -> None:
    sealed = seal(plaintext, master_key, AAD)

    assert sealed.startswith(MAGIC)
    assert len(sealed) == HEADER_LENGTH + len(plaintext) + 16
    assert unseal(sealed, master_key, AAD, NAME) == plaintext


def test_each_seal_uses_a_fresh_data_key_and_nonce(master_key: bytes) -> None:
    first = seal(PLAINTEXT, master_key, AAD)
    second = seal(PLAINTEXT, master_key, AAD)

    assert first[:14] == second[:14]  # magic, version, fingerprint
    assert first[14:HEADER_LENGTH] != second[14:HEADER_LENGTH]
    assert first[HEADER_LENGTH:] != second[HEADER_LENGTH:]


def test_sealed_bytes_do_not_contain_the_plaintext(master_key: bytes) -> None:
    plaintext = b"very recognisable plaintext " * 50

    sealed = seal(plaintext, master_key, AAD)

    assert b"recognisable" not in sealed


def test_unsealing_without_a_key_says_how_to_configure_one(master_key: bytes) -> None:
    sealed = seal(PLAINTEXT, master_key, AAD)

    with pytest.raises(EncryptionError) as caught:
        unseal(sealed, None, AAD, NAME)

    message = str(caught.value)
    assert NAME in message
    assert "MODELYARD_MASTER_KEY" in message
    assert "MODELYARD_MASTER_KEY_FILE" in message


def test_unsealing_with_the_wrong_key_names_both_fingerprints(
    master_key: bytes, other_key: bytes
) -> None:
    sealed = seal(PLAINTEXT, master_key, AAD)

    with pytest.raises(EncryptionError) as caught:
        unseal(sealed, other_key, AAD, NAME)

    expected = (
        f"encrypted with key {key_fingerprint(master_key)}, "
        f"configured key is {key_fingerprint(other_key)}"
    )
    assert expected in str(caught.value)
    assert caught.value.details["blob"] == NAME


def test_a_blob_sealed_under_another_name_is_rejected(master_key: bytes) -> None:
    sealed = seal(PLAINTEXT, master_key, AAD)
    other_name = hashlib.sha256(b"other").hexdigest()

    with pytest.raises(IntegrityError, match=other_name):
        unseal(sealed, master_key, other_name.encode("ascii"), other_name)


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(5, id="version"),
        pytest.param(20, id="wrapped-key"),
        pytest.param(HEADER_LENGTH - 1, id="nonce"),
        pytest.param(HEADER_LENGTH + 3, id="ciphertext"),
        pytest.param(-1, id="tag"),
    ],
)
def test_a_flipped_byte_anywhere_is_detected(offset: int, master_key: bytes) -> None:
    sealed = bytearray(seal(PLAINTEXT, master_key, AAD))
    sealed[offset] ^= 0x01

    with pytest.raises((IntegrityError, EncryptionError), match=NAME):
        unseal(bytes(sealed), master_key, AAD, NAME)
    with pytest.raises((IntegrityError, EncryptionError), match=NAME):
        _unseal_stream(bytes(sealed), master_key)


def test_tampered_ciphertext_raises_integrity_error(master_key: bytes) -> None:
    sealed = bytearray(seal(PLAINTEXT, master_key, AAD))
    sealed[HEADER_LENGTH] ^= 0x80

    with pytest.raises(IntegrityError, match=f"blob {NAME} failed authentication"):
        unseal(bytes(sealed), master_key, AAD, NAME)


@pytest.mark.parametrize(
    "sealed",
    [b"", b"MYENC", b"not sealed at all" * 10, MAGIC + b"\x01" + b"\x00" * 40],
    ids=["empty", "magic-only", "no-magic", "short-header"],
)
def test_garbage_is_an_integrity_error(sealed: bytes, master_key: bytes) -> None:
    with pytest.raises(IntegrityError, match=NAME):
        unseal(sealed, master_key, AAD, NAME)
    with pytest.raises(IntegrityError, match=NAME):
        _unseal_stream(sealed, master_key)


@pytest.mark.parametrize("cut", [1, 16, 17])
def test_truncated_blobs_are_detected(cut: int, master_key: bytes) -> None:
    sealed = seal(PLAINTEXT, master_key, AAD)[:-cut]

    with pytest.raises(IntegrityError, match=NAME):
        unseal(sealed, master_key, AAD, NAME)
    with pytest.raises(IntegrityError, match=NAME):
        _unseal_stream(sealed, master_key)


def test_an_unknown_format_version_asks_for_an_upgrade(master_key: bytes) -> None:
    sealed = bytearray(seal(PLAINTEXT, master_key, AAD))
    sealed[len(MAGIC)] = 9

    with pytest.raises(EncryptionError, match=r"version 9.*upgrade modelyard"):
        unseal(bytes(sealed), master_key, AAD, NAME)


@pytest.mark.parametrize("key", [b"", b"short", bytes(31), bytes(33)], ids=len)
def test_master_keys_must_be_32_bytes(key: bytes) -> None:
    with pytest.raises(EncryptionError, match="must be 32 bytes"):
        seal(PLAINTEXT, key, AAD)
    with pytest.raises(EncryptionError, match="must be 32 bytes"):
        unseal(seal(PLAINTEXT, bytes(32), AAD), key, AAD, NAME)


def test_fingerprint_is_sixteen_hex_characters(master_key: bytes) -> None:
    fingerprint = key_fingerprint(master_key)

    assert fingerprint == hashlib.sha256(master_key).hexdigest()[:16]
    assert key_fingerprint(bytes(32)) != fingerprint


@pytest.mark.parametrize("size", [0, 15, 16, 17, (1 << 20) - 1, 3 * (1 << 20) + 5])
def test_streamed_and_whole_formats_are_the_same(
    size: int, master_key: bytes, rng: random.Random
) -> None:
    plaintext = rng.randbytes(size)

    assert _unseal_stream(seal(plaintext, master_key, AAD), master_key) == plaintext
    assert unseal(_seal_stream(plaintext, master_key), master_key, AAD, NAME) == plaintext


def test_streamed_unseal_rejects_a_tampered_tail(master_key: bytes, rng: random.Random) -> None:
    sealed = bytearray(_seal_stream(rng.randbytes(2 * (1 << 20) + 7), master_key))
    sealed[-20] ^= 0x01

    with pytest.raises(IntegrityError, match=NAME):
        _unseal_stream(bytes(sealed), master_key)
