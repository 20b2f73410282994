"""GaussianSample: the reparameterisation of a variational autoencoder, and the KL term it owns.

The encoder's last Dense gives 2k numbers per image, read as [μ, log σ²] (the mean and
the **log-variance** of q(z | x) = N(μ, diag σ²)). This layer draws

    z = μ + exp(½ · log σ²) · ε,   ε ~ N(0, I)

and adds the closed-form KL(q(z | x) ‖ N(0, I)) to the objective as its penalty, with
the KL's gradient added to dμ and d log σ² in backward. Sampler and KL agree that the
encoder outputs the log-variance: std = exp(½ · log σ²) and σ² = exp(log σ²), in both
places (two well-known tutorials mix up log σ and log σ² between them).

Equations V3–V9 are derived in docs/math/vae.md.
"""
from __future__ import annotations

import numbers

from .. import backend, init
from ..errors import ShapeError
from .base import Layer, format_shape


class GaussianSample(Layer):
    """[μ, log σ²] (N, 2k) -> z (N, k); penalty: KL(N(μ, σ²) ‖ N(0, 1)) in nats per sample.

    train mode: z = μ + σ·ε with ε from ``tinyae.backend.default_rng(seed)`` (the active
    backend's generator, made at the first forward; checkpoints save its state).
    eval mode: z = μ, the mean of q (no noise: ``encode`` gives a deterministic code and
    ``evaluate`` a deterministic figure). Set ``sample_in_eval = True`` to draw z in eval
    mode too (what a single-sample estimate of the ELBO on test data needs).

    The KL is computed in both modes, summed over the k latent units and averaged over
    the batch: a per-image figure, to be added to a per-image data term (BCE summed over
    the pixels, ``losses.get("bce_per_image")``). Next to a per-pixel loss it would weigh
    784× too much on MNIST; ``fit`` warns if it is given one.

    log σ² is clamped to [−log_var_limit, log_var_limit] (default 30, σ² up to 1e13)
    before it is used (eq. V8): a huge log-variance cannot overflow exp into inf and NaN;
    where it is clamped, the gradient is that of the clamped function, 0. ``clamped``
    counts the entries clamped in the last forward.

    Notes
    -----
    z = μ + exp(½ s) ⊙ ε,  s = log σ²                        (eq. V3)
    KL_n = −½ Σ_j (1 + s_nj − μ_nj² − exp(s_nj))              (eq. V4)
    penalty = (1/N) Σ_n KL_n                                  (eq. V5)
    dμ = dz + μ / N                                           (eq. V6)
    ds = dz ⊙ ε ⊙ ½ exp(½ s) + ½ (exp(s) − 1) / N             (eq. V7)
    """

    wants_loss_per_sample = True    # the KL is per image: the data term must be too (see fit)

    def __init__(self, latent_dim: int, seed=None, log_var_limit: float = 30.0):
        super().__init__()
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"GaussianSample: latent_dim must be a positive int, got {latent_dim!r}")
        if isinstance(log_var_limit, bool) or not isinstance(log_var_limit, numbers.Real) or not 0 < log_var_limit <= 80:
            raise ValueError(f"GaussianSample: log_var_limit must be in (0, 80] (exp(88) overflows float32), "
                             f"got {log_var_limit!r}")
        self.latent_dim = latent_dim
        self.in_features = 2 * latent_dim
        self.log_var_limit = float(log_var_limit)
        self.seed = int(init.generator().integers(2**31)) if seed is None else seed
        self.sample_in_eval = False
        self.clamped = 0
        self._rng = None
        self._cache = None

    def forward(self, x):                                   # x: (N, 2k) = [μ, log σ²]
        x = self.check_input(x, (None, self.in_features))
        xp = backend.get_array_module(x)
        k, n = self.latent_dim, x.shape[0]
        mu, raw_log_var = x[:, :k], x[:, k:]                # (N, k) each, views
        limit = self.log_var_limit
        log_var = xp.clip(raw_log_var, -limit, limit)       # (N, k)   eq. V8
        inside = xp.abs(raw_log_var) < limit
        self.clamped = int(inside.size - int(inside.sum()))
        std = xp.exp(0.5 * log_var)                         # (N, k)   eq. V3
        var = std * std                                     # σ² = exp(s)
        kl = -0.5 * (1.0 + log_var - mu * mu - var)         # (N, k)   eq. V4
        self.penalty = float(kl.sum()) / n                  #          eq. V5
        if self.training or self.sample_in_eval:
            if self._rng is None:
                self._rng = backend.default_rng(self.seed)
            eps = self._rng.standard_normal((n, k), dtype=x.dtype)
            z = mu + std * eps                              # (N, k)   eq. V3
        else:
            eps = None
            z = mu.copy()                                   # eval: z = μ (eq. V9)
        self._cache = (mu, std, var, eps, inside)
        return z

    def backward(self, dz):                                 # dz: (N, k), never modified in place
        self.check_forward_called(self._cache)
        mu, std, var, eps, inside = self._cache
        self.check_grad(dz, mu.shape)
        xp = backend.get_array_module(dz)
        n = dz.shape[0]
        d_mu = dz + mu / n                                  # (N, k)   eq. V6
        d_log_var = 0.5 * (var - 1.0) / n                   # (N, k)   eq. V7, the KL's part
        if eps is not None:
            d_log_var += 0.5 * dz * eps * std               #          eq. V7, the sample's part
        d_log_var *= inside                                 #          eq. V8
        return xp.concatenate([d_mu, d_log_var], axis=1)    # (N, 2k)

    def output_shape(self, input_shape):
        if len(input_shape) != 2 or input_shape[1] not in (None, self.in_features):
            raise ShapeError(f"{self.label}: expected input of shape {format_shape((None, self.in_features))} "
                             f"([μ, log σ²] of a {self.latent_dim}-d latent), got {format_shape(input_shape)}")
        return (input_shape[0], self.latent_dim)

    def config(self):
        return {"latent_dim": self.latent_dim, "seed": self.seed, "log_var_limit": self.log_var_limit}
