"""Batch normalisation: BatchNorm1d for (N, C), BatchNorm2d for images (N, C, H, W).

Equations B1–B11 are derived in docs/math/batchnorm.md.

Each channel c is normalised over the m values it has in the batch (m = N for
BatchNorm1d, m = N·H·W for BatchNorm2d), then scaled by ``gamma[c]`` and shifted by
``beta[c]``. Train mode uses the batch's statistics and updates the running ones;
eval mode uses the running statistics, so the layer is then a fixed affine map.

Running statistics live in ``self.buffers`` under the names ``running_mean`` and
``running_var`` (saved and loaded with the model). Every update assigns a new array
to ``self.buffers[name]`` and the layer reads them from there on every pass, so a
model file loaded into the layer (``models.load_state_arrays``) takes effect at once.
"""
from __future__ import annotations

from .. import backend, init
from ..errors import ShapeError
from .base import Layer, format_shape


def _channel_sum(a):
    """Σ of ``a`` (N, C) or (N, C, H, W) over every axis but the channel axis 1 -> (C,)."""
    if a.ndim == 2:
        return a.sum(axis=0)
    n, c = a.shape[:2]
    ones = backend.xp.ones(a[0, 0].size, dtype=a.dtype)   # (HW,)
    return (a.reshape(n, c, -1) @ ones).sum(axis=0)     # N·C sums of HW values (a BLAS matrix-vector
                                                        # product: 3× faster than .sum(axis=(0, 2, 3)))


def _channel_dot(a, b):
    """Σ of a·b over every axis but the channel axis 1 -> (C,), without forming a·b for images."""
    if a.ndim == 2:
        return (a * b).sum(axis=0)
    n, c = a.shape[:2]
    rows = a.reshape(n, c, 1, -1)                       # (N, C, 1, HW)
    cols = b.reshape(n, c, -1, 1)                       # (N, C, HW, 1)
    return (rows @ cols).reshape(n, c).sum(axis=0)      # N·C dot products, then Σ over N


