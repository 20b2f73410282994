"""The training loop: minibatches, shuffling, validation, History, progress bar.

    history = fit(model, x_train, epochs=5, batch_size=256, validation_data=x_test)

For an autoencoder the target is the input (``y=None``). Data arrive as NumPy
arrays and each batch is moved to the active backend (in the dtype of the model's
parameters), so the whole data set never has to fit on the GPU.

The objective is the data term (``loss``: the model's own when not given, see
``objective_of``) plus the model's penalties (``model.penalty``: an activity L1, a KL
term), which each layer computes in its forward and whose gradient it adds in its
backward. ``fit`` minimises their sum; ``History`` and ``evaluate(..., parts=True)``
report the data term, the penalty and the sum apart, in the loss's units ("per pixel"
for the default means, "per image" for the VAE's summed BCE).

What is checked, and what it costs:

* before training, one pass over the data (its minimum and maximum): NaN or infinity
  raises NumericalError naming the first bad sample; a target outside [0, 1] for a
  model whose output is a sigmoid, or for a BCE loss, gives one warning per model;
  integer data raises DTypeError (scale it: ``x.astype("float32") / 255``); a model
  whose penalty is per image (a VAE's KL) trained with a per-pixel loss gives a warning;
* during training, nothing beyond what the loop computes anyway: the objective (a float)
  and the gradients' global norm (needed for clipping) must be finite. Only when one
  is not does fit re-run the batch layer by layer to find where the non-finite
  numbers first appeared, and raise NumericalError naming the epoch, the batch and
  that layer. The bad step is never applied: parameters, optimizer state and
  buffers stay those of the last good step.
"""
from __future__ import annotations

import math
import time
import warnings

import numpy as np
from tqdm.auto import tqdm

from . import backend, batches as _batches, checkpoint as _checkpoint, layers as _layers, losses
from .errors import DTypeError, NumericalError, ShapeError
from .history import History
from .optim import Adam, Optimizer, global_grad_norm
from .optim import clip_grad_norm as clip_gradients


