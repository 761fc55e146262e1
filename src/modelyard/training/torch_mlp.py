"""A PyTorch multilayer perceptron behind the scikit-learn estimator contract.

Training runs in PyTorch (on CUDA when ``device="auto"`` finds one); after ``fit``
the estimator holds **no torch objects**: the weights are numpy arrays in
``coefs_`` / ``intercepts_`` (shaped like scikit-learn's ``MLPClassifier``) and
prediction is plain numpy. So a fitted model pickles, deep-copies and clones
cleanly, saves with skops, and predicts where torch is not installed.

Features are used as given: the preprocessing standardises them. The regressor
does standardise its *target* (and undoes it in ``predict``), because the MSE
scale of raw targets would otherwise dictate the learning rate.

Determinism: with an integer ``random_state`` two fits on CPU with the same
``n_jobs`` give identical weights (the seed drives initialisation, dropout and
shuffling inside ``torch.random.fork_rng``, so the global RNG is left as found).
On CUDA, kernels may differ in the last bits between runs.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import erf
from sklearn.base import BaseEstimator, ClassifierMixin, MultiOutputMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Tags, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from modelyard.exceptions import MissingDependencyError, ValidationError

__all__ = ["ACTIVATIONS", "TorchMLPClassifier", "TorchMLPRegressor"]

ACTIVATIONS = ("relu", "tanh", "logistic", "gelu")
_MIN_DELTA = 1e-4  # an epoch must improve the validation loss by this much to reset patience
FloatArray = NDArray[np.float64]


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError(
            "the torch_mlp model family needs PyTorch, which is not installed: "
            "pip install 'modelyard[torch]' (torch==2.13.0)",
            extra="torch",
        ) from exc
    return torch


def _numpy_activation(name: str, z: FloatArray) -> FloatArray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    if name == "logistic":
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # the tanh form does not overflow
    gelu: FloatArray = 0.5 * z * (1.0 + erf(z / math.sqrt(2.0)))  # exact GELU, as torch's
    return gelu


def _run_epoch(
    model: Any, loss_fn: Any, optimizer: Any, data: tuple[Any, Any], order: Any, batch: int
) -> float:
    """One pass over the training data in mini-batches; returns the mean training loss."""
    x, y = data
    model.train()
    total = 0.0
    for start in range(0, len(x), batch):
        idx = order[start : start + batch]
        optimizer.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(idx)
    return total / len(x)


@contextmanager
def _torch_threads(torch: Any, n_jobs: int | None) -> Iterator[None]:
    """Use ``n_jobs`` intra-op threads while fitting, then restore the process setting."""
    previous = torch.get_num_threads()
    wanted = 1 if n_jobs is None else n_jobs
    if wanted < 0:
        wanted = max(1, (os.cpu_count() or 1) + 1 + wanted)
    torch.set_num_threads(max(1, wanted))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _TorchMLPBase(BaseEstimator):  # type: ignore[misc]
    """Parameters, validation, the training loop and the numpy forward pass."""

    _loss: str  # "cross_entropy" or "mse", set by the subclass

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (64, 32),
        activation: str = "relu",
        dropout: float = 0.0,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 64,
        max_epochs: int = 200,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 10,
        device: str = "auto",
        n_jobs: int | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        # scikit-learn's contract: store the parameters as given, validate in fit
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _check_params(self) -> tuple[int, ...]:
        given: Any = self.hidden_layer_sizes  # an int is accepted too, as in sklearn's MLP
        sizes = (given,) if isinstance(given, int | np.integer) else tuple(given)
        problems = []
        if any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1 for s in sizes):
            problems.append(
                f"hidden_layer_sizes must be positive ints, got {self.hidden_layer_sizes!r}"
            )
        if self.activation not in ACTIVATIONS:
            problems.append(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0.0 < self.validation_fraction < 1.0:
            problems.append(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}"
            )
        for name in ("learning_rate", "batch_size", "max_epochs", "patience"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not self.weight_decay >= 0:
            problems.append(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if problems:
            raise ValidationError(f"{type(self).__name__}: " + "; ".join(problems))
        return tuple(int(s) for s in sizes)

    def _device(self, torch: Any) -> Any:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            return torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValidationError(
                f"{type(self).__name__}: unknown device {self.device!r}; use 'auto', 'cpu', "
                "'cuda' or 'cuda:<index>'",
                device=str(self.device),
            ) from exc

    def _split(
        self, x: NDArray[np.float32], y: NDArray[Any], seed: int
    ) -> tuple[NDArray[Any], ...] | None:
        """Hold out the early-stopping validation set, or None when there is too little data."""
        n_val = int(len(x) * self.validation_fraction)
        if not self.early_stopping or n_val < 1 or len(x) - n_val < 1:
            return None
        stratify = None
        if self._loss == "cross_entropy":
            _, counts = np.unique(y, return_counts=True)
            if counts.min() >= 2 and n_val >= len(counts) and len(x) - n_val >= len(counts):
                stratify = y
        parts = train_test_split(x, y, test_size=n_val, random_state=seed, stratify=stratify)
        return tuple(parts)

    def _fit_network(self, x: NDArray[Any], y: NDArray[Any], n_out: int) -> None:
        """Train the network and keep its weights as numpy arrays."""
        sizes = self._check_params()
        torch = _import_torch()
        device = self._device(torch)
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        x = np.asarray(x, dtype=np.float32)
        split = self._split(x, y, seed)
        forked = [device.index or 0] if device.type == "cuda" else []
        with _torch_threads(torch, self.n_jobs), torch.random.fork_rng(devices=forked):
            torch.manual_seed(seed)
            model = self._network(torch, x.shape[1], sizes, n_out).to(device)
            if split is None:
                self._train(torch, model, (x, y), None, device, seed)
            else:
                x_train, x_val, y_train, y_val = split
                self._train(torch, model, (x_train, y_train), (x_val, y_val), device, seed)
            linears = [m for m in model if isinstance(m, torch.nn.Linear)]
            self.coefs_ = [m.weight.detach().cpu().numpy().T.copy() for m in linears]
            self.intercepts_ = [m.bias.detach().cpu().numpy().copy() for m in linears]
        self.n_layers_ = len(self.coefs_) + 1
        self.n_outputs_ = n_out
        self.device_ = str(device)

    def _network(self, torch: Any, n_in: int, sizes: tuple[int, ...], n_out: int) -> Any:
        nn = torch.nn
        make_activation = {
            "relu": nn.ReLU,
            "tanh": nn.Tanh,
            "logistic": nn.Sigmoid,
            "gelu": nn.GELU,
        }
        layers: list[Any] = []
        for width in sizes:
            layers += [nn.Linear(n_in, width), make_activation[self.activation]()]
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            n_in = width
        layers.append(nn.Linear(n_in, n_out))
        return nn.Sequential(*layers)

    def _tensors(
        self, torch: Any, data: tuple[NDArray[Any], NDArray[Any]], device: Any
    ) -> tuple[Any, Any]:
        target_dtype = torch.long if self._loss == "cross_entropy" else torch.float32
        # torch.tensor copies, so read-only inputs (memory maps) are never shared
        return (
            torch.tensor(data[0], dtype=torch.float32, device=device),
            torch.tensor(data[1], dtype=target_dtype, device=device),
        )

    def _train(
        self,
        torch: Any,
        model: Any,
        train: tuple[NDArray[Any], NDArray[Any]],
        val: tuple[NDArray[Any], NDArray[Any]] | None,
        device: Any,
        seed: int,
    ) -> None:
        x, y = self._tensors(torch, train, device)
        loss_fn = (
            torch.nn.CrossEntropyLoss() if self._loss == "cross_entropy" else torch.nn.MSELoss()
        )
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        shuffler = torch.Generator().manual_seed(seed)
        batch = min(int(self.batch_size), len(x))
        self.loss_curve_: list[float] = []
        self.validation_loss_curve_: list[float] = []
        best, best_state, stale = math.inf, None, 0
        for _epoch in range(int(self.max_epochs)):
            order = torch.randperm(len(x), generator=shuffler).to(device)
            self.loss_curve_.append(_run_epoch(model, loss_fn, optimizer, (x, y), order, batch))
            if not math.isfinite(self.loss_curve_[-1]):
                raise ValidationError(
                    f"{type(self).__name__} diverged in epoch {len(self.loss_curve_)} (training loss "
                    f"{self.loss_curve_[-1]}); standardise the features or lower learning_rate "
                    f"(now {self.learning_rate})"
                )
            if val is None:
                continue
            val_loss = self._evaluate(torch, model, loss_fn, val, device)
            self.validation_loss_curve_.append(val_loss)
            if val_loss < best - _MIN_DELTA:
                best, best_state, stale = val_loss, copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        self.n_iter_ = len(self.loss_curve_)
        self.best_loss_ = best if val is not None else self.loss_curve_[-1]

    def _evaluate(
        self,
        torch: Any,
        model: Any,
        loss_fn: Any,
        val: tuple[NDArray[Any], NDArray[Any]],
        device: Any,
    ) -> float:
        x, y = self._tensors(torch, val, device)
        model.eval()
        with torch.no_grad():
            return float(loss_fn(model(x), y))

    def _forward(self, x: NDArray[Any]) -> FloatArray:
        """The network's raw outputs, computed in numpy from the stored weights."""
        h = np.asarray(x, dtype=np.float64)
        last = len(self.coefs_) - 1
        for i, (weight, bias) in enumerate(zip(self.coefs_, self.intercepts_, strict=True)):
            h = h @ weight.astype(np.float64) + bias.astype(np.float64)
            if i < last:
                h = _numpy_activation(self.activation, h)
        return h


