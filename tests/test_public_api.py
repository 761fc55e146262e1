"""Keeps ``__all__`` honest: sorted, real names, documented; every package says what it owns."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

import modelyard

# Alembic's script folder: env.py runs migrations when imported, and neither it nor the
# revision files are API (they are loaded by Alembic, never imported by users).
NOT_API = ("modelyard.store.migrations",)


def _module_names() -> list[str]:
    names = ["modelyard"]
    for info in pkgutil.walk_packages(modelyard.__path__, "modelyard."):
        if not info.name.startswith(NOT_API):
            names.append(info.name)
    return sorted(names)


MODULES = _module_names()
PACKAGES = [name for name in MODULES if hasattr(importlib.import_module(name), "__path__")]
WITH_ALL = [name for name in MODULES if hasattr(importlib.import_module(name), "__all__")]


def _is_private(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("."))


def isort_key(name: str) -> tuple[int, list[int | str]]:
    """Ruff's RUF022 order: SCREAMING_SNAKE_CASE, then CamelCase, then the rest, each natural."""
    if len(name) > 1 and name.isupper():
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    return kind, [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def test_the_walk_finds_the_packages() -> None:
    assert {"modelyard.cli", "modelyard.store", "modelyard.tracking"} <= set(PACKAGES)
    assert {"modelyard.config", "modelyard.exceptions", "modelyard.cli.app"} <= set(WITH_ALL)


def test_isort_key_follows_ruff() -> None:
    names = ["connect", "Run", "DEFAULT_EXPERIMENT", "__version__", "v10", "v2", "X", "ATTRIBUTES"]
    assert sorted(names, key=isort_key) == [
        "ATTRIBUTES",
        "DEFAULT_EXPERIMENT",
        "Run",
        "X",
        "__version__",
        "connect",
        "v2",
        "v10",
    ]


@pytest.mark.parametrize("name", [m for m in MODULES if not _is_private(m.rpartition(".")[2])])
def test_every_public_module_declares_all(name: str) -> None:
    assert hasattr(importlib.import_module(name), "__all__"), f"{name} has no __all__"


@pytest.mark.parametrize("name", WITH_ALL)
def test_all_is_sorted_and_unique(name: str) -> None:
    exported = list(importlib.import_module(name).__all__)
    assert len(exported) == len(set(exported)), f"duplicates in {name}.__all__"
    assert exported == sorted(exported, key=isort_key), f"{name}.__all__ is not sorted"


@pytest.mark.parametrize("name", WITH_ALL)
def test_every_exported_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    missing = [item for item in module.__all__ if not hasattr(module, item)]
    assert not missing, f"{name}.__all__ names {missing}, which it does not define"


def _has_own_docstring(obj: object) -> bool:
    doc = inspect.getdoc(obj) if inspect.isfunction(obj) else obj.__dict__.get("__doc__")
    if not doc or not doc.strip():
        return False
    # @dataclass writes "Name(field: type, ...)" into a class that has no docstring.
    return not (inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("))


@pytest.mark.parametrize("name", [m for m in WITH_ALL if not _is_private(m)])
def test_every_exported_function_and_class_has_a_docstring(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    undocumented = [
        item
        for item in module.__all__
        if (inspect.isfunction(obj := getattr(module, item)) or inspect.isclass(obj))
        and not _has_own_docstring(obj)
    ]
    assert not undocumented, f"{name} exports undocumented {undocumented}"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_package_says_what_it_owns(name: str) -> None:
    doc = importlib.import_module(name).__doc__ or ""
    assert doc.strip(), f"{name}/__init__.py has no docstring"


@pytest.mark.parametrize("name", MODULES)
def test_every_module_has_a_docstring(name: str) -> None:
    doc = importlib.import_module(name).__doc__ or ""
    assert doc.strip(), f"{name} has no docstring"


def test_top_level_reexports_are_the_tracking_objects() -> None:
    from modelyard import tracking

    for item in modelyard.__all__:
        if hasattr(tracking, item) and item != "connect":  # connect points both APIs
            assert getattr(modelyard, item) is getattr(tracking, item)
    assert re.fullmatch(r"\d+\.\d+\.\d+", modelyard.__version__)


def test_connect_points_tracking_and_data_at_one_home(tmp_path: Path) -> None:
    tracking = modelyard.connect(home=tmp_path)
    try:
        assert modelyard.get_client() is tracking
        data = modelyard.data.get_client()
        data.ingest(pd.DataFrame({"a": [1, 2]}), "t")
        assert (tmp_path / "modelyard.db").exists()
        assert [d.ref for d in data.list_datasets()] == ["t@1"]
    finally:
        modelyard.data.get_client().close()
        tracking.close()
