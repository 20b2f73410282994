"""Standard gradient checks of the corruption layers (eq. N2) and Crop2d, with the noise held fixed.

With the noise fixed, a corruption is x ↦ keep ⊙ x + (what the noise put in), so its
gradient is dy ⊙ keep. The clipped Gaussian has kinks where x + σε crosses 0 or 1: the
case asserts every noisy value is at least 0.01 from both, far more than the 2h the
stencil reaches.
"""
from __future__ import annotations

import numpy as np

from .. import gradcheck, layers
from . import Replay, case


def _fixed(layer, seed):
    layer._rng = Replay(seed)
    return layer


@case("GaussianCorruption(0.3), noise fixed")
def _gaussian():
    rng = np.random.default_rng(61)
    x = rng.uniform(0.2, 0.8, (3, 1, 4, 5))
    layer = _fixed(layers.GaussianCorruption(0.3, seed=0), 0)
    noisy = x + 0.3 * layer._rng.standard_normal(x.shape, dtype=x.dtype)
    assert np.abs(noisy).min() > 0.01 and np.abs(noisy - 1).min() > 0.01, "pick another seed: a value at the clip"
    assert ((noisy < 0) | (noisy > 1)).sum() >= 3, "pick another seed: the clipping must bite somewhere"
    return gradcheck.check_layer(layer, x)


@case("MaskingNoise(0.4), mask fixed")
def _masking():
    rng = np.random.default_rng(62)
    return gradcheck.check_layer(_fixed(layers.MaskingNoise(0.4, seed=0), 8), rng.random((3, 1, 4, 5)))


@case("SaltAndPepperNoise(0.3), noise fixed")
def _salt_pepper():
    rng = np.random.default_rng(63)
    return gradcheck.check_layer(_fixed(layers.SaltAndPepperNoise(0.3, seed=0), 9), rng.random((3, 1, 4, 5)))


@case("BlockMask(2), block fixed")
def _block():
    rng = np.random.default_rng(64)
    return gradcheck.check_layer(_fixed(layers.BlockMask(2, seed=0), 10), rng.random((3, 2, 4, 5)))


@case("Crop2d(((0, 1), (2, 1)))")
def _crop():
    rng = np.random.default_rng(65)
    return gradcheck.check_layer(layers.Crop2d(((0, 1), (2, 1))), rng.standard_normal((2, 3, 5, 6)))
