"""Standard gradient checks of the rate layer Quantize (eqs. U4–U9, U11–U12), with the uniform noise held fixed.

With u fixed (``Replay``), train mode is ỹ = y + u, a smooth function of y, and the rate a smooth
function of ỹ and of the density's parameters; the check is on Σ ỹ·dy + λ·rate, so the input's
two paths and every parameter (loc, log_scale, logits) are exercised. The parameters are moved
off their symmetric initial values, and each case asserts that no probability is near the floor
(eq. U5) and no log-scale near its clamp, the two kinks of the function. The feature-map cases
check the sums over the positions of the parameters shared by a channel (eq. U12).
"""
from __future__ import annotations

import numpy as np

from .. import gradcheck, layers, losses
from ..models import Autoencoder
from . import Replay, case


def quantizer(code_size, rng, step=1.0, weight=0.7, components=3, noise_seed=0):
    """A Quantize with its noise fixed and its density parameters moved off their initial values."""
    layer = layers.Quantize(code_size, step=step, weight=weight, components=components, seed=0)
    layer._rng = Replay(noise_seed)
    layer.loc.data[...] = layer.loc.data + 0.3 * rng.standard_normal(layer.loc.shape)
    layer.log_scale.data[...] = 0.3 * rng.standard_normal(layer.log_scale.shape)
    layer.logits.data[...] = 0.5 * rng.standard_normal(layer.logits.shape)
    return layer


def _away_from_kinks(layer, x):
    layer.forward(x)
    assert layer.floored == 0, "pick another seed: a probability is at the floor"
    assert np.abs(layer.log_scale.data).max() < layer.LOG_SCALE_LIMIT - 1


@case("Quantize(4, step 0.5, λ 0.7, K 3), noise fixed")
def _quantize_mixture():
    rng = np.random.default_rng(71)
    layer, x = quantizer(4, rng, step=0.5, noise_seed=1), rng.standard_normal((5, 4))
    _away_from_kinks(layer, x)
    return gradcheck.check_layer(layer, x)


@case("Quantize(3, step 1, λ 1.3, K 1), noise fixed")
def _quantize_logistic():
    rng = np.random.default_rng(72)
    layer, x = quantizer(3, rng, weight=1.3, components=1, noise_seed=2), 1.5 * rng.standard_normal((6, 3))
    _away_from_kinks(layer, x)
    return gradcheck.check_layer(layer, x)


@case("Quantize(3, step 0.5, λ 0.7, K 3) on a feature map (N, C, H, W), noise fixed")
def _quantize_feature_map():
    """One density per channel shared over the 3×4 positions: rate summed over C·H·W (U11), gradients over n, i, j (U12)."""
    rng = np.random.default_rng(74)
    layer, x = quantizer(3, rng, step=0.5, noise_seed=4), rng.standard_normal((2, 3, 3, 4))
    _away_from_kinks(layer, x)
    return gradcheck.check_layer(layer, x)


@case("model codec (small) + MSE per image + rate, noise fixed")
def _codec_model():
    """Dense → Tanh → Dense → Quantize | Dense → Sigmoid: distortion + λ·rate (eq. U4) through a whole model."""
    rng = np.random.default_rng(73)
    model = Autoencoder(layers.Sequential(layers.Dense(6, 5, rng=rng), layers.Tanh(), layers.Dense(5, 3, rng=rng),
                                          quantizer(3, rng, step=0.5, weight=0.2, noise_seed=3)),
                        layers.Sequential(layers.Dense(3, 6, rng=rng), layers.Sigmoid()))
    for p in model.parameters():
        p.data[...] = p.data + 0.05 * rng.standard_normal(p.data.shape)
    x = rng.random((4, 6))
    model.forward(x)
    assert model.encoder[3].floored == 0
    return gradcheck.check_model(model, losses.get("mse_per_image"), x, x)


@case("model conv codec (small) + MSE per pixel + rate, noise fixed")
def _conv_codec_model():
    """Conv2d → Quantize on the (N, 2, 3, 3) map | ConvTranspose2d → Sigmoid: distortion + λ·rate (eqs. U4, U11)."""
    rng = np.random.default_rng(75)
    model = Autoencoder(layers.Sequential(layers.Conv2d(1, 2, 3, stride=2, padding=1, rng=rng),
                                          quantizer(2, rng, step=0.5, weight=0.02, noise_seed=5)),
                        layers.Sequential(layers.ConvTranspose2d(2, 1, 4, stride=2, padding=1, rng=rng), layers.Sigmoid()))
    for p in model.parameters():
        p.data[...] = p.data + 0.05 * rng.standard_normal(p.data.shape)
    x = rng.random((2, 1, 6, 6))
    model.forward(x)
    assert model.encoder[1].floored == 0
    return gradcheck.check_model(model, losses.get("mse"), x, x)
