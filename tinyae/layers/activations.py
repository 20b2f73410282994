"""Elementwise activations. Each keeps what its derivative needs (its output or input).

Equations A1–A8 are derived in docs/math/dense.md. Forward never writes into its
input and backward never writes into ``dy``.
"""
from __future__ import annotations

from .. import backend
from .base import Layer


class _Elementwise(Layer):
    """An activation: any input shape, output of the same shape."""

    def __init__(self):
        super().__init__()
        self._cache = None

    def _check_backward(self, dy):
        self.check_forward_called(self._cache)
        self.check_grad(dy, self._cache.shape)

    def forward(self, x):
        self.check_dtype(x)
        return self._forward(x)


class ReLU(_Elementwise):
    """y = max(x, 0). The derivative at 0 is taken as 0."""

    def _forward(self, x):                                  # x: any shape
        y = backend.xp.maximum(x, 0)                        # eq. A1
        self._cache = y
        return y

    def backward(self, dy):
        self._check_backward(dy)
        return dy * (self._cache > 0)                       # eq. A2


class LeakyReLU(_Elementwise):
    """y = x for x > 0, alpha·x otherwise."""

    def __init__(self, alpha: float = 0.01):
        super().__init__()
        self.alpha = alpha

    def _forward(self, x):
        self._cache = x
        return backend.xp.where(x > 0, x, self.alpha * x)   # eq. A3

    def backward(self, dy):
        self._check_backward(dy)
        slope = backend.xp.where(self._cache > 0, 1.0, self.alpha).astype(dy.dtype)
        return dy * slope                                   # eq. A4

    def config(self):
        return {"alpha": self.alpha}


class Sigmoid(_Elementwise):
    """y = 1 / (1 + e^(−x)), computed as ½(1 + tanh(x/2)): no overflow for any x."""

    def _forward(self, x):
        y = backend.xp.multiply(x, 0.5)                     # one new array, then in place:
        backend.xp.tanh(y, out=y)                           # eq. A5 (stable form)
        y += 1.0
        y *= 0.5
        self._cache = y
        return y

    def backward(self, dy):
        self._check_backward(dy)
        y = self._cache
        dx = 1.0 - y                                        # eq. A6: dy · y (1 − y)
        dx *= y
        dx *= dy
        return dx


class Tanh(_Elementwise):
    """y = tanh(x)."""

    def _forward(self, x):
        y = backend.xp.tanh(x)                              # eq. A7
        self._cache = y
        return y

    def backward(self, dy):
        self._check_backward(dy)
        y = self._cache
        dx = y * y                                          # eq. A8: dy · (1 − y²)
        backend.xp.subtract(1.0, dx, out=dx)
        dx *= dy
        return dx


class Identity(_Elementwise):
    """y = x (a placeholder, e.g. for a linear output)."""

    def _forward(self, x):
        self._cache = x
        return x

    def backward(self, dy):
        self._check_backward(dy)
        return dy
