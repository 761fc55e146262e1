"""Logical artifact paths: what is accepted, normalized, and rejected."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from modelyard.artifacts import validate_logical_path
from modelyard.artifacts.paths import MAX_PATH_LENGTH
from modelyard.exceptions import ValidationError

HOSTILE = [
    "/etc/passwd",
    "/",
    "//server/share",
    "../x",
    "..",
    "a/..",
    "a/../../b",
    "a\\b",
    "..\\x",
    "a\x00b",
    "C:\\x",
    "C:x",
    "c:/x",
    "C:",
    "\\\\server\\share",
    "~/x",
    "~",
    "~user/.ssh/id_rsa",
    "",
    "a//b",
    "a/",
    "a/b/",
    ".",
    "./a",
    "a/./b",
    "a/.",
    "x" * 2000,
    "x" * (MAX_PATH_LENGTH + 1),
    "a\nb",
    "a\rb",
    "a\tb",
    "a\x1bb",
    "a\x7fb",
    "a\x85b",
]


@pytest.mark.parametrize(
    "path",
    [
        "model/model.skops",
        "plots/roc.png",
        "a",
        ".hidden",
        "a/.b",
        "..a",
        "a..b",
        "a/b~",
        "a/~b",
        "dir with spaces/file name.txt",
        "名前/データ.parquet",
        "x" * MAX_PATH_LENGTH,
    ],
)
def test_valid_paths_are_returned_unchanged(path: str) -> None:
    assert validate_logical_path(path) == path


def test_paths_are_nfc_normalized() -> None:
    decomposed = "cafe\u0301/menu.txt"

    result = validate_logical_path(decomposed)

    assert result == "caf\u00e9/menu.txt"
    assert validate_logical_path(result) == result


@pytest.mark.parametrize("path", HOSTILE, ids=repr)
def test_hostile_paths_are_rejected(path: str) -> None:
    with pytest.raises(ValidationError, match="invalid artifact path") as caught:
        validate_logical_path(path)

    message = str(caught.value)
    assert repr(path)[:40] in message
    assert "relative, '/'-separated path" in message


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("/etc/passwd", "absolute"),
        ("../x", "'..' segment"),
        ("a/./b", "'.' segment"),
        ("a//b", "empty segment"),
        ("a/", "ends with '/'"),
        ("a\\b", "backslash"),
        ("a\x00b", "control character"),
        ("C:x", "drive letter"),
        ("~/x", "starts with '~'"),
        ("", "empty"),
        ("x" * 2000, "2000 characters long"),
    ],
)
def test_rejection_names_the_rule(path: str, rule: str) -> None:
    with pytest.raises(ValidationError, match=rule):
        validate_logical_path(path)


@pytest.mark.parametrize("value", [None, b"a/b", 3, PurePosixPath("a/b"), ["a"]], ids=repr)
def test_non_strings_are_rejected(value: object) -> None:
    with pytest.raises(ValidationError, match="not a str"):
        validate_logical_path(value)  # type: ignore[arg-type]


def test_validation_error_is_a_value_error_with_details() -> None:
    with pytest.raises(ValueError) as caught:
        validate_logical_path("../secret")

    assert isinstance(caught.value, ValidationError)
    assert caught.value.details["path"] == "'../secret'"
    assert caught.value.http_status == 400


def test_long_paths_are_shortened_in_the_message() -> None:
    with pytest.raises(ValidationError) as caught:
        validate_logical_path("y" * 5000)

    assert len(str(caught.value)) < 600
