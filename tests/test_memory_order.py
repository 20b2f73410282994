"""Memory order travels with the arrays (tinyae/im2col.py, "Memory order travels with the arrays").

Arrays are always indexed (N, C, H, W); a batch-last convolution hands on its output as an
NCHW-indexed view whose memory is (C, H, W, N), and the layers after it keep that order.
These tests prove that (1) the order really travels through the `conv` model's layers with
no transposing copy between them, and (2) no layer's values depend on the memory order of
its input: the same numbers come out for an NCHW-contiguous input and a batch-last one.
"""
from __future__ import annotations

import numpy as np
import pytest

from tinyae import backend, layers, losses, models
from tinyae.im2col import empty_image, is_batch_last, to_operand


def _np(a):
    return backend.to_numpy(a)


def batch_last_copy(x):
    """The same values as the (N, C, H, W) array ``x``, laid out (C, H, W, N) in memory."""
    out = backend.xp.empty((x.shape[1], x.shape[2], x.shape[3], x.shape[0]), dtype=x.dtype).transpose(3, 0, 1, 2)
    out[...] = x
    return out


def test_batch_last_copy_and_is_batch_last_agree(xp):
    x = xp.asarray(np.random.default_rng(0).standard_normal((3, 2, 4, 5)))
    y = batch_last_copy(x)
    assert is_batch_last(y) and not is_batch_last(x)
    np.testing.assert_array_equal(_np(y), _np(x))
    assert is_batch_last(empty_image((3, 2, 6, 6), y)) and not is_batch_last(empty_image((3, 2, 6, 6), x))


def test_batch_last_order_travels_from_conv_through_relu_and_maxpool_into_the_next_conv_without_a_copy(xp):
    rng = np.random.default_rng(1)
    conv1, relu, pool = layers.Conv2d(1, 4, 3, padding=1, rng=rng), layers.ReLU(), layers.MaxPool2d(2)
    conv1.batch_last = True
    x = xp.asarray(rng.standard_normal((5, 1, 8, 8)).astype(np.float32))
    h = pool.forward(relu.forward(conv1.forward(x)))
    assert is_batch_last(h)
    operand = to_operand(h, batch_last=True)             # what the next batch-last conv multiplies
    assert np.shares_memory(_np(operand), _np(h)) if xp is np else operand.data.ptr == h.data.ptr
    dy = batch_last_copy(xp.ones(h.shape, dtype=h.dtype))   # as the next batch-last conv's backward gives it
    dx = relu.backward(pool.backward(dy))
    assert is_batch_last(dx)                             # the gradients keep the order on the way back


def test_the_conv_model_keeps_every_activation_batch_last_from_the_first_layer_to_the_last(xp):
    # the transposed convolutions' outputs are cropped views of a padded buffer (gaps between rows), so the
    # test asks for the batch axis innermost rather than for is_batch_last
    model = models.conv(seed=0)
    h = xp.asarray(np.random.default_rng(2).random((6, 1, 28, 28)).astype(np.float32))
    for layer in model.layers:
        h = layer.forward(h)
        assert h.strides[0] == h.itemsize, f"{layer.label}: the batch axis is not innermost in memory"


LAYERS = {
    "Conv2d batch first": lambda rng: _forced(layers.Conv2d(3, 4, 3, 2, 1, rng=rng), False),
    "Conv2d batch last": lambda rng: _forced(layers.Conv2d(3, 4, 3, 2, 1, rng=rng), True),
    "ConvTranspose2d batch first": lambda rng: _forced(layers.ConvTranspose2d(3, 4, 3, 2, 1, 1, rng=rng), False),
    "ConvTranspose2d batch last": lambda rng: _forced(layers.ConvTranspose2d(3, 4, 3, 2, 1, 1, rng=rng), True),
    "MaxPool2d": lambda rng: layers.MaxPool2d(2),
    "MaxPool2d overlapping": lambda rng: layers.MaxPool2d(3, 2),
    "AvgPool2d": lambda rng: layers.AvgPool2d(2),
    "AvgPool2d overlapping": lambda rng: layers.AvgPool2d(3, 2),
    "Upsample2d": lambda rng: layers.Upsample2d(2),
    "ReLU": lambda rng: layers.ReLU(),
    "Sigmoid": lambda rng: layers.Sigmoid(),
    "BatchNorm2d": lambda rng: layers.BatchNorm2d(3),
    "Crop2d": lambda rng: layers.Crop2d(((1, 2), (0, 3))),
}


def _forced(layer, batch_last):
    layer.batch_last = batch_last
    return layer


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_image_layer_gives_the_same_values_for_nchw_and_batch_last_inputs(name, xp, float64):
    rng = np.random.default_rng(3)
    x = xp.asarray(rng.standard_normal((4, 3, 8, 7)))
    x[:, :, ::3] = 0.0                                   # ties in the pooling windows
    outputs = []
    for order in ("nchw", "batch last"):
        layer = LAYERS[name](np.random.default_rng(4))
        x_in = x if order == "nchw" else batch_last_copy(x)
        y = layer.forward(x_in)
        dy = xp.asarray(np.random.default_rng(5).standard_normal(y.shape))
        dy_in = dy if order == "nchw" else batch_last_copy(dy)
        dx = layer.backward(dy_in)
        grads = [_np(p.grad) for p in layer.params.values()]
        outputs.append((_np(y), _np(dx), grads))
    (y0, dx0, g0), (y1, dx1, g1) = outputs
    np.testing.assert_allclose(y1, y0, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(dx1, dx0, rtol=1e-13, atol=1e-14)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


def test_crop2d_backward_keeps_the_gradients_memory_order_and_puts_zeros_on_the_cropped_edges(xp):
    """Its dx had been NCHW whatever dy's order: a scatter across strides, 29 ms of a 150 ms `denoise` step."""
    crop = layers.Crop2d(((1, 2), (0, 3)))
    x = xp.asarray(np.random.default_rng(0).standard_normal((5, 3, 9, 8)).astype(np.float32))
    y = crop.forward(batch_last_copy(x))
    dy = batch_last_copy(xp.asarray(np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)))
    dx = crop.backward(dy)
    assert is_batch_last(dx) and dx.shape == x.shape
    expected = np.zeros(x.shape, np.float32)
    expected[:, :, 1:7, 0:5] = _np(dy)
    np.testing.assert_array_equal(_np(dx), expected)


def test_the_conv_model_gives_the_same_loss_and_gradients_in_either_memory_order(float64):
    rng = np.random.default_rng(6)
    x = rng.random((5, 1, 28, 28))
    results = []
    for order in (False, None):                          # all batch first (NCHW throughout) vs the chosen orders
        model = models.conv(seed=1)
        for layer in model.layers:
            if hasattr(layer, "batch_last"):
                layer.batch_last = order
        loss = losses.MSE()
        value = loss.forward(model.forward(x), x)
        model.backward(loss.backward())
        results.append((value, [_np(p.grad).copy() for p in model.parameters()]))
    (v0, g0), (v1, g1) = results
    assert v1 == pytest.approx(v0, rel=1e-13)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-15)
