"""Standard gradient checks of the dense layers, activations, losses and dense models.

Inputs are kept away from kinks by construction: for ReLU and LeakyReLU every input
has |x| ≥ 0.1, far more than the 2h = 6e-4 the finite-difference stencil reaches, so no
difference straddles x = 0.
Probabilities given to BCE lie in [0.05, 0.95], away from the clipping.
"""
from __future__ import annotations

import numpy as np

from .. import gradcheck, layers, losses
from . import away_from_zero, case


@case("Dense(5→4)")
def _dense():
    rng = np.random.default_rng(1)
    return gradcheck.check_layer(layers.Dense(5, 4, rng=rng), rng.standard_normal((3, 5)))


@case("Dense(5→4, bias=False)")
def _dense_nobias():
    rng = np.random.default_rng(2)
    return gradcheck.check_layer(layers.Dense(5, 4, bias=False, rng=rng), rng.standard_normal((3, 5)))


@case("Dense+DenseTied (tied W)")
def _tied():
    rng = np.random.default_rng(3)
    encoder = layers.Dense(6, 3, rng=rng)
    model = layers.Sequential(encoder, layers.Tanh(), layers.DenseTied(encoder))
    for p in model.parameters():              # non-zero biases, so every term is exercised
        p.data[...] = p.data + 0.1 * rng.standard_normal(p.data.shape)
    return gradcheck.check_layer(model, rng.standard_normal((4, 6)))


@case("ReLU")
def _relu():
    rng = np.random.default_rng(4)
    return gradcheck.check_layer(layers.ReLU(), away_from_zero(rng, (4, 7)))


@case("LeakyReLU(0.1)")
def _leaky():
    rng = np.random.default_rng(5)
    return gradcheck.check_layer(layers.LeakyReLU(0.1), away_from_zero(rng, (4, 7)))


@case("Sigmoid")
def _sigmoid():
    rng = np.random.default_rng(6)
    return gradcheck.check_layer(layers.Sigmoid(), 2 * rng.standard_normal((4, 7)))


@case("Tanh")
def _tanh():
    rng = np.random.default_rng(7)
    return gradcheck.check_layer(layers.Tanh(), rng.standard_normal((4, 7)))


@case("Flatten")
def _flatten():
    rng = np.random.default_rng(8)
    return gradcheck.check_layer(layers.Flatten(), rng.standard_normal((2, 3, 4, 5)))


@case("Reshape((3, 4))")
def _reshape():
    rng = np.random.default_rng(9)
    return gradcheck.check_layer(layers.Reshape((3, 4)), rng.standard_normal((2, 12)))


@case("Dropout(0.3), mask fixed")
def _dropout():
    rng = np.random.default_rng(10)
    layer = layers.Dropout(0.3, seed=0)
    x = rng.standard_normal((5, 8))
    layer.forward(x)
    mask = layer._mask
    layer._rng = _FixedMask(mask * (1 - 0.3))     # the same mask on every forward
    return gradcheck.check_layer(layer, x)


class _FixedMask:
    """A stand-in generator whose random() reproduces one dropout mask (keep ⇔ value ≥ p)."""

    def __init__(self, keep):
        self.keep = keep

    def random(self, shape, dtype=None):
        return self.keep.astype(dtype)


@case("MSE")
def _mse():
    rng = np.random.default_rng(11)
    return gradcheck.check_loss(losses.MSE(), rng.random((4, 6)), rng.random((4, 6)))


@case("BCE")
def _bce():
    rng = np.random.default_rng(12)
    return gradcheck.check_loss(losses.BCE(), rng.uniform(0.05, 0.95, (4, 6)), rng.random((4, 6)))


@case("BCEWithLogits")
def _bce_logits():
    rng = np.random.default_rng(13)
    return gradcheck.check_loss(losses.BCEWithLogits(), 3 * rng.standard_normal((4, 6)), rng.random((4, 6)))


def _seed_model_case(name, build, loss, in_shape):
    @case(f"model '{name}' + {type(loss).__name__}")
    def _run():
        rng = np.random.default_rng(14)
        model = build(rng)
        x = rng.random((3, *in_shape))
        for p in model.parameters():               # non-zero biases
            p.data[...] = p.data + 0.05 * rng.standard_normal(p.data.shape)
        return gradcheck.check_model(model, loss, x, x.copy())
    return _run


def _small_dense(rng):
    # the shape of the zoo's `dense` model, shrunk, with Tanh in place of ReLU (see _small_dense_relu)
    return layers.Sequential(layers.Flatten(), layers.Dense(12, 5, rng=rng), layers.Tanh(),
                             layers.Dense(5, 12, rng=rng), layers.Sigmoid(), layers.Reshape((1, 3, 4)))


def _small_deep(rng):
    return layers.Sequential(layers.Flatten(), layers.Dense(12, 6, rng=rng), layers.LeakyReLU(0.1),
                             layers.Dense(6, 3, rng=rng), layers.Tanh(), layers.Dense(3, 6, rng=rng),
                             layers.Tanh(), layers.Dense(6, 12, rng=rng), layers.Sigmoid(),
                             layers.Reshape((1, 3, 4)))


@case("model 'dense' with ReLU (small) + MSE")
def _dense_relu_model():
    """The zoo's `dense` shape exactly (Flatten → Dense → ReLU → Dense → Sigmoid), shrunk.

    ReLU's kink must stay out of the stencil's reach: the case asserts that every
    hidden pre-activation is at least 0.01 from 0 for the unperturbed input, and a
    perturbation of 2h = 6e-4 in one input or weight moves a pre-activation by at
    most 6e-4·max|W| or 6e-4·max|x| (< 1e-3 here), so no difference straddles the kink.
    """
    rng = np.random.default_rng(21)
    model = layers.Sequential(layers.Flatten(), layers.Dense(12, 5, rng=rng), layers.ReLU(),
                              layers.Dense(5, 12, rng=rng), layers.Sigmoid(), layers.Reshape((1, 3, 4)))
    for p in model.parameters():
        p.data[...] = p.data + 0.05 * rng.standard_normal(p.data.shape)
    x = rng.random((3, 1, 3, 4))
    pre_activation = x.reshape(3, -1) @ model[1].W.data + model[1].b.data
    assert np.abs(pre_activation).min() >= 0.01, "pick another seed: a pre-activation is near ReLU's kink"
    return gradcheck.check_model(model, losses.MSE(), x, x)


_seed_model_case("dense (small)", _small_dense, losses.MSE(), (1, 3, 4))
_seed_model_case("dense (small)", _small_dense, losses.BCE(), (1, 3, 4))
_seed_model_case("deep (small)", _small_deep, losses.MSE(), (1, 3, 4))


@case("SoftmaxCrossEntropy (labels)")
def _softmax_ce_labels():
    rng = np.random.default_rng(15)
    return gradcheck.check_loss(losses.SoftmaxCrossEntropy(), 3 * rng.standard_normal((5, 4)), rng.integers(0, 4, 5))


@case("SoftmaxCrossEntropy (class probabilities)")
def _softmax_ce_soft():
    rng = np.random.default_rng(16)
    t = rng.random((5, 4))
    return gradcheck.check_loss(losses.SoftmaxCrossEntropy(), 3 * rng.standard_normal((5, 4)), t / t.sum(1, keepdims=True))
