"""Blob references and blob names."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from modelyard.artifacts import BlobRef
from modelyard.artifacts.refs import validate_sha256
from modelyard.exceptions import ValidationError

SHA = hashlib.sha256(b"x").hexdigest()


def test_a_valid_ref_is_frozen_and_comparable() -> None:
    ref = BlobRef(SHA, 1)

    assert ref == BlobRef(SHA, 1)
    assert hash(ref) == hash(BlobRef(SHA, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.size = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("sha256", "size", "match"),
    [
        (SHA, -1, "invalid blob size -1"),
        (SHA, True, "invalid blob size True"),
        (SHA, 1.0, "invalid blob size 1.0"),
        (SHA, "1", "invalid blob size '1'"),
        (SHA.upper(), 1, "use lowercase"),
        ("", 0, "invalid blob name ''"),
        (None, 0, "invalid blob name None"),
    ],
)
def test_refs_are_validated(sha256: str, size: int, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        BlobRef(sha256, size)


def test_validate_sha256_returns_valid_names() -> None:
    assert validate_sha256(SHA) == SHA


def test_long_bad_names_are_shortened_in_the_message() -> None:
    with pytest.raises(ValidationError) as caught:
        validate_sha256("z" * 10_000)

    assert len(str(caught.value)) < 300