class TorchMLPClassifier(ClassifierMixin, _TorchMLPBase):  # type: ignore[misc]
    """A PyTorch MLP classifier (softmax over ``len(classes_)`` outputs, cross-entropy loss).

    Args:
        hidden_layer_sizes: Width of each hidden layer.
        activation: One of ``relu``, ``tanh``, ``logistic``, ``gelu``.
        dropout: Dropout probability after each hidden activation (0 disables it).
        learning_rate: AdamW learning rate.
        weight_decay: AdamW (decoupled) weight decay.
        batch_size: Mini-batch size (capped at the number of training rows).
        max_epochs: Upper bound on passes over the training data.
        early_stopping: Hold out ``validation_fraction`` of the rows (stratified
            where possible), stop after ``patience`` epochs without improvement of
            the validation loss, and keep the best epoch's weights.
        validation_fraction: Share of rows held out for early stopping.
        patience: Epochs without improvement before stopping.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ...
        n_jobs: Torch threads while fitting (None = 1, -1 = all cores); the
            process-wide setting is restored afterwards.
        random_state: Seed of initialisation, dropout, shuffling and the split.

    Fitted attributes: ``classes_``, ``coefs_``, ``intercepts_``, ``n_features_in_``,
    ``n_iter_``, ``loss_curve_``, ``validation_loss_curve_``, ``best_loss_``.

    Raises:
        MissingDependencyError: From ``fit`` when torch is not installed.
    """

    _loss = "cross_entropy"

    def fit(self, X: Any, y: Any) -> TorchMLPClassifier:
        """Fit the network.

        Args:
            X: Numeric features, shape ``(n_samples, n_features)``.
            y: Class labels, shape ``(n_samples,)``; at least two classes.

        Returns:
            self.

        Raises:
            ValidationError: Bad hyperparameters or a single class.
            MissingDependencyError: torch is not installed.
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValidationError(
                f"TorchMLPClassifier needs at least two classes in y, got only one class: {encoder.classes_[0]}"
            )
        self.classes_ = encoder.classes_
        self._fit_network(X, encoder.transform(y), len(self.classes_))
        return self

    def predict_proba(self, X: Any) -> FloatArray:
        """Class probabilities, columns in the order of ``classes_``.

        Args:
            X: Numeric features with ``n_features_in_`` columns.

        Returns:
            Array of shape ``(n_samples, n_classes)``; rows sum to 1.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        logits = self._forward(X)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X: Any) -> NDArray[Any]:
        """The most probable class of each row.

        Args:
            X: Numeric features with ``n_features_in_`` columns.

        Returns:
            Labels drawn from ``classes_``, shape ``(n_samples,)``.
        """
        proba = self.predict_proba(X)
        result: NDArray[Any] = self.classes_[np.argmax(proba, axis=1)]
        return result


