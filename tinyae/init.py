"""Weight initializers and the seed that makes them reproducible.

Initial weights are drawn on the CPU with NumPy and then moved to the active
backend, so a seed gives the same initial model on NumPy and on CuPy.

Defaults (chosen for what follows the layer):

* ``Dense``: Glorot (Xavier) uniform, U(-a, a) with a = sqrt(6 / (fan_in + fan_out)),
  the Keras default, suited to sigmoid, tanh and linear outputs. The model zoo
  uses He uniform for layers followed by a ReLU.
* ``Conv2d`` / ``ConvTranspose2d``: He uniform, U(-a, a) with a = sqrt(6 / fan_in).
* Biases start at zero.
* ``pytorch_uniform``, U(-a, a) with a = 1 / sqrt(fan_in), is PyTorch's default for the
  weights of nn.Linear and nn.Conv2d (kaiming_uniform with a = sqrt(5)); the zoo's VAEs
  use it, as pytorch/examples' VAE does (PyTorch's biases are not zero, ours are).

fan_in and fan_out count the connections into one output unit and out of one
input unit (times the kernel area for convolutions).
"""
from __future__ import annotations

import numpy as np

from . import backend

_generator = np.random.default_rng(0)


def seed(value: int) -> None:
    """Re-seed the generator that layers draw their initial weights from."""
    global _generator
    _generator = np.random.default_rng(value)


def generator(rng=None) -> np.random.Generator:
    """``rng`` as a NumPy Generator: an int seeds a new one; None gives the module's generator."""
    if rng is None:
        return _generator
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def glorot_uniform(shape, fan_in, fan_out, rng=None):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return _on_backend(generator(rng).uniform(-limit, limit, size=shape))


def glorot_normal(shape, fan_in, fan_out, rng=None):
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return _on_backend(generator(rng).normal(0.0, std, size=shape))


def he_uniform(shape, fan_in, fan_out=None, rng=None):
    limit = np.sqrt(6.0 / fan_in)
    return _on_backend(generator(rng).uniform(-limit, limit, size=shape))


def he_normal(shape, fan_in, fan_out=None, rng=None):
    std = np.sqrt(2.0 / fan_in)
    return _on_backend(generator(rng).normal(0.0, std, size=shape))


def pytorch_uniform(shape, fan_in, fan_out=None, rng=None):
    limit = 1.0 / np.sqrt(fan_in)
    return _on_backend(generator(rng).uniform(-limit, limit, size=shape))


INITIALIZERS = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "pytorch_uniform": pytorch_uniform,
}


def initialize(name: str, shape, fan_in: int, fan_out: int, rng=None):
    """Draw an array of ``shape`` with the initializer called ``name`` (see INITIALIZERS)."""
    try:
        init = INITIALIZERS[name]
    except KeyError:
        raise ValueError(f"unknown initializer {name!r}: choose one of {sorted(INITIALIZERS)}") from None
    return init(shape, fan_in, fan_out, rng=rng)


def zeros(shape):
    return backend.xp.zeros(shape, dtype=backend.dtype())


def _on_backend(values: np.ndarray):
    return backend.asarray(values)
