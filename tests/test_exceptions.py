"""The error hierarchy: one root, built-in branches, fields, and the docstring tree."""

from __future__ import annotations

import builtins
import json
import re

import pytest

from modelyard import exceptions
from modelyard.exceptions import (
    ConfigError,
    FilterSyntaxError,
    ModelyardError,
    NotFoundError,
    StoreError,
    ValidationError,
)
from modelyard.store import parse_filter

ERRORS = [getattr(exceptions, name) for name in exceptions.__all__]


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_has_the_common_root(cls: type[Exception]) -> None:
    assert issubclass(cls, ModelyardError)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_has_a_status_a_code_and_a_docstring(cls: type[ModelyardError]) -> None:
    assert 400 <= cls.http_status < 600
    assert cls.code.isupper()
    assert cls.__doc__


def _docstring_tree() -> dict[str, str | None]:
    """``{class name: built-in named in parentheses or None}`` from the module docstring."""
    assert exceptions.__doc__ is not None
    block = exceptions.__doc__.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    tree = {}
    for line in block.splitlines():
        match = re.match(r"[\s│├└─]*(\w+)(?:\((\w+)\))?", line)
        assert match is not None, line
        tree[match[1]] = match[2]
    return tree


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_docstring_tree_mentions_every_error(cls: type[Exception]) -> None:
    assert cls.__name__ in _docstring_tree()


def test_docstring_tree_names_only_real_errors_and_their_builtins() -> None:
    tree = _docstring_tree()
    assert set(tree) == set(exceptions.__all__)
    for name, builtin in tree.items():
        if builtin is not None:
            assert issubclass(getattr(exceptions, name), getattr(builtins, builtin))


def test_docstring_tree_nesting_matches_the_classes() -> None:
    assert exceptions.__doc__ is not None
    block = exceptions.__doc__.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    parents: list[str] = []  # the chain of names above the current line
    checked = 0
    for line in block.splitlines():
        match = re.search(r"\w+", line)
        assert match is not None
        depth = (match.start() - 4) // 4  # "    ModelyardError", then 4 columns per level
        del parents[depth:]
        cls = getattr(exceptions, match[0])
        if parents:
            assert cls.__bases__[0] is getattr(exceptions, parents[-1]), line
            checked += 1
        parents.append(match[0])
    assert checked == len(exceptions.__all__) - 1


def test_codes_are_unique_within_a_status_family() -> None:
    seen: dict[str, type] = {}
    for cls in ERRORS:
        parent = seen.setdefault(cls.code, cls)
        # Only a subclass may inherit its parent's code (FilterSyntaxError from ValidationError).
        assert issubclass(cls, parent) or issubclass(parent, cls), (cls, parent)


def test_not_found_is_a_key_error_whose_message_is_not_quoted() -> None:
    error = NotFoundError("no run 'abc'", run_id="abc")
    assert isinstance(error, KeyError)
    assert str(error) == "no run 'abc'"
    with pytest.raises(KeyError):
        raise error
    assert NotFoundError.http_status == 404


def test_validation_and_config_errors_are_value_errors() -> None:
    assert issubclass(ValidationError, ValueError)
    assert issubclass(ConfigError, ValueError)
    assert issubclass(FilterSyntaxError, ValidationError)
    assert ValidationError.http_status == 400
    with pytest.raises(ValueError, match="bad"):
        raise ValidationError("bad")


def test_store_error_is_a_runtime_error() -> None:
    assert issubclass(StoreError, RuntimeError)
    assert issubclass(exceptions.SchemaVersionError, StoreError)
    assert issubclass(exceptions.MissingDependencyError, ImportError)


def test_details_and_message_are_kept() -> None:
    error = ConfigError("bad key", setting="master_key")
    assert error.message == "bad key"
    assert error.details == {"setting": "master_key"}
    assert str(error) == "bad key"
    assert error.args == ("bad key",)


def test_to_dict_is_json_ready() -> None:
    error = NotFoundError("no run 'abc'", run_id="abc")
    data = error.to_dict()
    assert data == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "no run 'abc'",
        "run_id": "abc",
    }
    assert json.loads(json.dumps(data)) == data


def test_to_dict_without_details() -> None:
    assert ModelyardError("boom").to_dict() == {"error_code": "INTERNAL_ERROR", "message": "boom"}


def test_filter_syntax_error_carries_position_and_a_caret() -> None:
    error = FilterSyntaxError("unexpected '>'", text="metrics.auc >> 1", position=13)
    assert error.position == 13
    assert error.text == "metrics.auc >> 1"
    lines = str(error).splitlines()
    assert lines == ["unexpected '>'", "  metrics.auc >> 1", "               ^"]
    assert lines[2].index("^") - 2 == 13
    assert error.to_dict()["position"] == 13
    assert error.to_dict()["text"] == "metrics.auc >> 1"
    assert error.code == ValidationError.code


def test_filter_syntax_error_at_position_zero() -> None:
    error = FilterSyntaxError("empty", text="", position=0)
    assert str(error).splitlines()[-1] == "  ^"


def test_real_filter_errors_point_at_the_offending_token() -> None:
    text = "metrics.auc >> 1"
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(text)
    caret_line = str(info.value).splitlines()[-1]
    assert caret_line.index("^") - 2 == info.value.position
    assert text[info.value.position] == ">"
