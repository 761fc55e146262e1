"""Envelope encryption of blobs at rest (AES-256-GCM, one data key per blob).

Each blob gets a fresh random 256-bit data key; the data key is wrapped (RFC 3394
AES key wrap) with the installation's 32-byte master key and stored next to the
ciphertext. Rotating the master key therefore only means re-wrapping 40 bytes per
blob, never re-encrypting the data.

Sealed layout (all lengths in bytes)::

    magic "MYENC" (5) | version 1 (1) | master-key fingerprint (8)
    | wrapped data key (40) | nonce (12) | ciphertext (n) | GCM tag (16)

The fingerprint (first 8 bytes of SHA-256 of the master key) lets a wrong key be
reported as such instead of as corruption. The GCM associated data is the header
followed by the caller's ``aad`` (the blob's SHA-256 name), so a sealed blob cannot
be moved under another name, nor its header edited, without detection.

:func:`seal`/:func:`unseal` work on bytes; :func:`seal_stream`/:func:`unseal_stream`
produce and read the very same format in bounded memory.
"""

from __future__ import annotations

import hashlib
import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from modelyard.exceptions import EncryptionError, IntegrityError

__all__ = [
    "HEADER_LENGTH",
    "MAGIC",
    "check_master_key",
    "key_fingerprint",
    "seal",
    "seal_stream",
    "unseal",
    "unseal_stream",
]

MAGIC = b"MYENC"
_VERSION = 1
_FINGERPRINT_LENGTH = 8
_WRAPPED_LENGTH = 40
_NONCE_LENGTH = 12
_TAG_LENGTH = 16
HEADER_LENGTH = len(MAGIC) + 1 + _FINGERPRINT_LENGTH + _WRAPPED_LENGTH + _NONCE_LENGTH
"""Bytes before the ciphertext in a sealed blob."""
_CHUNK = 1 << 20
_KEY_HELP = "set MODELYARD_MASTER_KEY or MODELYARD_MASTER_KEY_FILE"


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Writer(Protocol):
    def write(self, data: bytes, /) -> object: ...


def key_fingerprint(master_key: bytes) -> str:
    """Return the public fingerprint of a master key (16 hex characters).

    The fingerprint is stored in every sealed blob; it identifies which key wrote
    the blob without revealing anything useful about the key.
    """
    return hashlib.sha256(master_key).digest()[:_FINGERPRINT_LENGTH].hex()


