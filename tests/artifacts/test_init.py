"""The public face of modelyard.artifacts: an honest ``__all__`` and its layer."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import modelyard.artifacts as artifacts

ALLOWED_MODELYARD_IMPORTS = ("modelyard.exceptions", "modelyard.config", "modelyard._utils")


def test_all_is_sorted_unique_and_importable() -> None:
    assert artifacts.__all__ == sorted(set(artifacts.__all__))
    for name in artifacts.__all__:
        assert getattr(artifacts, name).__doc__, f"{name} has no docstring"


def test_public_names_are_all_exported() -> None:
    public = {
        name
        for name, value in vars(artifacts).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("modelyard.artifacts.")
    }
    assert public == set(artifacts.__all__)


def test_the_package_imports_only_from_lower_layers() -> None:
    package_dir = Path(artifacts.__file__).parent
    for source in sorted(package_dir.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("modelyard") and not name.startswith("modelyard.artifacts"):
                    assert name.startswith(ALLOWED_MODELYARD_IMPORTS), f"{source.name}: {name}"


def test_every_module_has_a_docstring() -> None:
    package_dir = Path(artifacts.__file__).parent
    for source in sorted(package_dir.glob("*.py")):
        name = "" if source.stem == "__init__" else f".{source.stem}"
        module = importlib.import_module(f"modelyard.artifacts{name}")
        assert module.__doc__, f"{source.name} has no module docstring"
