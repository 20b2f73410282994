"""Layers that add randomness in train mode only: Dropout (and, later, GaussianNoise)."""
from __future__ import annotations

from .. import backend, init
from .base import Layer


class Dropout(Layer):
    """Inverted dropout: in train mode each value is zeroed with probability p and the
    survivors are scaled by 1/(1−p), so eval mode is the identity.

    y = x · m / (1 − p), m ~ Bernoulli(1 − p)   (eq. A9);  dx = dy · m / (1 − p)  (eq. A10)
    """

    def __init__(self, p: float = 0.5, seed=None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.seed = int(init.generator().integers(2**31)) if seed is None else seed
        self._rng = None
        self._mask = None

    def forward(self, x):
        self.check_dtype(x)
        if not self.training or self.p == 0.0:
            self._mask = 1.0
            return x
        if self._rng is None:
            self._rng = backend.default_rng(self.seed)
        keep = self._rng.random(x.shape, dtype=x.dtype) >= self.p
        self._mask = keep.astype(x.dtype) * (1.0 / (1.0 - self.p))   # (same as x)
        return x * self._mask                                         # eq. A9

    def backward(self, dy):
        self.check_forward_called(self._mask)
        return dy * self._mask                                        # eq. A10

    def config(self):
        return {"p": self.p, "seed": self.seed}
