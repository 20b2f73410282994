"""Quantize: the code of a learned codec rounded to a grid, and the rate (bits) it owns as its penalty.

A learned image codec (Ballé, Laparra & Simoncelli 2017, "End-to-end optimized image
compression") quantises its code y = encoder(x) to ŷ = Δ·round(y/Δ) and codes the integers
round(y/Δ) with an entropy coder driven by a learned probability model. Rounding has a zero
gradient almost everywhere, so in training the layer adds uniform noise instead,
ỹ = y + u, u ~ U(−Δ/2, Δ/2): the density of ỹ under the model is the probability of the
rounded value, so the same formula gives the training rate and the coding rate.

The probability model is factorised: each code dimension d has its own CDF c_d, a mixture
of K logistics with learnable locations μ_dk, log-scales s_dk and mixture logits α_dk, and

    P_d(v) = c_d(v + Δ/2) − c_d(v − Δ/2),       rate of an image = −Σ_d log₂ P_d(ŷ_d)  bits.

A feature map (N, C, H, W) has one density per channel, shared by all H·W positions (as in
Ballé et al.), and an image's rate sums over all C·H·W entries (eq. U11).

Its penalty is weight · (the batch mean of the bits per image); ``weight`` (λ) is therefore
in the data term's units per bit, and the objective is D + λ·R (Ballé's λ sits on D; the
ratio is the same trade-off). Without the λ·R term the encoder simply scales its code up to
beat the noise.

Equations U1–U12 are derived in docs/math/rate.md.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend, init
from ..errors import DTypeError, ShapeError
from .base import Layer, format_shape

LN2 = math.log(2.0)


def _softplus(z, xp):
    return xp.logaddexp(0.0, z)                             # log(1 + e^z), no overflow


def _sigmoid(z, xp):
    return xp.exp(-_softplus(-z, xp))                       # full relative precision in both tails


def _logsumexp(z, axis, xp):
    top = z.max(axis=axis, keepdims=True)
    return (top + xp.log(xp.exp(z - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def per_channel(p, ndim: int):
    """A (D, K) parameter shaped to broadcast against values (M, D, *S, K) of ``ndim`` = 2 + len(S) axes.

    (M, D): p as it is. (M, C, H, W): p viewed as (C, 1, 1, K), one density shared over the positions (eq. U11).
    """
    return p.reshape(p.shape[0], *(1,) * (ndim - 2), p.shape[1])


def log_probability(v, loc, log_scale, logits, step, xp):
    """log P_d(v) of values ``v`` (M, D) or (M, C, H, W) on the grid's cells, and the pieces backward needs.

    loc, log_scale (already clamped), logits: (D, K), D = C for a feature map (axis 1). No floor here
    (the layer floors it). The pieces t, w, log_pi come shaped by ``per_channel``; the others as v plus K.
    """
    loc, log_scale, logits = (per_channel(p, v.ndim) for p in (loc, log_scale, logits))
    t = xp.exp(-log_scale)                                  # (D, K)     1 / scale   ((C, 1, 1, K) for maps)
    centred = v[..., None] - loc                            # (M, D, K)  ((M, C, H, W, K) for maps)
    a = (centred - 0.5 * step) * t                          # (M, D, K)  eq. U5, the cell's lower edge
    b = (centred + 0.5 * step) * t                          # (M, D, K)  eq. U5, the cell's upper edge
    w = step * t                                            # (D, K)     b − a, computed without cancelling
    ell = -_softplus(-b, xp) - _softplus(a, xp) + xp.log(-xp.expm1(-w))    # log(σ(b) − σ(a))   eq. U5
    log_pi = logits - _logsumexp(logits, -1, xp)[..., None]  # (D, K)   log softmax(α)
    z = log_pi + ell                                        # (M, D, K)
    log_p = _logsumexp(z, -1, xp)                           # (M, D)     eq. U5
    return log_p, (t, a, b, w, z, log_pi)


class Quantize(Layer):
    """y (N, D) -> ỹ (N, D): y + uniform noise in train mode, Δ·round(y/Δ) in eval mode; penalty: λ·bits.

    Also y (N, C, H, W) -> ỹ (N, C, H, W), a feature map: one density per channel (axis 1), shared by
    all H·W positions, code_size = C; an image's rate is the sum over its C·H·W entries and the shared
    parameters' gradients sum over the positions (eqs. U11, U12). Nothing is copied to lay the map out:
    the density broadcasts the (C, K) parameters as (C, 1, 1, K), and the outputs keep y's memory order
    (a batch-last convolution's output stays batch-last). (N, D) is the case H = W = 1, computed as before.

    code_size: D, the code's dimensions (each has its own density), or C, a feature map's channels. step: Δ > 0.
    weight: λ ≥ 0, per bit (the penalty is λ · mean over the batch of the bits per image).
    components: K, the logistics in each dimension's mixture (1: a single logistic).
    seed: of the noise generator, ``tinyae.backend.default_rng(seed)`` (the active backend's,
    made at the first forward; checkpoints save its state), like GaussianSample's.

    Parameters, each (D, K): ``loc`` (μ), ``log_scale`` (s, natural log of the logistic's scale)
    and ``logits`` (α, the mixture weights π = softmax(α) per dimension). Initially the
    locations are spread over [−1, 1], the scales 1 and the weights equal.

    train mode: ỹ = y + u, u ~ U(−Δ/2, Δ/2), a fresh draw each batch (eq. U3); dx = dy + the
    rate's gradient (the noise is a constant of the pass).
    eval mode: ŷ = Δ·rint(y/Δ) (halves to even, eq. U10). **backward in eval mode is the
    straight-through identity**: dx = dy + the rate's gradient at ŷ, as if ŷ were y (the true
    gradient of rounding is 0 almost everywhere). The parameters' gradients are exact in both
    modes.

    The rate is computed in both modes, at ỹ in train mode and at ŷ in eval mode (so
    ``evaluate`` reports the estimated bits of the rounded code). ``rate`` holds the last
    forward's bits per image (batch mean); ``penalty`` = weight · rate.

    Stability: log(σ(b) − σ(a)) is evaluated as −softplus(−b) − softplus(a) + log(1 − e^{−(b−a)})
    (eq. U5), finite for any finite input. P is floored at ``FLOOR`` = 1e-9 (at most 29.9 bits per
    dimension): where log P < log 1e-9 the rate is that constant and its gradient is 0, for the
    input and the parameters (the floored function's gradient); ``floored`` counts those
    entries in the last forward. s is clamped to ±``LOG_SCALE_LIMIT`` (30) where it is used, with
    the clamped function's zero gradient.

    For the entropy coder: ``pmf(lo, hi)`` (D, M) (the unfloored model probabilities of symbols lo..hi,
    one row per dimension or channel), ``symbols(y)`` (the integers round(y/Δ), of y's shape),
    ``dequantize(q)`` (q·Δ, of q's shape) and ``bits(y)`` (N,) (the floored estimate per image).

    Notes
    -----
    P_d(v) = Σ_k π_dk [σ(b_dk) − σ(a_dk)],  a, b = (v ∓ Δ/2 − μ_dk) e^{−s_dk}     (eqs. U2, U5)
    penalty = λ · (1/N) Σ_n R_n,  R_n = −Σ_d log₂ P_d(ỹ_nd)                        (eq. U4)
    dx = dy − λ/(N ln 2) Σ_k r_k e^{−s_k} (σ(−b_k) − σ(a_k))                     (eq. U6)
    dμ_k = +λ/(N ln 2) Σ_n r_k e^{−s_k} (σ(−b_k) − σ(a_k))                       (eq. U7)
    ds_k = −λ/(N ln 2) Σ_n r_k (a_k σ(a_k) − b_k σ(−b_k) − w_k/(e^{w_k} − 1))      (eq. U8)
    dα_k = −λ/(N ln 2) Σ_n (r_k − π_k)                                           (eq. U9)
    r_k = π_k (σ(b_k) − σ(a_k)) / P: the responsibilities; w_k = b_k − a_k = Δ e^{−s_k};
    the sums over n leave out the floored entries (their rate is a constant). For a feature map,
    d is the channel c, R_n sums over c and the positions (i, j), and so do the sums over n:
    R_n = −Σ_{c,i,j} log₂ P_c(ỹ_ncij)                                             (eq. U11)
    dθ_ck = Σ_{n,i,j} (the entry (n, c, i, j)'s term of U7–U9), θ ∈ {μ, s, α}       (eq. U12)
    """

    FLOOR = 1e-9
    LOG_SCALE_LIMIT = 30.0

    def __init__(self, code_size: int, step: float = 1.0, weight: float = 0.01, components: int = 3, seed=None):
        super().__init__()
        for name, value in (("code_size", code_size), ("components", components)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"Quantize: {name} must be a positive int, got {value!r}")
        if isinstance(step, bool) or not isinstance(step, numbers.Real) or not 0 < step < math.inf:
            raise ValueError(f"Quantize: step must be a finite number above 0, got {step!r}")
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not 0 <= weight < math.inf:
            raise ValueError(f"Quantize: weight must be a finite number ≥ 0 (per bit), got {weight!r}")
        self.code_size, self.components = int(code_size), int(components)
        self.step, self.weight = float(step), float(weight)
        self.seed = int(init.generator().integers(2**31)) if seed is None else seed
        d, k = self.code_size, self.components
        spread = np.linspace(-1.0, 1.0, k) if k > 1 else np.zeros(1)
        self.add_param("loc", backend.asarray(np.tile(spread, (d, 1)), dtype=backend.dtype()))     # (D, K)
        self.add_param("log_scale", init.zeros((d, k)))                                              # (D, K)
        self.add_param("logits", init.zeros((d, k)))                                                 # (D, K)
        self.rate = 0.0
        self.floored = 0
        self._rng = None
        self._cache = None

    # --- the boundary ---------------------------------------------------------------------------
    def _check_code(self, y, what: str = "input"):
        """A code (N, D) or a feature map (N, C, H, W) with D = C = code_size, dtype rule applied."""
        ndim = getattr(y, "ndim", None)
        if ndim is not None and ndim not in (2, 4):
            raise ShapeError(f"{self.label}: expected {what} of shape {format_shape((None, self.code_size))} or a "
                             f"feature map {format_shape((None, self.code_size, None, None))}, got {tuple(y.shape)}")
        return self.check_input(y, (None, self.code_size) + (None, None) * (ndim == 4))

    # --- the density --------------------------------------------------------------------------
    def _clamped_log_scale(self, xp):
        limit = self.LOG_SCALE_LIMIT
        s = self.log_scale.data
        return xp.clip(s, -limit, limit), xp.abs(s) < limit

    def _floored_log_p(self, v, xp):
        """(log P floored, log P, pieces, kept, inside) for values ``v`` (N, D) or (N, C, H, W)."""
        s, inside = self._clamped_log_scale(xp)
        log_p, pieces = log_probability(v, self.loc.data, s, self.logits.data, self.step, xp)
        log_floor = math.log(self.FLOOR)
        kept = ~(log_p <= log_floor)                          # eq. U5, the floor (NaN is kept: it must show)
        return xp.where(kept, log_p, log_floor), log_p, pieces, kept, inside

    # --- forward, then backward -----------------------------------------------------------------
    def forward(self, y):                                   # y: (N, D) or (N, C, H, W), the encoder's code
        y = self._check_code(y)
        xp = backend.get_array_module(y)
        for p in self.params.values():
            p.start_pass()
        if self.training:
            if self._rng is None:
                self._rng = backend.default_rng(self.seed)
            u = (self._rng.random(y.shape, dtype=y.dtype) - 0.5) * self.step    # (N, D)  eq. U3, drawn in index order
            y_hat = xp.add(y, u, out=xp.empty_like(y))                           # (N, D)  eq. U3, in y's memory order
        else:
            y_hat = self.step * xp.rint(y / self.step)                           # (N, D)  eq. U10
        log_p_floored, log_p, pieces, kept, inside = self._floored_log_p(y_hat, xp)   # (N, D)  eqs. U2, U5
        n = y.shape[0]
        self.floored = int(kept.size - int(kept.sum()))
        self.rate = -float(log_p_floored.sum()) / (LN2 * n)                      # bits per image   eqs. U4, U11
        self.penalty = self.weight * self.rate                                   #                  eq. U4
        self._cache = (log_p, pieces, kept, inside)
        return y_hat

    def backward(self, dy, input_grad: bool = True):        # dy: (N, D) or (N, C, H, W), never modified in place
        self.check_forward_called(self._cache)
        log_p, (t, a, b, w, z, log_pi), kept, inside = self._cache
        self.check_grad(dy, log_p.shape)
        xp = backend.get_array_module(dy)
        n = log_p.shape[0]
        over = (0, *range(2, log_p.ndim))                                        # the images and the positions  eq. U12
        g = kept.astype(log_p.dtype) * (-self.weight / (LN2 * n))                # (N, D)  ∂J/∂log P (0 where floored)  eq. U4
        r = xp.exp(z - log_p[..., None])                                         # (N, D, K) responsibilities r_k
        gr = g[..., None] * r                                                    # (N, D, K) ∂J/∂ℓ_k
        sig_a, sig_neg_b = _sigmoid(a, xp), _sigmoid(-b, xp)                     # (N, D, K)
        slope = gr * t * (sig_neg_b - sig_a)                                     # (N, D, K) ∂J/∂ỹ per component
        ratio = w * xp.exp(-w) / -xp.expm1(-w)                                   # (D, K)  w / (e^w − 1)
        pi = xp.exp(log_pi).reshape(self.code_size, self.components)             # (D, K)
        self.loc.accumulate(-slope.sum(axis=over))                               # (D, K)  eqs. U7, U12
        self.log_scale.accumulate((gr * (a * sig_a - b * sig_neg_b - ratio)).sum(axis=over) * inside)  # eqs. U8, U12
        self.logits.accumulate(gr.sum(axis=over) - g.sum(axis=over)[:, None] * pi)                     # eqs. U9, U12
        if not input_grad:
            return None
        return dy + slope.sum(axis=-1)                                           # (N, D)  eq. U6 (U10 in eval)

    # --- what the entropy coder needs ------------------------------------------------------------
    def pmf(self, lo: int, hi: int) -> np.ndarray:
        """(D, hi − lo + 1) NumPy float64: P_d(qΔ) for the integer symbols q = lo..hi (eq. U2), unfloored;
        one row per dimension, or per channel of a feature map (every position of channel c uses row c).

        Summed over all integers the row is 1 (the CDF differences telescope); a coder building
        integer frequency tables must still give every symbol it may meet a nonzero count.
        """
        for name, value in (("lo", lo), ("hi", hi)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{self.label}: pmf needs integer symbols lo ≤ hi, got {name}={value!r}")
        if hi < lo:
            raise ValueError(f"{self.label}: pmf needs lo ≤ hi, got lo={lo}, hi={hi}")
        limit = self.LOG_SCALE_LIMIT
        s = np.clip(backend.to_numpy(self.log_scale.data).astype(np.float64), -limit, limit)
        loc = backend.to_numpy(self.loc.data).astype(np.float64)
        logits = backend.to_numpy(self.logits.data).astype(np.float64)
        v = np.arange(int(lo), int(hi) + 1, dtype=np.float64)[:, None] * self.step            # (M, 1)
        v = np.broadcast_to(v, (v.shape[0], self.code_size))                                  # (M, D)
        log_p, _ = log_probability(v, loc, s, logits, self.step, np)                          # (M, D)
        return np.exp(log_p).T                                                                # (D, M)

    def symbols(self, y) -> np.ndarray:
        """The integers round(y/Δ) (halves to even, as eval mode rounds) of codes y (N, D) or (N, C, H, W),
        as NumPy int64 of y's shape."""
        y = self._check_code(y)
        xp = backend.get_array_module(y)
        return backend.to_numpy(xp.rint(y / self.step)).astype(np.int64)

    def dequantize(self, q):
        """Integer symbols q (N, D) or (N, C, H, W) -> the values q·Δ of q's shape, in the parameters' dtype,
        on q's array module."""
        if getattr(q, "dtype", None) is None or q.dtype.kind not in "iu":
            raise DTypeError(f"{self.label}: dequantize expected integer symbols (N, {self.code_size}), "
                             f"got {getattr(q, 'dtype', type(q).__name__)}")
        if q.ndim not in (2, 4) or q.shape[1] != self.code_size:
            raise ShapeError(f"{self.label}: dequantize expected symbols of shape "
                             f"{format_shape((None, self.code_size))} or {format_shape((None, self.code_size, None, None))}, "
                             f"got {tuple(q.shape)}")
        return q.astype(self.loc.data.dtype) * self.step

    def bits(self, y) -> np.ndarray:
        """(N,) NumPy: the estimated bits of each image's rounded code, −Σ_d log₂ P_d(Δ·round(y/Δ)) (eq. U4),
        summed over every entry of a feature map (eq. U11), floored as the penalty is; the eval-mode rate of
        ``y`` is the mean of this."""
        y = self._check_code(y)
        xp = backend.get_array_module(y)
        log_p_floored = self._floored_log_p(self.step * xp.rint(y / self.step), xp)[0]
        per_image = log_p_floored.sum(axis=tuple(range(1, y.ndim)))             # (N,)  eq. U11
        return backend.to_numpy(-per_image / LN2).astype(np.float64)

    def output_shape(self, input_shape):
        if len(input_shape) not in (2, 4) or input_shape[1] not in (None, self.code_size):
            raise ShapeError(f"{self.label}: expected a code of shape {format_shape((None, self.code_size))} or a "
                             f"feature map {format_shape((None, self.code_size, None, None))}, "
                             f"got {format_shape(input_shape)}")
        return tuple(input_shape)

    def config(self):
        return {"code_size": self.code_size, "step": self.step, "weight": self.weight,
                "components": self.components, "seed": self.seed}
