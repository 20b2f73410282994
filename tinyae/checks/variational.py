"""Standard gradient checks of the reparameterisation layer (eqs. V3–V8) and of a small VAE.

ε is held fixed (``Replay``): the finite difference must see the same z = μ + σ·ε at
θ ± h. The check is on Σ z·dy + KL, so both the sample's path and the KL's are exercised.
"""
from __future__ import annotations

import numpy as np

from .. import gradcheck, layers, losses
from ..models import VAE
from . import Replay, case


def _sampler(latent_dim, train=True, seed=0):
    layer = layers.GaussianSample(latent_dim, seed=0)
    layer._rng = Replay(seed)
    layer.train(train)
    return layer


@case("GaussianSample(3), ε fixed")
def _gaussian_sample():
    rng = np.random.default_rng(41)
    x = np.concatenate([rng.standard_normal((4, 3)), 0.5 * rng.standard_normal((4, 3))], axis=1)   # [μ, log σ²]
    return gradcheck.check_layer(_sampler(3, seed=1), x)


@case("GaussianSample(3), eval mode (z = μ)")
def _gaussian_sample_eval():
    rng = np.random.default_rng(42)
    x = np.concatenate([rng.standard_normal((4, 3)), 0.5 * rng.standard_normal((4, 3))], axis=1)
    return gradcheck.check_layer(_sampler(3, train=False), x)


@case("model 'vae' (small) + BCE per image + KL, ε fixed")
def _vae_model():
    """The zoo's `vae` shape (Dense → Tanh → Dense → GaussianSample | Dense → Tanh → Dense → Sigmoid), shrunk;
    Tanh in place of ReLU keeps the check away from kinks."""
    rng = np.random.default_rng(43)
    model = VAE(layers.Sequential(layers.Flatten(), layers.Dense(12, 6, rng=rng), layers.Tanh(),
                                  layers.Dense(6, 2 * 3, rng=rng), _sampler(3, seed=2), input_shape=(1, 3, 4)),
                layers.Sequential(layers.Dense(3, 6, rng=rng), layers.Tanh(), layers.Dense(6, 12, rng=rng),
                                  layers.Sigmoid(), layers.Reshape((1, 3, 4))))
    for p in model.parameters():
        p.data[...] = p.data + 0.05 * rng.standard_normal(p.data.shape)
    x = rng.random((3, 1, 3, 4))
    return gradcheck.check_model(model, losses.get("bce_per_image"), x, x)
