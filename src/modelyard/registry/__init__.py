"""The model registry: versions with lineage, aliases, safe packaging, promotion, cards.

Owns registered models and their immutable versions (``client``, over
``modelyard.store.ModelStore``), what a run holds for registration
(``lineage``), packaging (``packaging``: the native skops file, ONNX converted
by ``onnx_convert`` and parity-checked by ``parity``, int8 by ``quantize``,
latency by ``latency``), safe loading (``native``: trusted skops types, pickle
only on opt-in and after a hash check), predictors that check input against the
signature (``predictor``, ``signature_check``), evaluation, promotion gates and
promotion (``promotion``, using :mod:`modelyard.evaluation`) and model cards
(``card``). The module-level functions (``fluent``) are ``my.models.*``.

It sits in layer L3 above ``evaluation`` and ``training``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from modelyard._utils.lazy import lazy_exports

if TYPE_CHECKING:
    from modelyard.registry.card import ModelCard, render_card, write_card
    from modelyard.registry.client import FORMATS, ModelRegistry
    from modelyard.registry.fluent import (
        archive,
        card,
        check_gates,
        connect,
        delete,
        delete_alias,
        evaluate,
        get,
        get_client,
        history,
        list_models,
        load,
        promote,
        register,
        restore,
        search,
        set_alias,
    )
    from modelyard.registry.predictor import Predictor
    from modelyard.registry.promotion import (
        Promotion,
        check_version_gates,
        default_gates,
        evaluate_version,
        promote_version,
        write_model_card,
    )
    from modelyard.registry.refs import ModelRef, parse_model_ref
    from modelyard.store import ModelEvent, ModelVersion, RegisteredModel

__all__ = [
    "FORMATS",
    "ModelCard",
    "ModelEvent",
    "ModelRef",
    "ModelRegistry",
    "ModelVersion",
    "Predictor",
    "Promotion",
    "RegisteredModel",
    "archive",
    "card",
    "check_gates",
    "check_version_gates",
    "connect",
    "default_gates",
    "delete",
    "delete_alias",
    "evaluate",
    "evaluate_version",
    "get",
    "get_client",
    "history",
    "list_models",
    "load",
    "parse_model_ref",
    "promote",
    "promote_version",
    "register",
    "render_card",
    "restore",
    "search",
    "set_alias",
    "write_card",
    "write_model_card",
]

# Each name's module, imported on first use (see modelyard._utils.lazy).
_EXPORTS = {
    "ModelCard": "modelyard.registry.card",
    "render_card": "modelyard.registry.card",
    "write_card": "modelyard.registry.card",
    "FORMATS": "modelyard.registry.client",
    "ModelRegistry": "modelyard.registry.client",
    "archive": "modelyard.registry.fluent",
    "card": "modelyard.registry.fluent",
    "check_gates": "modelyard.registry.fluent",
    "connect": "modelyard.registry.fluent",
    "delete": "modelyard.registry.fluent",
    "delete_alias": "modelyard.registry.fluent",
    "evaluate": "modelyard.registry.fluent",
    "get": "modelyard.registry.fluent",
    "get_client": "modelyard.registry.fluent",
    "history": "modelyard.registry.fluent",
    "list_models": "modelyard.registry.fluent",
    "load": "modelyard.registry.fluent",
    "promote": "modelyard.registry.fluent",
    "register": "modelyard.registry.fluent",
    "restore": "modelyard.registry.fluent",
    "search": "modelyard.registry.fluent",
    "set_alias": "modelyard.registry.fluent",
    "Predictor": "modelyard.registry.predictor",
    "Promotion": "modelyard.registry.promotion",
    "check_version_gates": "modelyard.registry.promotion",
    "default_gates": "modelyard.registry.promotion",
    "evaluate_version": "modelyard.registry.promotion",
    "promote_version": "modelyard.registry.promotion",
    "write_model_card": "modelyard.registry.promotion",
    "ModelRef": "modelyard.registry.refs",
    "parse_model_ref": "modelyard.registry.refs",
    "ModelEvent": "modelyard.store",
    "ModelVersion": "modelyard.store",
    "RegisteredModel": "modelyard.store",
}

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

# ``card`` names both a module and the function ``my.models.card``. Python binds a
# submodule on its package when it is first imported, so load the module now (it is
# light: matplotlib waits until a chart is drawn) and drop that binding; the name then
# resolves lazily to the function, and later imports of the module cannot shadow it.
importlib.import_module("modelyard.registry.card")
del globals()["card"]
