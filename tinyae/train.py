"""The training loop: minibatches, shuffling, validation, History, progress bar.

    history = fit(model, x_train, epochs=5, batch_size=256, validation_data=x_test)

For an autoencoder the target is the input (``y=None``). Data arrive as NumPy
arrays and each batch is moved to the active backend, so the whole data set never
has to fit on the GPU.
"""
from __future__ import annotations

import json
import math
import time

import numpy as np
from tqdm.auto import tqdm

from . import backend, losses
from .errors import NumericalError, ShapeError
from .optim import Adam, Optimizer, global_grad_norm


class History:
    """Per-epoch figures: ``loss`` (mean training loss), ``val_loss``, ``seconds``, ``lr``."""

    def __init__(self, loss_name: str = "mse"):
        self.loss_name = loss_name
        self.epochs: list[int] = []
        self.loss: list[float] = []
        self.val_loss: list[float] = []
        self.seconds: list[float] = []
        self.lr: list[float] = []

    def append(self, epoch, loss, val_loss, seconds, lr):
        self.epochs.append(epoch)
        self.loss.append(loss)
        if val_loss is not None:
            self.val_loss.append(val_loss)
        self.seconds.append(seconds)
        self.lr.append(lr)

    def to_dict(self) -> dict:
        return {"loss_name": self.loss_name, "epochs": self.epochs, "loss": self.loss,
                "val_loss": self.val_loss, "seconds": self.seconds, "lr": self.lr}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        h = cls(d.get("loss_name", "mse"))
        for key in ("epochs", "loss", "val_loss", "seconds", "lr"):
            setattr(h, key, list(d.get(key, [])))
        return h

    def save(self, path) -> None:
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=2)

    def __repr__(self):
        last = f", last loss {self.loss[-1]:.5f}" if self.loss else ""
        return f"History({len(self.loss)} epochs{last})"


def batches(n: int, batch_size: int, rng: np.random.Generator | None):
    """Index arrays of the minibatches of one epoch (shuffled when ``rng`` is given)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def evaluate(model, x, y=None, loss="mse", batch_size: int = 1024) -> float:
    """The mean loss over the whole of ``x`` (per element, as the loss defines it), in eval mode."""
    loss = losses.get(loss)
    y = x if y is None else y
    was_training = model.training
    model.eval()
    try:
        total = 0.0
        for start in range(0, len(x), batch_size):
            xb = backend.asarray(x[start:start + batch_size])
            yb = xb if y is x else backend.asarray(y[start:start + batch_size])
            total += loss.forward(model.forward(xb), yb) * len(xb)
        return total / len(x)
    finally:
        model.train(was_training)


def predict(model, x, batch_size: int = 1024):
    """The model's output for all of ``x`` (eval mode), as a NumPy array."""
    was_training = model.training
    model.eval()
    try:
        return np.concatenate([backend.to_numpy(model.forward(backend.asarray(x[i:i + batch_size])))
                               for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


def fit(model, x, y=None, *, loss="mse", optimizer: Optimizer | None = None, epochs: int = 5,
        batch_size: int = 256, validation_data=None, shuffle: bool = True, seed: int = 0,
        verbose: int = 1, schedule=None, clip_grad_norm: float | None = None, callbacks=()) -> History:
    """Train ``model`` on ``x`` (target ``y``, or ``x`` itself for an autoencoder).

    loss: a Loss or its name; optimizer: default Adam(lr=1e-3); validation_data: x_val
    or (x_val, y_val); seed: the shuffling order (model weights are seeded when the
    model is built); verbose: 0 silent, 1 a progress bar per epoch; schedule: a
    learning-rate Schedule stepped after each epoch; clip_grad_norm: rescale the
    gradients when their global L2 norm exceeds it; callbacks: functions called as
    ``cb(epoch, history)`` after each epoch.

    Stops with NumericalError (naming the epoch, batch and first layer affected) when
    the input, the loss or a gradient is NaN or infinite; the parameters are then those
    of the last good step.
    """
    loss = losses.get(loss)
    optimizer = optimizer or Adam(model.parameters(), lr=1e-3)
    y = x if y is None else y
    if len(y) != len(x):
        raise ShapeError(f"fit: x has {len(x)} samples but y has {len(y)}")
    x_val, y_val = _split_validation(validation_data)
    _check_finite_data(x, "x")
    if x_val is not None:
        _check_finite_data(x_val, "validation data")
    rng = np.random.default_rng(seed) if shuffle else None
    history = History(type(loss).__name__)
    model.train()
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        epoch_batches = batches(len(x), batch_size, rng)
        bar = tqdm(epoch_batches, desc=f"epoch {epoch}/{epochs}", disable=verbose == 0, leave=True,
                   unit="batch", dynamic_ncols=True)
        running, seen = 0.0, 0
        for i, idx in enumerate(bar):
            xb = backend.asarray(x[idx])
            yb = xb if y is x else backend.asarray(y[idx])
            value = loss.forward(model.forward(xb), yb)
            if not math.isfinite(value):
                raise NumericalError(f"the loss became {value} at epoch {epoch}, batch {i + 1}; the parameters "
                                     f"are those of the last good step. Try a smaller learning rate.")
            model.backward(loss.backward(), input_grad=False)
            norm = global_grad_norm(optimizer.params)
            if not math.isfinite(norm):
                raise NumericalError(f"a gradient became non-finite at epoch {epoch}, batch {i + 1}, first in "
                                     f"{_first_nonfinite_grad(model)}; the parameters are those of the last good step.")
            if clip_grad_norm is not None and norm > clip_grad_norm:
                scale = clip_grad_norm / (norm + 1e-6)
                for p in optimizer.params:
                    p.grad = p.grad * scale
            optimizer.step()
            running += value * len(idx)
            seen += len(idx)
            if verbose and (i % 20 == 0 or i == len(epoch_batches) - 1):
                bar.set_postfix_str(f"{loss.label} {running / seen:.5f}", refresh=False)
        train_loss = running / seen
        val_loss = evaluate(model, x_val, y_val, loss, batch_size=max(batch_size, 1024)) if x_val is not None else None
        seconds = time.perf_counter() - start
        if verbose:
            bar.set_postfix_str(f"{loss.label} {train_loss:.5f}" + (f", val {val_loss:.5f}" if val_loss is not None else ""))
        bar.close()
        history.append(epoch, train_loss, val_loss, seconds, optimizer.lr)
        if schedule is not None:
            schedule.step()
        for callback in callbacks:
            callback(epoch, history)
    return history


def _split_validation(validation_data):
    if validation_data is None:
        return None, None
    if isinstance(validation_data, (tuple, list)):
        x_val, y_val = validation_data
        return x_val, (x_val if y_val is None else y_val)
    return validation_data, validation_data


def _check_finite_data(x, what: str) -> None:
    xp = backend.get_array_module(x)
    if x.dtype.kind == "f" and not bool(xp.isfinite(x).all()):
        bad = int((~xp.isfinite(x)).reshape(len(x), -1).any(axis=1).argmax())
        raise NumericalError(f"{what} contains NaN or infinity (first in sample {bad}); clean the data before training")


def _first_nonfinite_grad(model) -> str:
    xp = backend.xp
    for layer in getattr(model, "layers", [model]):
        for name, p in layer.params.items():
            if not bool(xp.isfinite(p.grad).all()):
                return f"{layer.label}, parameter {name}"
    return "an unknown layer"
