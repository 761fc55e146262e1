"""Spec documents from files or text: safe, strict, errors with the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard._utils.yaml_source import load_yaml_source
from modelyard.exceptions import NotFoundError, ValidationError


def test_text_and_files_read_the_same(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("a: 1\nb: [x, y]\n")
    expected = {"a": 1, "b": ["x", "y"]}
    assert load_yaml_source("a: 1\nb: [x, y]\n", "spec") == expected
    assert load_yaml_source(path, "spec") == expected
    assert load_yaml_source(str(path), "spec") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\na: 2\n", "repeats the key 'a' at line 2"),
        ("a: [1\n", "rules YAML does not parse at line 2"),
        ("a: !!python/object:os.system x\n", "rules YAML does not parse"),
        ("[" * 2000, "rules YAML"),
    ],
)
def test_bad_documents_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        load_yaml_source(text, "rules")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"rules file .* does not exist"):
        load_yaml_source(tmp_path / "missing.yaml", "rules")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValidationError, match="cannot read rules"):
        load_yaml_source(tmp_path / "bin.yaml", "rules")
    with pytest.raises(ValidationError, match="YAML text or a Path"):
        load_yaml_source(42, "rules")  # type: ignore[arg-type]
