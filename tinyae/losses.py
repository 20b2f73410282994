"""Losses: ``forward(pred, target)`` -> float, ``backward()`` -> dL/dpred.

Two reductions, named by ``reduction`` and stated by ``units``:

* ``"mean"`` (the default, as Keras and PyTorch do by default): the mean over every
  element, so the loss of a batch of N images of D pixels is a **per-pixel** figure;
* ``"per_sample"``: summed over each sample's elements, then averaged over the N
  samples, a **per-image** figure (the VAE's objective: BCE in nats per image, to which
  the KL term, also per image, is added on the same scale).

The two differ by the factor D (784 for MNIST), in the value and in the gradient:
dL/dpred is divided by n = N·D for "mean" and by N for "per_sample". Equations L1–L6
are derived in docs/math/dense.md; the per-sample form is eq. L7 there.
"""
from __future__ import annotations

from . import backend
from .errors import ShapeError


REDUCTIONS = ("mean", "per_sample")


class Loss:
    """Base class: shape checks, the reduction, and the cache of the last forward."""

    def __init__(self, reduction: str = "mean"):
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self.label = type(self).__name__
        self._pred = None
        self._target = None

    @property
    def units(self) -> str:
        """"per pixel" (a mean over every element) or "per image" (a sum over each sample, averaged)."""
        return "per pixel" if self.reduction == "mean" else "per image"

    @property
    def name(self) -> str:
        """The name ``get`` builds this loss from ("mse", "bce_per_image", ...)."""
        base = {MSE: "mse", BCE: "bce", BCEWithLogits: "bce_with_logits"}[type(self)]
        return base if self.reduction == "mean" else f"{base}_per_image"

    def _count(self, pred) -> int:
        """The divisor of the sum: every element (eq. L1) or the number of samples (eq. L7)."""
        return pred.size if self.reduction == "mean" else pred.shape[0]

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
        return {"reduction": self.reduction}


class MSE(Loss):
    """L = (1/n) Σ (pred − target)², n = number of elements (eq. L1); dL/dpred = (2/n)(pred − target) (eq. L2).

    With ``reduction="per_sample"``, n is the number of samples N (eq. L7): the squared
    error summed over each image's pixels, averaged over the images.
    """

    def forward(self, pred, target) -> float:
        target = self._check(pred, target)
        self._diff = pred - target
        flat = self._diff.reshape(-1)
        return float(backend.xp.dot(flat, flat)) / self._count(pred)   # eq. L1 (L7)

    def backward(self):
        self._check_backward()
        return self._diff * (2.0 / self._count(self._diff))           # eq. L2 (L7)


class BCE(Loss):
    """Binary cross-entropy on probabilities, p clipped to [eps, 1 − eps] (eq. L3, L4).

    L = −(1/n) Σ [t log p + (1 − t) log(1 − p)]. Where p is clipped the gradient is 0,
    as it is for the clipped function. Prefer BCEWithLogits after a linear layer.
    ``reduction="per_sample"``: n is the number of samples (eq. L7), the figure in nats
    per image.
    """

    def __init__(self, eps: float = 1e-7, reduction: str = "mean"):
        super().__init__(reduction)
        self.eps = eps

    def forward(self, pred, target) -> float:
        xp = backend.xp
        target = self._check(pred, target)
        p = xp.clip(pred, self.eps, 1.0 - self.eps)
        self._p = p
        loss = target * xp.log(p) + (1.0 - target) * xp.log1p(-p)      # eq. L3
        return -float(loss.sum()) / self._count(pred)                   # eq. L3 (L7)

    def backward(self):
        self._check_backward()
        p, t = self._p, self._target
        inside = (self._pred > self.eps) & (self._pred < 1.0 - self.eps)
        return (p - t) / (p * (1.0 - p)) * inside / self._count(p)      # eq. L4 (L7)

    def config(self):
        return {"eps": self.eps, "reduction": self.reduction}


class BCEWithLogits(Loss):
    """Binary cross-entropy on logits z, in the stable form (eq. L5, L6):

    L = (1/n) Σ [max(z, 0) − z t + log(1 + e^(−|z|))];  dL/dz = (σ(z) − t) / n.
    """

    def forward(self, pred, target) -> float:
        xp = backend.xp
        target = self._check(pred, target)
        z = pred
        loss = xp.maximum(z, 0) - z * target + xp.log1p(xp.exp(-xp.abs(z)))   # eq. L5
        return float(loss.sum()) / self._count(pred)                           # eq. L5 (L7)

    def backward(self):
        self._check_backward()
        xp = backend.xp
        sigma = 0.5 * (1.0 + xp.tanh(0.5 * self._pred))
        return (sigma - self._target) / self._count(self._pred)       # eq. L6 (L7)


LOSSES = {"mse": MSE, "bce": BCE, "bce_with_logits": BCEWithLogits}


def get(name_or_loss) -> Loss:
    """A Loss from its name or a Loss itself.

    Names: "mse", "bce", "bce_with_logits" (means per pixel), and the same with
    "_per_image" ("bce_per_image": summed over each image's pixels, averaged over images).
    """
    if isinstance(name_or_loss, Loss):
        return name_or_loss
    name = name_or_loss
    reduction = "mean"
    if isinstance(name, str) and name.endswith("_per_image"):
        name, reduction = name[:-len("_per_image")], "per_sample"
    try:
        return LOSSES[name](reduction=reduction)
    except (KeyError, TypeError):
        known = sorted(LOSSES) + sorted(f"{k}_per_image" for k in LOSSES)
        raise ValueError(f"unknown loss {name_or_loss!r}: choose one of {known}") from None
