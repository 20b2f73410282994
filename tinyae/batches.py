"""Running a model (or one half of it) over a whole data set: batched, in eval mode, NumPy out.

``predict``, ``Autoencoder.encode`` / ``decode`` / ``reconstruct`` all come here, so that
each moves one batch at a time to the active backend (in the dtype of the model's
parameters) and brings the outputs back to the host: a data set never has to fit on the GPU.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .errors import DTypeError, ShapeError


def model_dtype(model):
    """The dtype of the model's parameters (the default dtype for a model without any)."""
    params = model.parameters()
    return params[0].data.dtype if params else backend.dtype()


def check_samples(x, what: str, caller: str) -> None:
    """``x`` must be a non-empty floating-point array with a sample axis."""
    dtype = getattr(x, "dtype", None)
    if dtype is None or getattr(x, "ndim", 0) < 1:
        raise DTypeError(f"{caller}: {what} must be an array of samples (N, ...), got {type(x).__name__}")
    if dtype.kind != "f":
        hint = (" (images stored as 0..255 integers: use x.astype('float32') / 255)" if dtype.kind in "ui" else
                " (use x.astype('float32'))" if dtype.kind == "b" else "")
        raise DTypeError(f"{caller}: {what} has dtype {dtype}; training and inference need floating-point data{hint}")
    if len(x) == 0:
        raise ShapeError(f"{caller}: {what} holds no samples")


def forward_in_batches(model, x, batch_size: int = 1024, dtype=None) -> np.ndarray:
    """``model.forward`` over all of ``x`` in batches, in eval mode (the mode is restored), as NumPy."""
    dtype = model_dtype(model) if dtype is None else dtype
    was_training = model.training
    model.eval()
    try:
        return np.concatenate([backend.to_numpy(model.forward(backend.asarray(x[i:i + batch_size], dtype=dtype)))
                               for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)
