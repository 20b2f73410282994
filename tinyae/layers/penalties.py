"""Penalties: layers that pass their input on unchanged and add a term to the objective.

Keras calls such a term an activity regulariser (``add_loss``). Without autograd the
layer that owns the term also owns its gradient: ``forward`` sets ``self.penalty`` (a
float, the term for this batch) and ``backward`` returns dy plus the term's gradient
with respect to the layer's input. Containers sum the penalties of their layers; ``fit``
minimises data term + penalties and reports the two apart (see tinyae/history.py).

Equations R1–R5 are derived in docs/math/penalties.md.
"""
from __future__ import annotations

import numbers

from .. import backend
from ..errors import DataError
from .base import Layer


def _positive(value, what: str, layer: str, upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0 \
            or (upper is not None and not value < upper):
        bound = f" and below {upper}" if upper is not None else ""
        raise ValueError(f"{layer}: {what} must be a number ≥ 0{bound}, got {value!r}")
    return float(value)


class ActivityL1(Layer):
    """Identity on the way forward; adds λ·Σ|h| / N to the objective (Keras's ``activity_regularizer=l1(λ)``).

    h: (N, k) or any (N, ...) -> the same array. ``weight`` is λ.
    ``reduction="batch_mean"`` (the default) divides the sum over the batch by the batch
    size N, as tf.keras 2 does for a layer's activity regulariser ("Make activity
    regularization strength batch-agnostic") and as Keras 1, where the Keras blog's sparse
    autoencoder was written, did (``l1 · sum(mean(|h|, axis=0))``). ``reduction="sum"``
    is Keras 3's rule: λ·Σ|h| over the whole batch, which grows with the batch size.

    Notes
    -----
    penalty = (λ / N) Σ_{n,j} |h_nj|                    (eq. R1)
    dx = dy + (λ / N) · sign(h)   (sign(0) = 0)          (eq. R2)
    """

    def __init__(self, weight: float, reduction: str = "batch_mean"):
        super().__init__()
        self.weight = _positive(weight, "weight", "ActivityL1")
        if reduction not in ("batch_mean", "sum"):
            raise ValueError(f"ActivityL1: reduction must be 'batch_mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self._h = None

    def _scale(self, h) -> float:
        return self.weight / h.shape[0] if self.reduction == "batch_mean" else self.weight

    def forward(self, h):                                   # h: (N, ...)
        h = self.check_dtype(h)
        self._h = h
        xp = backend.get_array_module(h)
        self.penalty = self._scale(h) * float(xp.abs(h).sum())             # eq. R1
        return h

    def backward(self, dy):                                 # dy: shape of h, never modified in place
        self.check_forward_called(self._h)
        self.check_grad(dy, self._h.shape)
        xp = backend.get_array_module(dy)
        return dy + self._scale(self._h) * xp.sign(self._h)               # eq. R2

    def config(self):
        return {"weight": self.weight, "reduction": self.reduction}


class KLSparsity(Layer):
    """Identity on the way forward; adds β·Σ_j KL(ρ ‖ ρ̂_j) to the objective (Ng's sparse autoencoder).

    h: (N, k) activations in [0, 1] (a sigmoid code) -> the same array. ρ̂_j is unit j's
    mean activation over the batch; ``target`` is ρ, ``weight`` is β. The term is a
    function of the batch means, so it is not divided by N again: it is the same figure
    for any batch size. Values outside [0, 1] raise DataError (the KL of a Bernoulli mean
    needs probabilities: put a Sigmoid before this layer). ρ̂ is kept inside
    [1e-6, 1 − 1e-6] so that a unit that is exactly 0 or 1 on every sample gives a
    large but finite term; where it is clipped, the gradient is that of the clipped
    function, 0.

    Notes
    -----
    ρ̂_j = (1/N) Σ_n h_nj                                              (eq. R3)
    penalty = β Σ_j [ρ log(ρ/ρ̂_j) + (1 − ρ) log((1 − ρ)/(1 − ρ̂_j))]   (eq. R4)
    dx_nj = dy_nj + (β/N) [−ρ/ρ̂_j + (1 − ρ)/(1 − ρ̂_j)]                 (eq. R5)
    """

    EPS = 1e-6

    def __init__(self, target: float = 0.05, weight: float = 3.0):
        super().__init__()
        self.weight = _positive(weight, "weight", "KLSparsity")
        self.target = _positive(target, "target", "KLSparsity", upper=1.0)
        if self.target == 0.0:
            raise ValueError("KLSparsity: target must be above 0 (a mean activation of exactly 0 has no KL)")
        self._h = None

    def forward(self, h):                                   # h: (N, k)
        h = self.check_dtype(h)
        xp = backend.get_array_module(h)
        lo, hi = float(h.min()), float(h.max())
        if lo < 0.0 or hi > 1.0:
            raise DataError(f"{self.label}: expected activations in [0, 1] (a sigmoid code), got values in "
                            f"[{lo:g}, {hi:g}]; put a Sigmoid before KLSparsity, or use ActivityL1 for other codes")
        rho = self.target
        mean = h.mean(axis=0)                                                  # (k,)   eq. R3
        rho_hat = xp.clip(mean, self.EPS, 1.0 - self.EPS)
        self._h, self._rho_hat = h, rho_hat
        self._inside = (mean > self.EPS) & (mean < 1.0 - self.EPS)
        kl = rho * xp.log(rho / rho_hat) + (1.0 - rho) * xp.log((1.0 - rho) / (1.0 - rho_hat))
        self.penalty = self.weight * float(kl.sum())                           # eq. R4
        return h

    def backward(self, dy):                                 # dy: (N, k), never modified in place
        self.check_forward_called(self._h)
        self.check_grad(dy, self._h.shape)
        rho, rho_hat = self.target, self._rho_hat
        per_unit = (self.weight / self._h.shape[0]) * (-rho / rho_hat + (1.0 - rho) / (1.0 - rho_hat))  # (k,)
        per_unit *= self._inside
        return dy + per_unit.astype(dy.dtype)                                  # eq. R5

    def config(self):
        return {"target": self.target, "weight": self.weight}
