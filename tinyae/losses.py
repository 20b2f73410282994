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

    takes_labels = False        # True for a classification loss: its targets are class indices

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
        base = {MSE: "mse", BCE: "bce", BCEWithLogits: "bce_with_logits",
                SoftmaxCrossEntropy: "softmax_cross_entropy"}[type(self)]
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


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of a softmax over K classes, from logits, with its fused gradient (eqs. L8–L10).

    pred: logits z (N, K); target: class indices (N,) (integers 0..K−1) or one-hot / class
    probabilities (N, K). The loss is the mean over the N samples of −log softmax(z)[label],
    in nats per sample:

        log softmax(z)_k = z_k − m − log Σ_j exp(z_j − m),  m = max_j z_j     (eq. L8, no overflow)
        L = −(1/N) Σ_n Σ_k t_nk log softmax(z_n)_k                            (eq. L9)
        dL/dz = (softmax(z) − t) / N                                          (eq. L10)

    The softmax and the log are never formed apart (a logit of 1000 is fine). There is no
    per-pixel/per-image choice: a sample's loss is one number.
    """

    takes_labels = True

    def __init__(self, reduction: str = "mean"):
        if reduction != "mean":
            raise ValueError("SoftmaxCrossEntropy: the loss of a sample is one number; its only reduction is 'mean'")
        super().__init__(reduction)

    @property
    def units(self) -> str:
        return "per sample"

    def _targets(self, pred, target):
        xp = backend.get_array_module(pred)
        if getattr(pred, "ndim", 0) != 2:
            raise ShapeError(f"{self.label}: expected logits of shape (N, K), got {getattr(pred, 'shape', None)}")
        n, k = pred.shape
        shape = getattr(target, "shape", None)
        if shape == (n,):
            if target.dtype.kind == "f" and not bool(xp.all(target == xp.floor(target))):
                raise ShapeError(f"{self.label}: class labels must be whole numbers, got fractional values")
            labels = target.astype(xp.int64)
            lo, hi = int(labels.min()), int(labels.max())
            if lo < 0 or hi >= k:
                raise ShapeError(f"{self.label}: class labels must be in 0..{k - 1} for {k} logits, got {lo}..{hi}")
            one_hot = xp.zeros((n, k), dtype=pred.dtype)
            one_hot[xp.arange(n), labels] = 1.0
            return one_hot
        if shape == (n, k):
            return target.astype(pred.dtype, copy=False)
        raise ShapeError(f"{self.label}: targets must be labels of shape ({n},) or one-hot ({n}, {k}), got {shape}")

    def forward(self, pred, target) -> float:
        xp = backend.get_array_module(pred)
        t = self._targets(pred, target)
        shifted = pred - pred.max(axis=1, keepdims=True)
        log_norm = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        log_p = shifted - log_norm                                          # eq. L8
        self._pred, self._target, self._log_p = pred, t, log_p
        return (0.0 - float((t * log_p).sum())) / pred.shape[0]             # eq. L9 (0.0 − …: never −0.0)

    def backward(self):
        self._check_backward()
        xp = backend.get_array_module(self._log_p)
        return (xp.exp(self._log_p) - self._target) / self._pred.shape[0]   # eq. L10

    def config(self):
        return {}


LOSSES = {"mse": MSE, "bce": BCE, "bce_with_logits": BCEWithLogits, "softmax_cross_entropy": SoftmaxCrossEntropy}


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
        known = sorted(LOSSES) + sorted(f"{k}_per_image" for k in ("mse", "bce", "bce_with_logits"))
        raise ValueError(f"unknown loss {name_or_loss!r}: choose one of {known}") from None
