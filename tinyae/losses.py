"""Losses: ``forward(pred, target)`` -> float, ``backward()`` -> dL/dpred.

All are means over every element (as Keras and PyTorch do by default): the loss of a
batch of N images of D pixels is a per-pixel figure. Equations L1–L6 are derived in
docs/math/dense.md.
"""
from __future__ import annotations

from . import backend
from .errors import ShapeError


class Loss:
    """Base class: shape checks and the cache of the last forward."""

    def __init__(self):
        self.label = type(self).__name__
        self._pred = None
        self._target = None

    def __call__(self, pred, target) -> float:
        return self.forward(pred, target)

    def _check(self, pred, target):
        if getattr(pred, "shape", None) != getattr(target, "shape", None):
            raise ShapeError(f"{self.label}: prediction and target must have the same shape, "
                             f"got prediction {getattr(pred, 'shape', None)} and target {getattr(target, 'shape', None)}")
        if pred.dtype != target.dtype:
            target = target.astype(pred.dtype)
        self._pred, self._target = pred, target
        return target

    def _check_backward(self):
        if self._pred is None:
            raise RuntimeError(f"{self.label}: backward called before forward")

    def config(self) -> dict:
        return {}


class MSE(Loss):
    """L = (1/n) Σ (pred − target)², n = number of elements (eq. L1); dL/dpred = (2/n)(pred − target) (eq. L2)."""

    def forward(self, pred, target) -> float:
        target = self._check(pred, target)
        self._diff = pred - target
        flat = self._diff.reshape(-1)
        return float(backend.xp.dot(flat, flat)) / flat.size          # eq. L1

    def backward(self):
        self._check_backward()
        return self._diff * (2.0 / self._diff.size)                    # eq. L2


class BCE(Loss):
    """Binary cross-entropy on probabilities, p clipped to [eps, 1 − eps] (eq. L3, L4).

    L = −(1/n) Σ [t log p + (1 − t) log(1 − p)]. Where p is clipped the gradient is 0,
    as it is for the clipped function. Prefer BCEWithLogits after a linear layer.
    """

    def __init__(self, eps: float = 1e-7):
        super().__init__()
        self.eps = eps

    def forward(self, pred, target) -> float:
        xp = backend.xp
        target = self._check(pred, target)
        p = xp.clip(pred, self.eps, 1.0 - self.eps)
        self._p = p
        loss = target * xp.log(p) + (1.0 - target) * xp.log1p(-p)      # eq. L3
        return -float(loss.mean())

    def backward(self):
        self._check_backward()
        p, t = self._p, self._target
        inside = (self._pred > self.eps) & (self._pred < 1.0 - self.eps)
        return (p - t) / (p * (1.0 - p)) * inside / p.size              # eq. L4

    def config(self):
        return {"eps": self.eps}


class BCEWithLogits(Loss):
    """Binary cross-entropy on logits z, in the stable form (eq. L5, L6):

    L = (1/n) Σ [max(z, 0) − z t + log(1 + e^(−|z|))];  dL/dz = (σ(z) − t) / n.
    """

    def forward(self, pred, target) -> float:
        xp = backend.xp
        target = self._check(pred, target)
        z = pred
        loss = xp.maximum(z, 0) - z * target + xp.log1p(xp.exp(-xp.abs(z)))   # eq. L5
        return float(loss.mean())

    def backward(self):
        self._check_backward()
        xp = backend.xp
        sigma = 0.5 * (1.0 + xp.tanh(0.5 * self._pred))
        return (sigma - self._target) / self._pred.size                # eq. L6


LOSSES = {"mse": MSE, "bce": BCE, "bce_with_logits": BCEWithLogits}


def get(name_or_loss) -> Loss:
    """A Loss from its name ("mse", "bce", "bce_with_logits") or a Loss itself."""
    if isinstance(name_or_loss, Loss):
        return name_or_loss
    try:
        return LOSSES[name_or_loss]()
    except KeyError:
        raise ValueError(f"unknown loss {name_or_loss!r}: choose one of {sorted(LOSSES)}") from None
