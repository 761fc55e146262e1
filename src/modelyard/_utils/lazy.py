"""Lazy re-exports for package ``__init__`` files (PEP 562 module ``__getattr__``).

A package names each public object and the module that defines it; the first access
imports that module and keeps the object as a plain attribute. So ``import modelyard``
and the CLI start without scikit-learn, pyarrow, ONNX or Optuna, and pay for them only
when a name that needs them is used.

The package also imports the same names under ``TYPE_CHECKING``, which is what mypy and
readers see; ``tests/_utils/test_lazy.py`` keeps the two lists and ``__all__`` equal.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose public names load on first use.

    Args:
        package: The package's ``__name__``.
        exports: Public name -> the module that defines it under that name; a module
            given as ``"pkg.mod:"`` (trailing colon) is itself the value (a subpackage
            re-exported under another name, like ``modelyard.models``).

    Returns:
        ``(__getattr__, __dir__)``, to assign at the package's top level.

    Example:
        >>> __getattr__, __dir__ = lazy_exports(__name__, {"DataClient": "modelyard.data.client"})
    """

    def __getattr__(name: str) -> Any:
        source = exports.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, is_module, _ = source.partition(":")
        module = importlib.import_module(module_name)
        value = module if is_module else getattr(module, name)
        setattr(sys.modules[package], name, value)  # from now on a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
