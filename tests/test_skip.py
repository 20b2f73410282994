"""SkipConcat (docs/math/skip.md, S1–S3): every block sees [h_{l−1}; x]; the input's gradient is the sum of
its uses; the `skip` zoo model."""
from __future__ import annotations

import numpy as np
import pytest

from tinyae import gradcheck, layers, models
from tinyae.errors import ShapeError


def three_blocks(rng, d=5):
    return layers.SkipConcat(layers.Sequential(layers.Dense(d, 4, rng=rng), layers.Tanh()),
                             layers.Sequential(layers.Dense(4 + d, 3, rng=rng), layers.Tanh()),
                             layers.Sequential(layers.Dense(3 + d, 2, rng=rng), layers.Sigmoid()),
                             in_features=d)


def test_each_block_sees_the_previous_output_and_the_input_eq_S1(rng):
    layer = three_blocks(rng)
    x = rng.standard_normal((3, 5)).astype(np.float32)
    h1 = layer.blocks[0].forward(x)
    h2 = layer.blocks[1].forward(np.concatenate([h1, x], axis=1))
    h3 = layer.blocks[2].forward(np.concatenate([h2, x], axis=1))
    np.testing.assert_allclose(layer.forward(x), h3, rtol=1e-6)
    assert layer.widths == [4, 3, 2] and layer.output_shape((None, 5)) == (None, 2)


def test_the_inputs_gradient_is_the_sum_over_its_uses_eq_S2_S3(float64, rng):
    layer = three_blocks(rng)
    x = rng.standard_normal((4, 5))
    dy = rng.standard_normal((4, 2))
    layer.forward(x)
    dx = layer.backward(dy)
    # by hand: block 3's input gradient splits into dh2 and its share of dx, and so on (eq. S2)
    d3 = layer.blocks[2].backward(dy)
    d2 = layer.blocks[1].backward(d3[:, :3])
    d1 = layer.blocks[0].backward(d2[:, :4])
    np.testing.assert_allclose(dx, d1 + d2[:, 4:] + d3[:, 3:], rtol=1e-12)      # eq. S3
    assert not np.allclose(dx, d1)                                                # the skips matter
    errors = gradcheck.check_layer(layer, x)
    assert max(errors.values()) < 1e-7, errors


def test_a_block_that_does_not_take_its_input_is_named():
    with pytest.raises(ShapeError, match=r"SkipConcat: block 1 does not take \[h_1; x\] \(4 \+ 5 features\)"):
        layers.SkipConcat(layers.Dense(5, 4), layers.Dense(4, 3), in_features=5)


def test_input_grad_false_still_fills_every_parameters_gradient(rng):
    layer = three_blocks(rng)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    layer.forward(x)
    assert layer.backward(np.ones((4, 2), np.float32), input_grad=False) is None
    assert all(np.any(p.grad != 0) for p in layer.parameters())


def test_the_skip_zoo_model_trains_and_its_code_is_the_last_blocks_output():
    model = models.build("skip", seed=0)
    x = np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32)
    assert model.code_shape == (32,)
    codes = model.encode(x)
    assert codes.shape == (8, 32) and np.all((codes > 0) & (codes < 1))          # a sigmoid code
    from tinyae.train import fit
    history = fit(model, x, epochs=2, batch_size=4, verbose=0)
    assert history.loss[1] < history.loss[0]
