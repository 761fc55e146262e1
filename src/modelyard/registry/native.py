"""The native model formats: skops (safe, the default) and pickle (opt-in only).

skops rebuilds objects from a description instead of executing a byte stream,
and refuses any type not on a trusted list. Ours adds exactly the types our
training produces (the custom preprocessing steps, the MLP, LightGBM/XGBoost
boosters, tree structures); anything else in a file is reported by name and
the file is not loaded.

Pickle can run arbitrary code when loaded. It is read only when the operator
opted in (``allow_pickle=True`` / ``MODELYARD_ALLOW_PICKLE=1``), and only after
the bytes matched the SHA-256 the registry recorded at registration.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

from modelyard.exceptions import IntegrityError, UnsafeFormatError, ValidationError

__all__ = [
    "PICKLE_HINT",
    "TRUSTED_TYPES",
    "dump_skops",
    "load_pickle",
    "load_skops",
    "untrusted_types",
]

# Third-party types our families put in a pipeline that skops does not trust by
# default (found with skops.io.get_untrusted_types on every family's model).
TRUSTED_TYPES = frozenset(
    {
        "numpy.dtype",
        "collections.OrderedDict",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
        "modelyard.training.torch_mlp.TorchMLPClassifier",
        "modelyard.training.torch_mlp.TorchMLPRegressor",
    }
)


def _own_classes() -> frozenset[str]:
    """Exactly the classes defined in our preprocessing module (not what it imports:
    skops calls some trusted names with arguments from the file)."""
    from modelyard.features import transformers

    return frozenset(
        f"{transformers.__name__}.{name}"
        for name, value in vars(transformers).items()
        if isinstance(value, type) and value.__module__ == transformers.__name__
    )


PICKLE_HINT = (
    "pickle files can run arbitrary code when loaded; modelyard reads them only when "
    "the operator opts in with allow_pickle=True or MODELYARD_ALLOW_PICKLE=1"
)


def dump_skops(model: Any) -> bytes:
    """``model`` in the skops format."""
    import skops.io as sio

    buffer = io.BytesIO()
    sio.dump(model, buffer)
    return buffer.getvalue()


def untrusted_types(data: bytes) -> list[str]:
    """Types in a skops file that neither skops nor modelyard trusts."""
    import skops.io as sio

    try:
        found = sio.get_untrusted_types(data=data)
    except Exception as exc:  # a truncated or foreign file: skops raises many kinds
        raise IntegrityError(f"not a readable skops file: {type(exc).__name__}: {exc}") from exc
    own = _own_classes()
    return [t for t in found if t not in TRUSTED_TYPES and t not in own]


def load_skops(data: bytes) -> Any:
    """Load a skops file whose every type is trusted.

    Raises:
        UnsafeFormatError: The file holds types outside the trusted list (named).
        IntegrityError: The bytes are not a readable skops file.
    """
    import skops.io as sio

    unknown = untrusted_types(data)
    if unknown:
        raise UnsafeFormatError(
            f"the skops file holds types modelyard does not trust: {', '.join(unknown[:20])}; "
            "it was not loaded. Retrain with modelyard's model families, or review the "
            "types and load the file yourself with skops.io.load(..., trusted=[...])",
            types=unknown,
        )
    try:
        return sio.load(io.BytesIO(data), trusted=sio.get_untrusted_types(data=data))
    except Exception as exc:
        raise IntegrityError(
            f"the skops file cannot be loaded: {type(exc).__name__}: {exc}"
        ) from exc


def load_pickle(
    data: bytes, *, expected_sha256: str, allow_pickle: bool, flavor: str = "pickle"
) -> Any:
    """Unpickle ``data`` (``pickle`` or ``joblib`` files) if the operator opted in
    and its hash matches the record.

    The checks come before a single byte is unpickled.

    Raises:
        UnsafeFormatError: ``allow_pickle`` is false.
        IntegrityError: The SHA-256 of ``data`` is not ``expected_sha256``.
    """
    if not allow_pickle:
        raise UnsafeFormatError(f"refusing to load a pickled model: {PICKLE_HINT}")
    if len(expected_sha256) != 64:
        raise ValidationError(f"expected_sha256 {expected_sha256[:80]!r} is not a SHA-256 hex")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise IntegrityError(
            f"pickled model blob has SHA-256 {actual}, but the registry recorded "
            f"{expected_sha256}: it was changed after registration and was not loaded",
            expected=expected_sha256,
            actual=actual,
        )
    if flavor == "joblib":
        import joblib

        return joblib.load(io.BytesIO(data))
    if flavor != "pickle":
        raise ValidationError(f"pickle flavor {flavor!r} is not one of pickle, joblib")
    import pickle

    return pickle.loads(data)  # noqa: S301 - opted in, hash-checked above