class _BatchNorm(Layer):
    """Shared by BatchNorm1d and BatchNorm2d; subclasses set ``_expected_rank``."""

    _expected_rank = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if not eps > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1], got {momentum!r}")
        self.num_features, self.eps, self.momentum = num_features, float(eps), float(momentum)
        self.add_param("gamma", backend.xp.ones((num_features,), dtype=backend.dtype()))
        self.add_param("beta", init.zeros((num_features,)))
        self.buffers["running_mean"] = backend.xp.zeros((num_features,), dtype=backend.dtype())
        self.buffers["running_var"] = backend.xp.ones((num_features,), dtype=backend.dtype())
        self._cache = None

    @property
    def _expected(self) -> tuple:
        """(N, C) or (N, C, H, W) with C = num_features."""
        return (None, self.num_features) + (None,) * (self._expected_rank - 2)

    def _per_channel(self, v):
        """(C,) -> (1, C) or (1, C, 1, 1), broadcasting against the input."""
        return v.reshape((1, self.num_features) + (1,) * (self._expected_rank - 2))

    def forward(self, x):                                   # x: (N, C) or (N, C, H, W)
        x = self.check_input(x, self._expected)
        for p in self.params.values():
            p.start_pass()
        if self.training:
            return self._forward_train(x)
        return self._forward_eval(x)

    def _forward_train(self, x):
        xp = backend.xp
        m = x.size // self.num_features                     # values per channel: N or N·H·W
        if m < 2:
            raise ShapeError(f"{self.label}: train mode needs more than one value per channel to compute a "
                             f"variance, got input of shape {tuple(x.shape)}; use eval mode for a single sample")
        mean = _channel_sum(x) / m                          # (C,)          eq. B1
        centred = x - self._per_channel(mean)               # (N, C, ...)   x − μ
        var = _channel_dot(centred, centred) / m            # (C,)          eq. B2 (biased)
        inv_std = 1.0 / xp.sqrt(var + self.eps)             # (C,)          eq. B3: 1/σ
        y = centred * self._per_channel(self.gamma.data * inv_std)   # (N, C, ...)  eqs. B3, B4: γ·x̂
        y += self._per_channel(self.beta.data)              #               eq. B4: γ·x̂ + β
        self._update_running(mean, var, m)
        # x̂ = (x − μ)/σ is not stored: backward folds 1/σ into per-channel factors (one pass less each way)
        self._cache = ("train", centred, None, inv_std, m)
        return y

    def _update_running(self, mean, var, m: int):
        """running ← (1 − momentum)·running + momentum·batch, with the unbiased variance (B5, B6)."""
        mom = self.momentum
        running_mean = self.buffers["running_mean"]
        running_var = self.buffers["running_var"]
        new_mean = (1.0 - mom) * running_mean + mom * mean                  # (C,)  eq. B5
        new_var = (1.0 - mom) * running_var + mom * (var * (m / (m - 1)))   # (C,)  eq. B6
        self.buffers["running_mean"] = new_mean.astype(running_mean.dtype, copy=False)
        self.buffers["running_var"] = new_var.astype(running_var.dtype, copy=False)

    def _forward_eval(self, x):
        xp = backend.xp
        mean = self.buffers["running_mean"]                 # (C,)
        inv_std = 1.0 / xp.sqrt(self.buffers["running_var"] + self.eps)   # (C,)  eq. B10
        scale = self.gamma.data * inv_std                   # (C,)          γ/σ
        shift = self.beta.data - mean * scale               # (C,)          β − μγ/σ
        y = x * self._per_channel(scale)                    # (N, C, ...)   eq. B10: γ(x − μ)/σ + β
        y += self._per_channel(shift)
        self._cache = ("eval", x, mean, inv_std, x.size // self.num_features)
        return y

    def backward(self, dy, input_grad: bool = True):        # dy: shape of x
        self.check_forward_called(self._cache)
        mode, saved, mean, inv_std, m = self._cache
        self.check_grad(dy, saved.shape)
        centred = saved if mode == "train" else saved - self._per_channel(mean)   # (N, C, ...)  x − μ
        dbeta = _channel_sum(dy)                            # (C,)          eq. B9: Σ dy
        dgamma = _channel_dot(dy, centred) * inv_std        # (C,)          eq. B8: Σ dy·x̂
        self.gamma.accumulate(dgamma)
        self.beta.accumulate(dbeta)
        if not input_grad:
            return None
        scale = self.gamma.data * inv_std                   # (C,)          γ/σ
        dx = dy * self._per_channel(scale)                  # (N, C, ...)   eq. B11 (eval mode: this is all)
        if mode == "train":
            # eq. B7: dx = γ/(mσ)·(m·dy − Σdy − x̂·Σ(dy·x̂)) = (γ/σ)·dy − (γ/σ)/m·(dβ + x̂·dγ), x̂ = (x − μ)/σ
            correction = centred * self._per_channel(scale * inv_std * dgamma / m)   # (N, C, ...)
            correction += self._per_channel(scale * dbeta / m)
            dx -= correction
        return dx

    def output_shape(self, input_shape):
        expected = self._expected
        if len(input_shape) != len(expected) or input_shape[1] not in (None, self.num_features):
            raise ShapeError(f"{self.label}: expected input of shape {format_shape(expected)}, "
                             f"got {format_shape(input_shape)}"
                             + self._shape_hint(expected, tuple(input_shape)))
        return tuple(input_shape)

    def config(self):
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum}


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of features: x (N, C) -> y (N, C), statistics over the batch axis.

    Parameters
    ----------
    num_features : int         C
    eps : float                added to the variance (default 1e-5, as PyTorch)
    momentum : float           weight of the new batch in the running statistics (default 0.1)

    Parameters ``gamma`` (C,) = 1 and ``beta`` (C,) = 0; buffers ``running_mean`` (C,) = 0
    and ``running_var`` (C,) = 1.

    Notes
    -----
    train: y = γ·(x − μ_B)/sqrt(σ²_B + eps) + β, μ_B and σ²_B (biased) over the batch   (eqs. B1–B4)
    eval:  y = γ·(x − running_mean)/sqrt(running_var + eps) + β                        (eq. B10)
    """

    _expected_rank = 2


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of image channels: x (N, C, H, W) -> y (N, C, H, W),
    statistics of each channel over the batch and all pixels (m = N·H·W values).

    Parameters, buffers and equations as ``BatchNorm1d``.
    """

    _expected_rank = 4