def batches(n: int, batch_size: int, rng: np.random.Generator | None):
    """Index arrays of the minibatches of one epoch (shuffled when ``rng`` is given)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def objective_of(model, loss=None) -> losses.Loss:
    """The data term to train and evaluate ``model`` with: ``loss`` if given, else the model's own
    (``model.loss``, which every zoo model names), else MSE per pixel."""
    if loss is not None:
        return losses.get(loss)
    return losses.get(getattr(model, "loss", None) or "mse")


def evaluate(model, x, y=None, loss=None, batch_size: int = 1024, parts: bool = False):
    """The objective over the whole of ``x`` in eval mode: data term + penalties, in the loss's units.

    loss: the data term (the model's own when None, see ``objective_of``). Returns a float,
    or with ``parts=True`` the dict {"total", "data", "penalty", "units"}. Each batch's
    figure is weighted by its number of samples, so the result does not depend on
    ``batch_size``. A VAE's sampler uses z = μ in eval mode, so its figure here is
    deterministic (``VAE.negative_elbo`` gives the sampled estimate).
    """
    loss = objective_of(model, loss)
    _check_data(x, "x")
    target, what = (x, "x") if y is None else (y, "y")
    if y is not None:
        _check_targets(y, loss, "y")
        if len(y) != len(x):
            raise ShapeError(f"evaluate: x has {len(x)} samples but y has {len(y)}")
    if len(x) == 0:
        raise ShapeError("evaluate: x holds no samples")
    if not loss.takes_labels:
        _warn_range(model, loss, *_data_range(target), what)
    _warn_units(model, loss)
    figures = _evaluate(model, x, None if y is None else y, loss, batch_size)
    return figures if parts else figures["total"]


def _evaluate(model, x, y, loss, batch_size: int) -> dict:
    dtype = _model_dtype(model)
    was_training = model.training
    model.eval()
    try:
        data = penalty = 0.0
        for start in range(0, len(x), batch_size):
            xb = backend.asarray(x[start:start + batch_size], dtype=dtype)
            yb = xb if y is None else _target_batch(y[start:start + batch_size], loss, dtype)
            data += loss.forward(model.forward(xb), yb) * len(xb)
            penalty += model.penalty * len(xb)
        return {"total": (data + penalty) / len(x), "data": data / len(x), "penalty": penalty / len(x),
                "units": loss.units}
    finally:
        model.train(was_training)


def predict(model, x, batch_size: int = 1024):
    """The model's output for all of ``x`` (eval mode), as a NumPy array.

    For a model with a sigmoid output, inputs far outside [0, 1] (below -1 or above 2,
    e.g. images left in 0..255) give a warning, once per model; a denoising
    autoencoder's noisy inputs, slightly outside [0, 1], do not.
    """
    _check_data(x, "x")
    if len(x) == 0:
        raise ShapeError("predict: x holds no samples")
    if _output_is_sigmoid(model):
        lo, hi = _data_range(x)
        if lo < -1.0 or hi > 2.0:      # far outside [0, 1]: unscaled images, not a denoiser's noisy input
            _warn_range(model, None, lo, hi, "x")
    return _batches.forward_in_batches(model, x, batch_size)


def fit(model, x, y=None, *, loss=None, optimizer: Optimizer | None = None, epochs: int = 5,
        batch_size: int = 256, validation_data=None, shuffle: bool = True, seed: int = 0,
        verbose: int = 1, schedule=None, clip_grad_norm: float | None = None, callbacks=(),
        checkpoint=None, every: int = 1, resume=None) -> History:
    """Train ``model`` on ``x`` (target ``y``, or ``x`` itself for an autoencoder).

    loss: the data term, a Loss or its name (the model's own when None: ``objective_of``);
    the model's penalties are added to it. optimizer: default Adam(lr=1e-3);
    validation_data: x_val or (x_val, y_val); seed: the shuffling order (model weights
    are seeded when the model is built); verbose: 0 silent, 1 a progress bar per epoch;
    schedule: a learning-rate Schedule stepped after each epoch; clip_grad_norm: rescale
    the gradients when their global L2 norm exceeds it; callbacks: functions called as
    ``cb(epoch, history)`` after each epoch.

    checkpoint: a file to write a checkpoint to (atomically, see tinyae.checkpoint)
    every ``every`` epochs and after the last one; resume: a checkpoint file to continue
    from: the model, optimizer, schedule, random generators and History are restored
    and training goes on from the epoch after the checkpoint's up to ``epochs`` in all
    (with the same data, seed and batch size, the result equals, to the bit on the CPU,
    that of a run never interrupted). ``resume`` and ``checkpoint`` may be the same file.

    Stops with NumericalError (naming the epoch, batch and first layer affected) when
    the input, the objective or a gradient is NaN or infinite; the parameters are then
    those of the last good step.
    """
    loss = objective_of(model, loss)
    optimizer = optimizer or Adam(model.parameters(), lr=1e-3)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"fit: every must be a positive number of epochs, got {every!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"fit: batch_size must be a positive integer, got {batch_size!r}")
    _check_data(x, "x")
    if y is not None:
        _check_targets(y, loss, "y")
    elif loss.takes_labels:
        raise ShapeError(f"fit: the {loss.label} loss needs class labels: fit(model, x, labels)")
    target, target_name = (x, "x") if y is None else (y, "y")
    if len(target) != len(x):
        raise ShapeError(f"fit: x has {len(x)} samples but y has {len(y)}")
    if len(x) == 0:
        raise ShapeError("fit: x holds no samples")
    x_val, y_val = _split_validation(validation_data)
    # One pass over the data (min and max) finds NaN/inf and the range the output needs.
    x_range = _data_range(x, "x")
    if not loss.takes_labels:
        target_range = x_range if y is None else _data_range(y, "y")
        _warn_range(model, loss, *target_range, target_name)
    _warn_units(model, loss)
    if x_val is not None:
        _check_data(x_val, "validation data")
        val_range = _data_range(x_val, "validation data")
        if y_val is not x_val:
            _check_targets(y_val, loss, "validation targets")
            if not loss.takes_labels:
                val_range = _data_range(y_val, "validation targets")
        if not loss.takes_labels:
            _warn_range(model, loss, *val_range, "the validation data")
    dtype = _model_dtype(model)
    rng = np.random.default_rng(seed) if shuffle else None
    history = History(type(loss).__name__, loss.units)
    fit_args = {"batch_size": int(batch_size), "shuffle": bool(shuffle), "seed": seed,
                "loss": type(loss).__name__ if loss.reduction == "mean" else loss.name,
                "samples": len(x)}
    first_epoch = 1
    if resume is not None:
        restored = _checkpoint.load_checkpoint(resume, model=model, optimizer=optimizer, schedule=schedule)
        first_epoch = restored.epoch + 1
        history = restored.history or history
        if rng is not None:
            if restored.shuffle_rng is None:
                warnings.warn(f"{resume}: the checkpoint was written without shuffling; the batches of the resumed "
                              f"run are shuffled from seed {seed}", stacklevel=2)
            else:
                _checkpoint.set_generator_state(rng, restored.shuffle_rng, "the shuffling generator", resume)
        changed = {k: (restored.fit_args[k], v) for k, v in fit_args.items()
                   if k in restored.fit_args and restored.fit_args[k] != v}
        if changed:
            warnings.warn(f"{resume}: resuming with other settings than the checkpoint's ("
                          + ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changed.items())
                          + "); the run will not match an uninterrupted one", stacklevel=2)
        if restored.epoch >= epochs:
            warnings.warn(f"{resume}: the checkpoint has already completed {restored.epoch} epochs "
                          f"(epochs={epochs}); nothing to train", stacklevel=2)
    buffered = [layer for _, layer in _layers.leaves(model) if layer.buffers]
    model.train()
    for epoch in range(first_epoch, epochs + 1):
        start = time.perf_counter()
        epoch_batches = batches(len(x), batch_size, rng)
        # the bar is updated by hand (not iterated), so that the validation loss can still be shown on it
        bar = tqdm(total=len(epoch_batches), desc=f"epoch {epoch}/{epochs}", disable=verbose == 0, leave=True,
                   unit="batch", dynamic_ncols=True)
        running, running_penalty, seen = 0.0, 0.0, 0
        for i, idx in enumerate(epoch_batches):
            xb = backend.asarray(_rows(x, idx, rng is None), dtype=dtype)
            yb = xb if y is None else _target_batch(_rows(y, idx, rng is None), loss, dtype)
            saved_buffers = _snapshot_buffers(buffered) if buffered else None
            value = loss.forward(model.forward(xb), yb)
            penalty = model.penalty
            if not math.isfinite(value + penalty):
                bar.close()
                where = _locate_forward(model, loss, xb, yb, value, penalty)
                _restore_buffers(saved_buffers)
                raise NumericalError(f"the {'loss' if not math.isfinite(value) else 'penalty'} became "
                                     f"{value if not math.isfinite(value) else penalty} at epoch {epoch}, "
                                     f"batch {i + 1} (of {len(epoch_batches)}): {where}. {_not_taken(optimizer)}")
            model.backward(loss.backward(), input_grad=False)
            norm = global_grad_norm(optimizer.params)
            if not math.isfinite(norm):
                bar.close()
                where = _locate_backward(model, loss)
                _restore_buffers(saved_buffers)
                raise NumericalError(f"a gradient became non-finite at epoch {epoch}, batch {i + 1}, first in "
                                     f"{where} (in backward order; batch {i + 1} of {len(epoch_batches)}). "
                                     f"{_not_taken(optimizer)}")
            if clip_grad_norm is not None:
                clip_gradients(optimizer.params, clip_grad_norm, norm=norm)
            optimizer.step()
            running += value * len(idx)
            running_penalty += penalty * len(idx)
            seen += len(idx)
            if verbose and (i % 20 == 0 or i == len(epoch_batches) - 1):
                bar.set_postfix_str(_progress(loss, running / seen, running_penalty / seen), refresh=False)
            bar.update(1)
        train_data, train_penalty = running / seen, running_penalty / seen
        val = _evaluate(model, x_val, None if y_val is x_val else y_val, loss,
                        max(batch_size, 1024)) if x_val is not None else None
        seconds = time.perf_counter() - start
        if verbose:
            bar.set_postfix_str(_progress(loss, train_data, train_penalty)
                                + (f", val {val['total']:.5g}" if val is not None else ""))
        bar.close()
        history.append(epoch, train_data + train_penalty, None if val is None else val["total"], seconds,
                       optimizer.lr, data_loss=train_data, penalty=train_penalty,
                       val_data_loss=None if val is None else val["data"],
                       val_penalty=0.0 if val is None else val["penalty"])
        if schedule is not None:
            schedule.step()
        if checkpoint is not None and (epoch % every == 0 or epoch == epochs):
            _checkpoint.save_checkpoint(checkpoint, model, optimizer, epoch=epoch, history=history, rng=rng,
                                        schedule=schedule, fit_args=fit_args)
        for callback in callbacks:
            callback(epoch, history)
    return history


def _progress(loss, data: float, penalty: float) -> str:
    """The progress bar's figure: "MSE 0.01234", or "BCE 80.1 + penalty 25.3 = 105.4 per image"."""
    if penalty == 0.0:
        return f"{loss.label} {data:.5g}"
    return f"{loss.label} {data:.5g} + penalty {penalty:.4g} = {data + penalty:.5g}"


def _warn_units(model, loss) -> None:
    """One warning per model when a per-image penalty (a VAE's KL) meets a per-pixel data term."""
    if loss.reduction == "per_sample" or getattr(model, "_units_warned", False):
        return
    owners = [layer for _, layer in _layers.leaves(model) if getattr(layer, "wants_loss_per_sample", False)]
    if owners:
        model._units_warned = True
        warnings.warn(f"{owners[0].label}'s KL term is in nats per image, but the {loss.label} loss is a mean per "
                      f"pixel: the KL would weigh as much as the whole image's reconstruction error on every pixel "
                      f"(784 times too much for MNIST). Use loss='{type(loss).__name__.lower()}_per_image' (the "
                      f"model's own objective when loss is not given)", UserWarning, stacklevel=3)


def _split_validation(validation_data):
    if validation_data is None:
        return None, None
    if isinstance(validation_data, (tuple, list)):
        x_val, y_val = validation_data
        return x_val, (x_val if y_val is None else y_val)
    return validation_data, validation_data


# --- data checks (one pass before training) ------------------------------------------------


def _check_data(x, what: str) -> None:
    """Data must be a floating-point array with a sample axis (the layers' dtype rule, applied to whole data sets)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None or getattr(x, "ndim", 0) < 1:
        raise DTypeError(f"{what} must be an array of samples (N, ...), got {type(x).__name__}")
    if dtype.kind != "f":
        hint = (" (images stored as 0..255 integers: use x.astype('float32') / 255)" if dtype.kind in "ui" else
                " (use x.astype('float32'))" if dtype.kind == "b" else "")
        raise DTypeError(f"{what} has dtype {dtype}; training and inference need floating-point data{hint}")


def _check_targets(y, loss, what: str) -> None:
    """Targets are data (floating point) for a reconstruction loss, class labels for a classification loss."""
    if not loss.takes_labels:
        _check_data(y, what)
        return
    dtype = getattr(y, "dtype", None)
    if dtype is None or getattr(y, "ndim", 0) not in (1, 2) or dtype.kind not in "uif":
        raise DTypeError(f"{what}: the {loss.label} loss takes class labels (N,) of whole numbers (or one-hot rows "
                         f"(N, K)), got {type(y).__name__} {getattr(y, 'dtype', '')} {getattr(y, 'shape', '')}")


def _rows(a, idx, in_order: bool):
    """The rows ``idx`` of ``a``: a view when the batches are in order (``shuffle=False``), where each batch is a
    run of consecutive rows, else a copy. The layers never write into their input, so a view is safe."""
    return a[int(idx[0]):int(idx[0]) + len(idx)] if in_order else a[idx]


def _target_batch(y, loss, dtype):
    """A batch of targets on the backend: data in the model's dtype, or class labels kept as integers."""
    if loss.takes_labels and y.ndim == 1:
        return backend.xp.asarray(y)
    return backend.asarray(y, dtype=dtype)


def _data_range(x, what: str = "x") -> tuple[float, float]:
    """(min, max) of ``x``; NumericalError naming the first bad sample if it holds NaN or infinity.

    NaN propagates through min and max, so one pass finds both the range and any
    non-finite value; the bad sample is only searched for when there is one.
    """
    xp = backend.get_array_module(x)
    lo, hi = float(xp.min(x)), float(xp.max(x))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        bad = ~xp.isfinite(x).reshape(len(x), -1)
        rows = bad.any(axis=1)
        first = int(rows.argmax())
        raise NumericalError(f"{what} contains NaN or infinity (first in sample {first}): value "
                             f"{float(x[first].reshape(-1)[int(bad[first].argmax())])}, {int(rows.sum())} of "
                             f"{len(x)} samples affected; no training step was taken. Clean the data first (drop those samples, or "
                             f"np.nan_to_num)")
    return lo, hi


_RANGE_KEEPING = ("Flatten", "Reshape", "Crop2d", "Identity", "MaxPool2d", "AvgPool2d", "Upsample2d",
                  "ActivityL1", "KLSparsity")


def _output_is_sigmoid(model) -> bool:
    """True when the last layer that changes values (not only shapes) is a Sigmoid."""
    for layer in reversed(_model_layers(model)):
        if type(layer).__name__ in _RANGE_KEEPING:
            continue
        return isinstance(layer, _layers.Sigmoid)
    return False


def _warn_range(model, loss, lo: float, hi: float, what: str) -> None:
    """One warning per model when values outside [0, 1] meet a sigmoid output or a BCE loss."""
    if lo >= 0.0 and hi <= 1.0 or getattr(model, "_range_warned", False):
        return
    if _output_is_sigmoid(model):
        why = "the model's sigmoid output can only reach [0, 1]"
    elif isinstance(loss, (losses.BCE, losses.BCEWithLogits)):
        why = f"the {loss.label} loss needs targets in [0, 1]"
    else:
        return
    fix = ("scale the images (x / 255)" if lo >= 0.0 and 100.0 < hi <= 255.0 else
           "rescale it to [0, 1], e.g. (x - x.min()) / (x.max() - x.min()), or use a linear output and MSE")
    model._range_warned = True
    warnings.warn(f"{what} has values in [{lo:g}, {hi:g}]: {why}; {fix}", UserWarning, stacklevel=3)


_model_dtype = _batches.model_dtype


def _model_layers(model) -> list:
    """The layers data runs through one after the other (Sequentials and Autoencoders opened)."""
    return _layers.chain(model)


# --- numerical faults: found on failure only --------------------------------------------------


def _snapshot_buffers(buffered) -> list:
    return [(layer, dict((name, buf.copy()) for name, buf in layer.buffers.items())) for layer in buffered]


def _restore_buffers(saved) -> None:
    for layer, buffers in saved or ():
        layer.buffers.update(buffers)


def _finite(a) -> bool:
    return bool(backend.get_array_module(a).isfinite(a).all())


def _first_bad_sample(a) -> int:
    xp = backend.get_array_module(a)
    return int((~xp.isfinite(a)).reshape(len(a), -1).any(axis=1).argmax())


def _locate_forward(model, loss, xb, yb, value, penalty=0.0) -> str:
    """Re-run the batch's forward layer by layer; say where the first non-finite number appears."""
    if not _finite(xb):
        return f"the input batch holds NaN or infinity (its sample {_first_bad_sample(xb)})"
    if yb is not xb and not _finite(yb):
        return f"the target batch holds NaN or infinity (its sample {_first_bad_sample(yb)})"
    xp = backend.xp
    h = xb
    for layer in _model_layers(model):
        bad_params = [name for name, p in layer.params.items() if not _finite(p.data)]
        out = layer.forward(h)
        if math.isfinite(value) and not math.isfinite(layer.penalty):
            return (f"the penalty of {layer.label} is {layer.penalty} (its input was finite, largest magnitude "
                    f"{float(xp.abs(h).max()):.3g})")
        if not _finite(out):
            if bad_params:
                return (f"first non-finite in the output of {layer.label}, whose parameter "
                        f"{', '.join(bad_params)} holds NaN or infinity")
            return (f"first non-finite in the output of {layer.label} (its input was finite, largest magnitude "
                    f"{float(xp.abs(h).max()):.3g}: an overflow)")
        h = out
    return (f"every layer's output is finite (largest magnitude {float(xp.abs(h).max()):.3g}); the {loss.label} "
            f"loss itself overflowed")


def _locate_backward(model, loss) -> str:
    """Re-run the batch's backward layer by layer; say where the gradient first turns non-finite."""
    dy = loss.backward()
    if not _finite(dy):
        return f"the gradient of the {loss.label} loss with respect to the model's output"
    model_layers = _layers.chain(model, as_run=True)         # as the forward ran them (eq. P9)
    stop = next((i for i, layer in enumerate(model_layers) if layer.params), 0)
    for layer in reversed(model_layers[stop:]):
        for p in layer.params.values():
            p.start_pass()
        dy = layer.backward(dy)
        for name, p in layer.params.items():
            if not _finite(p.grad):
                return f"{layer.label}, parameter {name}"
        if layer is not model_layers[stop] and dy is not None and not _finite(dy):
            return f"the input gradient of {layer.label}"
    return "a parameter the optimizer updates outside the model"


def _not_taken(optimizer) -> str:
    return (f"The step was not taken: the parameters are those of the last good step. "
            f"Try a smaller learning rate (now {optimizer.lr:g}) or clip_grad_norm=1.0.")
