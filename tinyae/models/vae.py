"""VAE: an Autoencoder whose encoder ends in a GaussianSample, with sampling and the ELBO.

The encoder maps x to [μ, log σ²]; its last layer, ``GaussianSample``, draws
z = μ + σ·ε in train mode (z = μ in eval mode) and owns KL(q(z|x) ‖ N(0, I)) as its
penalty. The objective that ``fit`` minimises is the data term (BCE summed over the
pixels: ``bce_per_image``) plus that KL, in nats per image: the negative ELBO (eq. V2 in
docs/math/vae.md), weighted exactly as pytorch/examples' VAE weighs it (BCE summed, plus
KL summed, both per image).

* ``encode(x)`` gives μ (eval mode): the code used for recognition and interpolation;
* ``encode_distribution(x)`` gives (μ, log σ²);
* ``sample(n, seed)`` decodes z ~ N(0, I): new images;
* ``negative_elbo(x, samples)`` is the single-sample (or k-sample) estimate of the
  objective with z drawn from q, the figure pytorch/examples prints as its test loss
  (its ``test()`` samples z even in eval mode); ``evaluate`` gives the deterministic
  figure with z = μ, usually a little lower once the model is trained (not always early on:
  a decoder trained only on noisy codes can do worse at the centre of q).
"""
from __future__ import annotations

import numpy as np

from .. import backend, batches, losses
from ..layers import GaussianSample, chain
from .autoencoder import Autoencoder


class VAE(Autoencoder):
    """A variational autoencoder: ``encoder`` must end in a GaussianSample layer."""

    def __init__(self, encoder, decoder, loss: str | None = "bce_per_image", name: str | None = None):
        super().__init__(encoder, decoder, loss=loss, name=name)
        last = chain(self.encoder)[-1]
        if not isinstance(last, GaussianSample):
            raise TypeError(f"VAE: the encoder must end in a GaussianSample layer (it draws z and owns the KL), "
                            f"but its last layer is {type(last).__name__}")
        self.sampler = last

    @property
    def latent_dim(self) -> int:
        return self.sampler.latent_dim

    def encode_distribution(self, x, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """(μ, log σ²) of q(z | x) for every image of ``x``, each (N, latent_dim), as NumPy."""
        batches.check_samples(x, "x", "encode_distribution")
        before = chain(self.encoder)[:-1]
        stats = batches.forward_in_batches(_Steps(before), x, batch_size, batches.model_dtype(self))
        k = self.latent_dim
        return stats[:, :k], stats[:, k:]

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` new images: the decoder applied to z ~ N(0, I) drawn by NumPy from ``seed``
        (the same images on every backend)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"sample: n must be a positive whole number, got {n!r}")
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        return self.decode(z.astype(batches.model_dtype(self)))

    def manifold(self, n: int = 20, low: float = 0.05, high: float = 0.95) -> np.ndarray:
        """The decoder's images on an n × n grid of a 2-d latent space: (n·n, C, H, W), row by row.

        The grid is evenly spaced in probability, not in z: z_i = Φ⁻¹(p_i) for p from ``low`` to
        ``high`` (Kingma & Welling's figure), so that each cell covers the same prior mass. The
        first coordinate varies along a row, the second (from high to low) down the rows.
        """
        if self.latent_dim != 2:
            raise ValueError(f"manifold: needs a 2-d latent space (the zoo's vae2d), this VAE has {self.latent_dim}")
        from statistics import NormalDist
        z = np.array([NormalDist().inv_cdf(p) for p in np.linspace(low, high, n)])
        grid = np.array([(z1, z2) for z2 in z[::-1] for z1 in z])
        return self.decode(grid.astype(batches.model_dtype(self)))

    def negative_elbo(self, x, samples: int = 1, seed: int = 0, batch_size: int = 1024) -> dict:
        """The objective on ``x`` with z drawn from q(z | x): a Monte Carlo estimate, in nats per image.

        Returns {"total", "data", "kl", "samples"}: the data term (BCE summed over pixels),
        the KL (exact, closed form) and their sum, each averaged over the images and the
        ``samples`` draws of z (from a generator seeded with ``seed``, so the training
        generator is left alone). samples=1 is what pytorch/examples reports as its test loss.
        """
        batches.check_samples(x, "x", "negative_elbo")
        loss = losses.get(self.loss or "bce_per_image")
        dtype = batches.model_dtype(self)
        sampler, was_training = self.sampler, self.training
        saved_rng, saved_flag = sampler._rng, sampler.sample_in_eval
        sampler._rng, sampler.sample_in_eval = backend.default_rng(seed), True
        self.eval()
        data = kl = 0.0
        try:
            for _ in range(samples):
                for i in range(0, len(x), batch_size):
                    xb = backend.asarray(x[i:i + batch_size], dtype=dtype)
                    data += loss.forward(self.forward(xb), xb) * len(xb)
                    kl += self.penalty * len(xb)
        finally:
            sampler._rng, sampler.sample_in_eval = saved_rng, saved_flag
            self.train(was_training)
        count = samples * len(x)
        return {"total": (data + kl) / count, "data": data / count, "kl": kl / count, "samples": samples}

    def _code_line(self, code_shape) -> str:
        return (f"-- code: z of {self.latent_dim} numbers per image, drawn from N(mu, sigma^2) in train mode, "
                f"z = mu in eval mode --")


class _Steps:
    """The first layers of the encoder as one model, for ``encode_distribution``."""

    def __init__(self, steps):
        self.steps = steps
        self.training = False

    def forward(self, x):
        for step in self.steps:
            x = step.forward(x)
        return x

    def parameters(self):
        return [p for step in self.steps for p in step.parameters()]

    def eval(self):
        return self.train(False)

    def train(self, mode: bool = True):
        self.training = mode
        for step in self.steps:
            step.train(mode)
        return self
