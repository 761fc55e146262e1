"""Lazy package exports: the names load on first use, and the cheap entry points stay cheap."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
import types

import pytest

from modelyard._utils.lazy import lazy_exports

LAZY_PACKAGES = [
    "modelyard",
    "modelyard.data",
    "modelyard.evaluation",
    "modelyard.features",
    "modelyard.registry",
    "modelyard.training",
]
# What training, packaging and model cards need, and serving a model does not.
MODEL_BUILDING = [
    "fairlearn",
    "lightgbm",
    "matplotlib",
    "onnx",
    "optuna",
    "scipy",
    "shap",
    "skl2onnx",
    "sklearn",
    "torch",
    "xgboost",
]
HEAVY = sorted([*MODEL_BUILDING, "duckdb", "onnxruntime", "pyarrow"])


def _type_checking_imports(package: str) -> dict[str, str]:
    """Name -> module of the imports in the package's ``if TYPE_CHECKING:`` block."""
    module = importlib.import_module(package)
    tree = ast.parse(inspect.getsource(module))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    names: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom), ast.unparse(node)
        assert node.module
        for alias in node.names:
            names[alias.asname or alias.name] = node.module
    return names


def _as_import(package: str, source: str, name: str) -> tuple[str, str]:
    """What ``_EXPORTS`` says, as the ``from X import Y`` that type checkers see."""
    module, is_module, _ = source.partition(":")
    if is_module:  # "modelyard.registry:" exported as "models": from modelyard import registry
        parent, _, child = module.rpartition(".")
        return parent, child
    return module, name


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_the_lazy_names_are_the_ones_type_checkers_see(package: str) -> None:
    module = importlib.import_module(package)
    exports: dict[str, str] = module._EXPORTS
    seen = _type_checking_imports(package)
    assert set(exports) == set(seen)
    for name, source in exports.items():
        where, attribute = _as_import(package, source, name)
        assert seen[name] == where, name
        assert attribute in (name, source.partition(":")[0].rpartition(".")[2])
    eager = {name for name in module.__all__ if name in vars(module) and name not in exports}
    assert set(module.__all__) == set(exports) | eager


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_lazy_name_is_the_object_of_its_module(package: str) -> None:
    module = importlib.import_module(package)
    for name, source in module._EXPORTS.items():
        owner, is_module, _ = source.partition(":")
        expected = importlib.import_module(owner)
        assert getattr(module, name) is (expected if is_module else getattr(expected, name))
        assert name in vars(module)  # kept as a plain attribute after the first use
        assert name in dir(module)


def test_a_card_import_does_not_hide_the_card_function() -> None:
    import modelyard.registry
    import modelyard.registry.card  # a submodule named like the function
    from modelyard.registry import fluent

    assert modelyard.registry.card is fluent.card


def test_an_unknown_name_is_an_attribute_error_naming_the_package() -> None:
    package = types.ModuleType("fake_package")
    sys.modules["fake_package"] = package
    try:
        getattr_, dir_ = lazy_exports("fake_package", {"dumps": "json", "js": "json:"})
        with pytest.raises(AttributeError, match="module 'fake_package' has no attribute 'x'"):
            getattr_("x")
        assert getattr_("dumps") is sys.modules["json"].dumps
        assert getattr_("js") is sys.modules["json"]
        assert package.dumps is sys.modules["json"].dumps
        assert {"dumps", "js"} <= set(dir_())
    finally:
        del sys.modules["fake_package"]


def _loaded_after(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after ``statement``."""
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    ("statement", "not_loaded"),
    [
        ("import modelyard", [*HEAVY, "numpy", "pandas", "sqlalchemy", "typer"]),
        ("import modelyard.cli.app", HEAVY),
        ("from modelyard.registry import ModelRegistry", MODEL_BUILDING),
    ],
)
def test_entry_points_leave_the_heavy_libraries_unloaded(
    statement: str, not_loaded: list[str]
) -> None:
    assert sorted(_loaded_after(statement) & set(not_loaded)) == []
