"""Layers that add randomness in train mode only: Dropout and GaussianNoise.

Equations A9–A10 are derived in docs/math/dense.md, G1–G2 in docs/math/batchnorm.md.
"""
from __future__ import annotations

import numbers

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


class GaussianNoise(Layer):
    """Additive Gaussian noise (the corruption of a denoising autoencoder), in train mode only.

    train: y = x + std·ε, ε ~ N(0, 1) drawn afresh for every forward   (eq. G1)
    eval:  y = x
    dx = dy in both modes: the noise does not depend on x              (eq. G2)

    x: any shape -> y: the same shape. Random numbers come from
    ``tinyae.backend.default_rng(seed)`` (the active backend's generator), made on the
    first forward, so a seed gives the same sequence of noise on every run.
    """

    def __init__(self, std: float, seed=None):
        super().__init__()
        if isinstance(std, bool) or not isinstance(std, numbers.Real) or not std >= 0:
            raise ValueError(f"GaussianNoise: std must be a number ≥ 0, got {std!r}")
        self.std = float(std)
        self.seed = int(init.generator().integers(2**31)) if seed is None else seed
        self._rng = None
        self._shape = None

    def forward(self, x):                                    # x: any shape
        x = self.check_dtype(x)
        self._shape = x.shape
        if not self.training or self.std == 0.0:
            return x
        if self._rng is None:
            self._rng = backend.default_rng(self.seed)
        noise = self._rng.standard_normal(x.shape, dtype=x.dtype)    # ε, same shape as x
        noise *= self.std
        return x + noise                                             # eq. G1

    def backward(self, dy):                                  # dy: shape of x
        self.check_forward_called(self._shape)
        self.check_grad(dy, self._shape)
        return dy                                                    # eq. G2 (not modified, not copied)

    def config(self):
        return {"std": self.std, "seed": self.seed}