class TorchMLPRegressor(MultiOutputMixin, RegressorMixin, _TorchMLPBase):  # type: ignore[misc]
    """A PyTorch MLP regressor (MSE loss on the standardised target).

    Takes the same parameters as :class:`TorchMLPClassifier`; ``y`` may have
    several columns. Fitted attributes add ``y_mean_`` and ``y_scale_`` (the
    target standardisation, undone by ``predict``) and ``n_outputs_``.

    Raises:
        MissingDependencyError: From ``fit`` when torch is not installed.
    """

    _loss = "mse"

    def __sklearn_tags__(self) -> Tags:
        """Declare multi-output support."""
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any) -> TorchMLPRegressor:
        """Fit the network.

        Args:
            X: Numeric features, shape ``(n_samples, n_features)``.
            y: Numeric target, shape ``(n_samples,)`` or ``(n_samples, n_outputs)``.

        Returns:
            self.

        Raises:
            ValidationError: Bad hyperparameters.
            MissingDependencyError: torch is not installed.
        """
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], multi_output=True, y_numeric=True
        )
        target = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        self.y_mean_ = target.mean(axis=0)
        scale = target.std(axis=0)
        self.y_scale_ = np.where(scale > 0, scale, 1.0)
        standardised = ((target - self.y_mean_) / self.y_scale_).astype(np.float32)
        self._fit_network(X, standardised, target.shape[1])
        return self

    def predict(self, X: Any) -> FloatArray:
        """Predicted target values.

        Args:
            X: Numeric features with ``n_features_in_`` columns.

        Returns:
            Shape ``(n_samples,)`` for a single output, else ``(n_samples, n_outputs)``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        out: FloatArray = self._forward(X) * self.y_scale_ + self.y_mean_
        return out.ravel() if self.n_outputs_ == 1 else out
