"""Standard gradient checks of pooling, upsampling, batch normalisation and Gaussian noise.

Max pooling has a kink wherever two entries of a window tie (docs/math/pooling.md, eq. P3). Its inputs
are built by ``distinct_values``: every value of the input differs from every other by at least 0.1,
so in every window — overlapping or not — the maximum beats the runner-up by ≥ 0.1, far more than the
2h = 6e-4 that the finite-difference stencil reaches; no difference changes a window's winner.
Batch norm is checked in train mode (the gradient through μ and σ, eq. B7) and in eval mode (running
statistics, eq. B11), for the input and both parameters. Gaussian noise is checked with its noise
fixed (the same ε on every forward), otherwise the differences would measure the noise.
"""
from __future__ import annotations

import numpy as np

from .. import backend, gradcheck, layers
from . import case


def distinct_values(rng, shape, gap=0.1):
    """An array of ``shape`` whose values are pairwise ≥ ``gap`` apart (a shuffled, centred grid)."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) - size / 2) * gap).reshape(shape)


def _pool_case(name, make, shape, seed):
    @case(name)
    def _run():
        rng = np.random.default_rng(seed)
        return gradcheck.check_layer(make(), distinct_values(rng, shape) + 0.05)
    return _run


_pool_case("MaxPool2d(2) on 6×6", lambda: layers.MaxPool2d(2), (2, 3, 6, 6), 20)
_pool_case("MaxPool2d(3, stride=2) overlapping, 7×7", lambda: layers.MaxPool2d(3, stride=2), (2, 2, 7, 7), 21)
_pool_case("MaxPool2d((2, 3)) non-square, 7×8 cropped", lambda: layers.MaxPool2d((2, 3)), (2, 2, 7, 8), 22)
_pool_case("MaxPool2d((3, 2), stride=(1, 2)) on 5×7", lambda: layers.MaxPool2d((3, 2), stride=(1, 2)), (1, 2, 5, 7), 23)
_pool_case("MaxPool2d(2) on odd 5×7", lambda: layers.MaxPool2d(2), (2, 2, 5, 7), 24)
# A ReLU directly before a MaxPool2d runs inside the pool (eqs. P9–P10): the inputs are shifted by half the gap
# so that none lies within 0.05 of the ReLU's kink at 0 either.
_pool_case("ReLU → MaxPool2d(2) as one pass in a Sequential", lambda: layers.Sequential(
    layers.ReLU(), layers.MaxPool2d(2)), (2, 3, 6, 6), 30)
_pool_case("ReLU → MaxPool2d(3, stride=2) overlapping, one pass", lambda: layers.Sequential(
    layers.ReLU(), layers.MaxPool2d(3, stride=2)), (2, 2, 7, 7), 31)
_pool_case("AvgPool2d(2) on 6×6", lambda: layers.AvgPool2d(2), (2, 3, 6, 6), 25)
_pool_case("AvgPool2d(3, stride=2) overlapping, 7×7", lambda: layers.AvgPool2d(3, stride=2), (2, 2, 7, 7), 26)
_pool_case("AvgPool2d((2, 3)) non-square, 5×7 cropped", lambda: layers.AvgPool2d((2, 3)), (2, 2, 5, 7), 27)
_pool_case("Upsample2d(2)", lambda: layers.Upsample2d(2), (2, 3, 3, 4), 28)
_pool_case("Upsample2d((2, 3))", lambda: layers.Upsample2d((2, 3)), (2, 2, 3, 2), 29)


def _batchnorm(cls, channels, rng, train: bool):
    """A batch norm with γ, β away from their initial 1, 0 (and, for eval, running statistics not 0, 1)."""
    layer = cls(channels, momentum=0.3)
    layer.gamma.data = backend.asarray(1.0 + 0.5 * rng.standard_normal(channels))
    layer.beta.data = backend.asarray(0.5 * rng.standard_normal(channels))
    if not train:
        layer.buffers["running_mean"] = backend.asarray(rng.standard_normal(channels))
        layer.buffers["running_var"] = backend.asarray(rng.uniform(0.5, 2.0, channels))
        layer.eval()
    return layer


def _batchnorm_case(name, cls, shape, train, seed):
    @case(name)
    def _run():
        rng = np.random.default_rng(seed)
        layer = _batchnorm(cls, shape[1], rng, train)
        x = 1.5 * rng.standard_normal(shape) + 0.5
        return gradcheck.check_layer(layer, x)
    return _run


_batchnorm_case("BatchNorm1d(4) train", layers.BatchNorm1d, (6, 4), True, 30)
_batchnorm_case("BatchNorm1d(4) eval", layers.BatchNorm1d, (6, 4), False, 31)
_batchnorm_case("BatchNorm2d(3) train", layers.BatchNorm2d, (3, 3, 4, 5), True, 32)
_batchnorm_case("BatchNorm2d(3) eval", layers.BatchNorm2d, (3, 3, 4, 5), False, 33)


class FixedNoise:
    """A stand-in generator whose standard_normal() returns one fixed ε on every call."""

    def __init__(self, noise):
        self.noise = noise

    def standard_normal(self, shape, dtype=None):
        assert tuple(shape) == tuple(self.noise.shape), (shape, self.noise.shape)
        return self.noise.astype(dtype)            # a copy: the layer scales it in place


@case("GaussianNoise(0.5), noise fixed")
def _gaussian_noise():
    rng = np.random.default_rng(34)
    layer = layers.GaussianNoise(0.5, seed=0)
    layer._rng = FixedNoise(backend.asarray(rng.standard_normal((4, 6))))
    return gradcheck.check_layer(layer, rng.standard_normal((4, 6)))