def seal(plaintext: bytes, master_key: bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` under a fresh data key wrapped by ``master_key``.

    Args:
        plaintext: The data to protect.
        master_key: The 32-byte master key.
        aad: Associated data bound to the ciphertext (the blob's SHA-256 name);
            the same value must be given to :func:`unseal`.

    Returns:
        The sealed bytes (header, ciphertext and tag).

    Raises:
        EncryptionError: ``master_key`` is not 32 bytes.
    """
    header, data_key = _new_header(master_key)
    nonce = header[-_NONCE_LENGTH:]
    return header + AESGCM(data_key).encrypt(nonce, plaintext, header + aad)


def unseal(sealed: bytes, master_key: bytes | None, aad: bytes, name: str) -> bytes:
    """Decrypt and authenticate bytes produced by :func:`seal` or :func:`seal_stream`.

    Args:
        sealed: The sealed bytes.
        master_key: The 32-byte master key, or ``None`` when none is configured.
        aad: The associated data given when sealing (the blob's SHA-256 name).
        name: The blob's name, used in error messages.

    Returns:
        The plaintext; it is only returned once the GCM tag has been verified.

    Raises:
        EncryptionError: No master key is configured, it is the wrong one, or
            the blob uses an unknown format version.
        IntegrityError: The blob was altered, truncated or stored under another name.
    """
    if len(sealed) < HEADER_LENGTH + _TAG_LENGTH and sealed.startswith(MAGIC):
        raise _tampered(name)
    data_key, nonce = _open_header(sealed[:HEADER_LENGTH], master_key, name)
    try:
        return AESGCM(data_key).decrypt(nonce, sealed[HEADER_LENGTH:], sealed[:HEADER_LENGTH] + aad)
    except InvalidTag as exc:
        raise _tampered(name) from exc


def seal_stream(source: _Reader, sink: _Writer, master_key: bytes, aad: bytes) -> None:
    """Seal everything read from ``source`` into ``sink``, one chunk at a time.

    Produces exactly the format of :func:`seal`, in memory bounded by the chunk size.

    Raises:
        EncryptionError: ``master_key`` is not 32 bytes.
    """
    header, data_key = _new_header(master_key)
    encryptor = Cipher(algorithms.AES(data_key), modes.GCM(header[-_NONCE_LENGTH:])).encryptor()
    encryptor.authenticate_additional_data(header + aad)
    sink.write(header)
    while chunk := source.read(_CHUNK):
        sink.write(encryptor.update(chunk))
    sink.write(encryptor.finalize())
    sink.write(encryptor.tag)


def unseal_stream(
    source: _Reader, sink: _Writer, master_key: bytes | None, aad: bytes, name: str
) -> None:
    """Unseal everything read from ``source`` into ``sink``, one chunk at a time.

    Plaintext reaches ``sink`` before the tag at the end can be checked, so when
    this raises, whatever was written to ``sink`` must be discarded (write to a
    temporary file and rename it only after this returns).

    Raises:
        EncryptionError: No master key, the wrong key, or an unknown format version.
        IntegrityError: The blob was altered, truncated or stored under another name.
    """
    header = _read_exactly(source, HEADER_LENGTH)
    data_key, nonce = _open_header(header, master_key, name)
    decryptor = Cipher(algorithms.AES(data_key), modes.GCM(nonce)).decryptor()
    decryptor.authenticate_additional_data(header + aad)
    held = b""  # the last 16 bytes seen so far may be the tag, so they are held back
    while chunk := source.read(_CHUNK):
        buffer = held + chunk
        held = buffer[-_TAG_LENGTH:]
        if len(buffer) > _TAG_LENGTH:
            sink.write(decryptor.update(buffer[:-_TAG_LENGTH]))
    if len(held) < _TAG_LENGTH:
        raise _tampered(name)
    try:
        sink.write(decryptor.finalize_with_tag(held))
    except InvalidTag as exc:
        raise _tampered(name) from exc


def check_master_key(master_key: bytes) -> None:
    """Raise :class:`EncryptionError` unless ``master_key`` is 32 bytes."""
    if not isinstance(master_key, bytes) or len(master_key) != 32:
        size = len(master_key) if isinstance(master_key, bytes) else type(master_key).__name__
        raise EncryptionError(
            f"the master key must be 32 bytes (AES-256), got {size}; "
            f"{_KEY_HELP} to a 256-bit key given as 64 hex characters or base64"
        )


def _new_header(master_key: bytes) -> tuple[bytes, bytes]:
    check_master_key(master_key)
    data_key = AESGCM.generate_key(bit_length=256)
    header = (
        MAGIC
        + bytes([_VERSION])
        + hashlib.sha256(master_key).digest()[:_FINGERPRINT_LENGTH]
        + aes_key_wrap(master_key, data_key)
        + os.urandom(_NONCE_LENGTH)
    )
    return header, data_key


def _open_header(header: bytes, master_key: bytes | None, name: str) -> tuple[bytes, bytes]:
    """Check a sealed header and unwrap its data key; return ``(data_key, nonce)``."""
    if len(header) < HEADER_LENGTH or not header.startswith(MAGIC):
        raise IntegrityError(
            f"blob {name} is not a modelyard-encrypted blob (its header is missing or "
            "damaged); the stored data is corrupt and is not returned",
            blob=name,
        )
    version = header[len(MAGIC)]
    if version != _VERSION:
        raise EncryptionError(
            f"blob {name} uses encryption format version {version}, this modelyard reads "
            f"version {_VERSION}; upgrade modelyard to read it",
            blob=name,
        )
    start = len(MAGIC) + 1
    stored_fp = header[start : start + _FINGERPRINT_LENGTH].hex()
    if master_key is None:
        raise EncryptionError(
            f"blob {name} is encrypted (with key {stored_fp}) but no master key is "
            f"configured; {_KEY_HELP} to the key it was written with",
            blob=name,
            key_fingerprint=stored_fp,
        )
    check_master_key(master_key)
    configured_fp = key_fingerprint(master_key)
    if stored_fp != configured_fp:
        raise EncryptionError(
            f"blob {name} was encrypted with key {stored_fp}, configured key is "
            f"{configured_fp}; {_KEY_HELP} to the key that wrote it",
            blob=name,
            key_fingerprint=stored_fp,
            configured_fingerprint=configured_fp,
        )
    start += _FINGERPRINT_LENGTH
    wrapped = header[start : start + _WRAPPED_LENGTH]
    try:
        data_key = aes_key_unwrap(master_key, wrapped)
    except InvalidUnwrap as exc:
        raise _tampered(name) from exc
    return data_key, header[start + _WRAPPED_LENGTH : HEADER_LENGTH]


def _read_exactly(source: _Reader, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = source.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _tampered(name: str) -> IntegrityError:
    return IntegrityError(
        f"blob {name} failed authentication: it was altered, truncated or stored under "
        "another name, and is not returned; restore it from a backup or re-upload it",
        blob=name,
    )
