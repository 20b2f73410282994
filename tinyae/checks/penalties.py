"""Standard gradient checks of the penalties (eqs. R1–R5) and of the sparse zoo models, shrunk.

Each check is on the sum the layer adds to the objective: f = Σ forward(h)·dy + penalty.
ActivityL1's |h| has a kink at 0: its inputs are kept at least 0.1 from 0. KLSparsity's
inputs are sigmoid-like activations in [0.05, 0.95], so every unit's batch mean lies well
inside (0, 1), away from the clipping of ρ̂.
"""
from __future__ import annotations

import numpy as np

from .. import gradcheck, layers, losses
from ..models import Autoencoder
from . import away_from_zero, case


@case("ActivityL1(0.3)")
def _activity_l1():
    rng = np.random.default_rng(31)
    return gradcheck.check_layer(layers.ActivityL1(0.3), away_from_zero(rng, (5, 4)))


@case("ActivityL1(0.3, reduction='sum')")
def _activity_l1_sum():
    rng = np.random.default_rng(32)
    return gradcheck.check_layer(layers.ActivityL1(0.3, reduction="sum"), away_from_zero(rng, (5, 4)))


@case("KLSparsity(ρ=0.1, β=2)")
def _kl_sparsity():
    rng = np.random.default_rng(33)
    return gradcheck.check_layer(layers.KLSparsity(target=0.1, weight=2.0), rng.uniform(0.05, 0.95, (6, 4)))


def _nonzero_biases(model, rng):
    for p in model.parameters():
        p.data[...] = p.data + 0.05 * rng.standard_normal(p.data.shape)


@case("model 'sparse' (small) + BCE + L1 activity")
def _sparse_model():
    """The zoo's `sparse` shape (Dense → activation → ActivityL1 | Dense → Sigmoid), shrunk, with Tanh for
    ReLU (a ReLU code puts many values at the kink of both ReLU and |h|); the code is kept ≥ 0.01 from 0."""
    rng = np.random.default_rng(35)
    model = Autoencoder(layers.Sequential(layers.Flatten(), layers.Dense(12, 5, rng=rng), layers.Tanh(),
                                          layers.ActivityL1(0.05), input_shape=(1, 3, 4)),
                        layers.Sequential(layers.Dense(5, 12, rng=rng), layers.Sigmoid(), layers.Reshape((1, 3, 4))))
    _nonzero_biases(model, rng)
    x = rng.random((3, 1, 3, 4))
    code = model.encode(x)
    assert np.abs(code).min() >= 0.01, "pick another seed: a code value is near the kink of |h|"
    return gradcheck.check_model(model, losses.BCE(), x, x)


@case("model 'sparse_kl' (small) + MSE per image + KL sparsity")
def _sparse_kl_model():
    rng = np.random.default_rng(36)
    model = Autoencoder(layers.Sequential(layers.Flatten(), layers.Dense(12, 5, rng=rng), layers.Sigmoid(),
                                          layers.KLSparsity(0.1, 3.0), input_shape=(1, 3, 4)),
                        layers.Sequential(layers.Dense(5, 12, rng=rng), layers.Sigmoid(), layers.Reshape((1, 3, 4))))
    _nonzero_biases(model, rng)
    x = rng.random((4, 1, 3, 4))
    return gradcheck.check_model(model, losses.get("mse_per_image"), x, x)
