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
