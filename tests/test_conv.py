"""Conv2d and ConvTranspose2d against docs/math/conv.md (C1–C9, T1–T7): forward against loop references
(always) and PyTorch (when installed), the gradient checks of every configuration in tinyae/checks/conv.py,
the adjoint (dot-product) identity between the two layers, the layer protocol and the error messages.

Comparisons run in float64, where ours, the references and PyTorch agree to rounding (~1e-15).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyae import backend, layers
from tinyae.checks import conv as conv_checks
from tinyae.errors import DTypeError, ShapeError
from tinyae.gradcheck import check_layer
from tinyae.im2col import col2im, im2col

EXPECTED_MAX_ERROR = 1e-7            # measured worst over tinyae/checks/conv.py: 1e-8

# (kernel_size, stride, padding, output_padding, input shape (N, C, H, W), out_channels)
CONFIGS = [
    (3, 1, 1, 0, (2, 3, 6, 5), 4),
    ((3, 2), (2, 3), (1, 0), (1, 2), (2, 2, 7, 8), 3),
    (5, 3, 2, 2, (2, 2, 11, 8), 2),
    (1, 1, 0, 0, (3, 4, 3, 3), 2),
    (2, 2, 0, 1, (1, 3, 6, 7), 3),
    ((2, 4), 1, (0, 2), 0, (2, 1, 4, 9), 5),
]
ORDERS = pytest.mark.parametrize("batch_last", [None, False, True], ids=["auto", "batch first", "batch last"])


def _np(a):
    return backend.to_numpy(a)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def make_conv(cin, cout, kernel, stride, padding, rng, bias=True, batch_last=None):
    layer = layers.Conv2d(cin, cout, kernel, stride, padding, bias=bias, rng=rng)
    layer.batch_last = batch_last
    if bias:
        layer.b.data[...] = backend.asarray(rng.standard_normal(cout))
    return layer


def make_conv_t(cin, cout, kernel, stride, padding, output_padding, rng, bias=True, batch_last=None):
    layer = layers.ConvTranspose2d(cin, cout, kernel, stride, padding, output_padding, bias=bias, rng=rng)
    layer.batch_last = batch_last
    if bias:
        layer.b.data[...] = backend.asarray(rng.standard_normal(cout))
    return layer


# --- loop references ------------------------------------------------------------------------------------------

def reference_conv2d(x, w, b, stride, padding):
    """y[n, f, oh, ow] = b[f] + Σ_{c,i,j} w[f, c, i, j] · x_padded[n, c, sh·oh + i, sw·ow + j]   (eq. C2)."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, f, oh, ow))
    for ni in range(n):
        for fi in range(f):
            for a in range(oh):
                for q in range(ow):
                    y[ni, fi, a, q] = np.sum(xp[ni, :, sh * a:sh * a + kh, sw * q:sw * q + kw] * w[fi]) + \
                        (0.0 if b is None else b[fi])
    return y


def reference_conv_transpose2d(x, w, b, stride, padding, output_padding):
    """Every input pixel scatters its kernel-weighted copy: y[n, o, sh·h + i − ph, sw·w + j − pw] += x·w (eq. T4)."""
    (sh, sw), (ph, pw), (oph, opw) = _pair(stride), _pair(padding), _pair(output_padding)
    n, c, h, wd = x.shape
    _, o, kh, kw = w.shape
    full = np.zeros((n, o, (h - 1) * sh + kh + oph, (wd - 1) * sw + kw + opw))    # before cropping the padding
    for ni in range(n):
        for ci in range(c):
            for a in range(h):
                for q in range(wd):
                    full[ni, :, sh * a:sh * a + kh, sw * q:sw * q + kw] += x[ni, ci, a, q] * w[ci]
    oh, ow = (h - 1) * sh - 2 * ph + kh + oph, (wd - 1) * sw - 2 * pw + kw + opw  # eq. T2
    y = full[:, :, ph:ph + oh, pw:pw + ow]
    return y + (0.0 if b is None else b.reshape(1, o, 1, 1))


# --- forward: references and PyTorch ----------------------------------------------------------------------------

@ORDERS
@pytest.mark.parametrize("kernel, stride, padding, output_padding, shape, cout", CONFIGS)
def test_conv2d_forward_equals_the_loop_reference_eq_C2_C4(kernel, stride, padding, output_padding, shape, cout,
                                                          batch_last, float64, backend_name, rng):
    layer = make_conv(shape[1], cout, kernel, stride, padding, rng, batch_last=batch_last)
    x = rng.standard_normal(shape)
    ours = _np(layer.forward(backend.asarray(x)))
    ref = reference_conv2d(x, _np(layer.W.data), _np(layer.b.data), stride, padding)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12, err_msg="ours vs loop reference")


@ORDERS
@pytest.mark.parametrize("kernel, stride, padding, output_padding, shape, cout", CONFIGS)
def test_conv_transpose2d_forward_equals_the_loop_reference_eq_T4(kernel, stride, padding, output_padding, shape,
                                                                  cout, batch_last, float64, backend_name, rng):
    layer = make_conv_t(shape[1], cout, kernel, stride, padding, output_padding, rng, batch_last=batch_last)
    x = rng.standard_normal(shape)
    ours = _np(layer.forward(backend.asarray(x)))
    ref = reference_conv_transpose2d(x, _np(layer.W.data), _np(layer.b.data), stride, padding, output_padding)
    assert ours.shape == ref.shape == layer.output_shape(shape)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12, err_msg="ours vs loop reference")


@ORDERS
@pytest.mark.parametrize("kernel, stride, padding, output_padding, shape, cout", CONFIGS)
def test_both_layers_equal_pytorch_with_the_same_weights(kernel, stride, padding, output_padding, shape, cout,
                                                         batch_last, float64, rng):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = rng.standard_normal(shape)
    conv = make_conv(shape[1], cout, kernel, stride, padding, rng, batch_last=batch_last)
    expected = tf.conv2d(torch.from_numpy(x), torch.from_numpy(conv.W.data), torch.from_numpy(conv.b.data),
                         stride=stride, padding=padding).numpy()
    np.testing.assert_allclose(conv.forward(x), expected, rtol=0, atol=1e-10)
    conv_t = make_conv_t(shape[1], cout, kernel, stride, padding, output_padding, rng, batch_last=batch_last)
    expected = tf.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(conv_t.W.data),
                                   torch.from_numpy(conv_t.b.data), stride=stride, padding=padding,
                                   output_padding=output_padding).numpy()
    np.testing.assert_allclose(conv_t.forward(x), expected, rtol=0, atol=1e-10)


def test_gradients_equal_pytorchs_autograd(float64, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 7, 6))
    for layer, twin in [
        (make_conv(3, 4, (3, 2), 2, 1, rng), torch.nn.Conv2d(3, 4, (3, 2), 2, 1).double()),
        (make_conv_t(3, 4, 3, 2, 1, 1, rng), torch.nn.ConvTranspose2d(3, 4, 3, 2, 1, 1).double()),
    ]:
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(layer.W.data))
            twin.bias.copy_(torch.from_numpy(layer.b.data))
        tx = torch.from_numpy(x.copy()).requires_grad_(True)
        ty = twin(tx)
        dy = rng.standard_normal(tuple(ty.shape))
        ty.backward(torch.from_numpy(dy))
        layer.forward(x)
        dx = layer.backward(dy)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(layer.W.grad, twin.weight.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(layer.b.grad, twin.bias.grad.numpy(), rtol=0, atol=1e-10)


# --- gradient checks -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("index", range(len(conv_checks.CONFIGS)),
                         ids=[c[0] for c in conv_checks.CONFIGS])
def test_gradient_check_below_1e_7_eqs_C5_C6_C7_C8_T5_T6_T7(index, float64, backend_name):
    name, cls, kwargs, x_shape, batch_last = conv_checks.CONFIGS[index]
    layer, x = conv_checks.build(cls, kwargs, x_shape, batch_last, seed=100 + index)
    errors = check_layer(layer, x)
    assert set(errors) == {"x", "W"} | ({"b"} if layer.bias else set())
    assert max(errors.values()) < EXPECTED_MAX_ERROR, f"{name}: {errors}"


@ORDERS
def test_both_memory_orders_give_the_same_forward_and_backward(batch_last, float64, rng):
    x = rng.standard_normal((3, 4, 9, 7))
    for make in (lambda order: make_conv(4, 5, 3, 2, 1, np.random.default_rng(1), batch_last=order),
                 lambda order: make_conv_t(4, 5, 3, 2, 1, 1, np.random.default_rng(1), batch_last=order)):
        ref_layer, layer = make(False), make(batch_last)
        y_ref, y = ref_layer.forward(x), layer.forward(x)
        dy = rng.standard_normal(y.shape)
        np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-13)
        np.testing.assert_allclose(layer.backward(dy), ref_layer.backward(dy), rtol=0, atol=1e-13)
        np.testing.assert_allclose(layer.W.grad, ref_layer.W.grad, rtol=0, atol=1e-12)


# --- the adjoint identity (eq. T1) -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel, stride, padding, output_padding, shape, cout", CONFIGS)
def test_conv_transpose_is_the_adjoint_of_conv_dot_product_test_eq_T1(kernel, stride, padding, output_padding,
                                                                      shape, cout, float64, rng):
    # <Conv(x), y> = <x, ConvT(y)> for a Conv2d(C→F) and a ConvTranspose2d(F→C) sharing W (F, C, kh, kw), no bias
    n, c, h, w = shape
    conv = make_conv(c, cout, kernel, stride, padding, rng, bias=False)
    y_shape = conv.output_shape(shape)
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel), _pair(stride), _pair(padding)
    op = ((h + 2 * ph - kh) % sh, (w + 2 * pw - kw) % sw)          # makes ConvT's output (H, W) again (eq. T3)
    conv_t = make_conv_t(cout, c, kernel, stride, padding, op, rng, bias=False)
    conv_t.W.data[...] = conv.W.data                                 # the same array: W (F, C, kh, kw) in both
    x, y = rng.standard_normal(shape), rng.standard_normal(y_shape)
    lhs = float(np.sum(conv.forward(x) * y))
    rhs = float(np.sum(x * conv_t.forward(y)))
    assert abs(lhs - rhs) <= 1e-10 * max(abs(lhs), abs(rhs)), (lhs, rhs)


def test_conv_transpose_forward_is_conv_input_gradient_and_its_backward_is_conv_forward_eq_T1(float64, rng):
    conv = make_conv(3, 4, 3, 2, 1, rng, bias=False)
    conv_t = make_conv_t(4, 3, 3, 2, 1, 0, rng, bias=False)
    conv_t.W.data[...] = conv.W.data
    x = rng.standard_normal((2, 3, 7, 7))
    y = rng.standard_normal(conv.output_shape(x.shape))
    conv.forward(x)
    np.testing.assert_allclose(conv_t.forward(y), conv.backward(y), rtol=0, atol=1e-13)
    np.testing.assert_allclose(conv_t.backward(x), conv.forward(x), rtol=0, atol=1e-13)


# --- the layer protocol ------------------------------------------------------------------------------------------------

def test_input_grad_false_skips_dx_and_gives_the_same_parameter_gradients(float64, rng):
    x = rng.standard_normal((2, 3, 6, 6))
    for layer in (make_conv(3, 4, 3, 1, 1, rng), make_conv_t(3, 4, 3, 2, 1, 1, rng)):
        dy = rng.standard_normal(layer.forward(x).shape)
        layer.backward(dy)
        grads = [p.grad.copy() for p in layer.parameters()]
        layer.forward(x)
        assert layer.backward(dy, input_grad=False) is None
        for p, g in zip(layer.parameters(), grads):
            np.testing.assert_array_equal(p.grad, g)


def test_backward_never_modifies_dy_and_a_second_forward_resets_the_gradients(float64, rng):
    x = rng.standard_normal((2, 3, 6, 6))
    for layer in (make_conv(3, 4, 3, 1, 1, rng), make_conv_t(3, 4, 3, 2, 1, 1, rng)):
        dy = rng.standard_normal(layer.forward(x).shape)
        saved = dy.copy()
        layer.backward(dy)
        first = layer.W.grad.copy()
        np.testing.assert_array_equal(dy, saved)
        layer.forward(x)
        layer.backward(dy)
        np.testing.assert_array_equal(layer.W.grad, first)             # replaced, not accumulated across passes


def test_conv2d_backward_needs_a_forward_first_and_after_an_input_gradient(float64, rng):
    layer = make_conv(2, 3, 3, 1, 1, rng)
    with pytest.raises(RuntimeError, match="Conv2d: backward needs a forward first"):
        layer.backward(np.zeros((1, 3, 4, 4)))
    x = rng.standard_normal((1, 2, 4, 4))
    dy = np.ones(layer.forward(x).shape)
    layer.backward(dy, input_grad=False)
    layer.backward(dy, input_grad=False)                             # the columns are intact: allowed
    layer.backward(dy)
    with pytest.raises(RuntimeError, match="reused the columns' memory"):
        layer.backward(dy)


def test_float32_stays_float32(rng):
    x = rng.random((2, 3, 8, 8), dtype=np.float32)
    for layer in (layers.Conv2d(3, 4, 3, padding=1, rng=rng), layers.ConvTranspose2d(3, 4, 3, 2, 1, 1, rng=rng)):
        y = layer.forward(x)
        dx = layer.backward(np.ones_like(y))
        assert y.dtype == dx.dtype == layer.W.grad.dtype == layer.b.grad.dtype == np.float32


def test_weight_layouts_are_pytorchs_and_the_init_is_he_uniform(rng):
    conv, conv_t = layers.Conv2d(3, 8, (3, 5), rng=rng), layers.ConvTranspose2d(3, 8, (3, 5), stride=2, rng=rng)
    assert conv.W.shape == (8, 3, 3, 5) and conv.b.shape == (8,)
    assert conv_t.W.shape == (3, 8, 3, 5) and conv_t.b.shape == (8,)
    assert np.abs(conv.W.data).max() <= np.sqrt(6 / (3 * 15)) and np.all(conv.b.data == 0)
    assert np.abs(conv_t.W.data).max() <= np.sqrt(6 / (3 * 15 / 4))


@pytest.mark.parametrize("layer", [
    layers.Conv2d(3, 8, (3, 5), stride=(1, 2), padding=(1, 0), bias=False, init_name="he_normal"),
    layers.ConvTranspose2d(8, 3, 3, stride=2, padding=1, output_padding=1),
])
def test_config_is_json_and_rebuilds_the_same_layer(layer):
    config = json.loads(json.dumps(layer.config()))
    rebuilt = type(layer)(**config)
    assert rebuilt.config() == layer.config()
    assert rebuilt.W.shape == layer.W.shape and set(rebuilt.params) == set(layer.params)
    assert "kernel_size=" in repr(layer)


def test_output_shape_and_unknown_sizes_eq_C1_T2():
    conv = layers.Conv2d(1, 32, 3, padding=1)
    assert conv.output_shape((None, 1, 28, 28)) == (None, 32, 28, 28)
    assert conv.output_shape((None, 1, None, 28)) == (None, 32, None, 28)
    conv_t = layers.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1)
    assert conv_t.output_shape((None, 64, 7, 7)) == (None, 32, 14, 14)
    assert conv_t.output_shape((5, None, 7, None)) == (5, 32, 14, None)


def test_the_target_conv_model_fits_together_and_restores_28x28():
    model = layers.Sequential(
        layers.Conv2d(1, 32, 3, padding=1), layers.ReLU(),
        layers.Conv2d(32, 64, 3, padding=1), layers.ReLU(),
        layers.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), layers.ReLU(),
        layers.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1), layers.Sigmoid(),
        input_shape=(1, 7, 7))
    assert model.shapes()[-1] == (None, 1, 28, 28)


# --- errors ----------------------------------------------------------------------------------------------------------------

def test_wrong_channel_count_names_the_layer_and_both_shapes():
    model = layers.Sequential(layers.Conv2d(3, 4, 3))
    with pytest.raises(ShapeError, match=r"layer 0 \(Conv2d\): expected input of shape \(N, 3, \?, \?\), "
                                         r"got \(2, 4, 5, 5\)"):
        model.forward(np.zeros((2, 4, 5, 5), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"ConvTranspose2d: expected input of shape \(N, 2, \?, \?\), got \(2, 3, 5, 5\)"):
        layers.ConvTranspose2d(2, 4, 3).forward(np.zeros((2, 3, 5, 5), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"\(N, 3, \?, \?\), got \(2, 75\).*Reshape"):
        layers.Conv2d(3, 4, 3).forward(np.zeros((2, 75), dtype=np.float32))


def test_too_small_input_shows_the_arithmetic_eq_C1():
    layer = layers.Sequential(layers.Conv2d(1, 2, 7, stride=1)).layers[0]
    with pytest.raises(ShapeError, match=r"layer 0 \(Conv2d\): input of spatial size 5×9 does not fit: .*"
                                         r"\(5 \+ 2·0 − 7\) / 1 \+ 1 = −1 < 1"):
        layer.forward(np.zeros((1, 1, 5, 9), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"layers do not fit together.*\(4 \+ 2·0 − 7\) / 1 \+ 1 = −2 < 1"):
        layers.Sequential(layers.Conv2d(1, 2, 7), input_shape=(1, 4, 4))


def test_output_padding_not_below_stride_is_refused_as_in_pytorch_eq_T3():
    with pytest.raises(ShapeError, match=r"ConvTranspose2d: output_padding 2 must be smaller than stride 2"):
        layers.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ShapeError, match=r"output_padding 1 must be smaller than stride 1"):
        layers.ConvTranspose2d(2, 2, 3, output_padding=(0, 1))


@pytest.mark.parametrize("kwargs, message", [
    ({"kernel_size": 0}, "kernel_size must be ≥ 1"),
    ({"kernel_size": (3, 3, 3)}, "kernel_size must be an int or a pair"),
    ({"stride": 0}, "stride must be ≥ 1"),
    ({"padding": -1}, "padding must be ≥ 0"),
    ({"in_channels": 0}, "in_channels must be a positive int"),
])
def test_bad_hyperparameters_raise_value_error_naming_the_argument(kwargs, message):
    args = {"in_channels": 2, "out_channels": 3, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        layers.Conv2d(**args)


def test_integer_images_are_refused():
    with pytest.raises(DTypeError, match="astype"):
        layers.Conv2d(1, 2, 3).forward(np.zeros((1, 1, 5, 5), dtype=np.uint8))


def test_backward_checks_the_gradient_shape(float64, rng):
    layer = make_conv(2, 3, 3, 1, 1, rng)
    layer.forward(rng.standard_normal((2, 2, 5, 5)))
    with pytest.raises(ShapeError, match=r"backward expected a gradient of the output's shape \(2, 3, 5, 5\)"):
        layer.backward(np.zeros((2, 3, 5, 4)))


@pytest.mark.parametrize("c, f, k, p, hw, last", [(4, 1, 3, 1, (6, 5), True), (4, 1, 3, 1, (6, 5), False),
                                                  (5, 2, (3, 2), (2, 0), (7, 4), None), (3, 2, 5, 2, (8, 9), True),
                                                  (6, 3, 1, 0, (3, 4), False), (3, 1, 4, 3, (5, 5), None)])
def test_stride_1_input_gradient_as_a_correlation_equals_col2im_eq_C10(c, f, k, p, hw, last, float64, monkeypatch):
    """With fewer output than input channels, Conv2d's dx is computed as dy correlated with the flipped kernel
    (eq. C10); it must equal the column path col2im(Wᵀ dy) (eqs. C7, C8) it replaces."""
    rng = np.random.default_rng(7)
    layer = layers.Conv2d(c, f, k, padding=p, rng=rng)
    layer.batch_last = last
    assert layer._dx_by_correlation()
    x = rng.standard_normal((3, c, *hw))
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    fast = layer.backward(dy)
    monkeypatch.setattr(layers.Conv2d, "_dx_by_correlation", lambda self: False)
    layer.forward(x)
    reference = layer.backward(dy)
    np.testing.assert_allclose(fast, reference, rtol=1e-12, atol=1e-12)


# --- the fast paths against the plain im2col path ---------------------------------------------------------------
# The plain path, as a learner writes it from docs/math/conv.md: im2col, one GEMM, the bias added after it
# (C3, C4); the weight gradient as dy · colsᵀ, the bias gradient as a sum over dy, the input gradient as
# col2im(Wᵀ dy) (C5–C8); for the transposed convolution, col2im(Wᵀ x) plus the bias, and im2col(dy) (T4–T7).
# The layers fold the bias into the GEMM (eqs. C4b, C6b) or into col2im's start (T4), order the products
# differently, reuse buffers and choose the memory order: they must give the same numbers to float32
# rounding on random configurations.

def plain_conv2d(x, w, b, dy, stride, padding):
    n, f = x.shape[0], w.shape[0]
    kernel = w.shape[2:]
    cols = im2col(x, kernel, stride, padding)                                 # (C·kh·kw, N·OH·OW)  eq. C3
    oh, ow = dy.shape[2:]
    y = (w.reshape(f, -1) @ cols).reshape(f, n, oh, ow).transpose(1, 0, 2, 3) + b.reshape(1, f, 1, 1)   # eq. C4
    dy_mat = dy.transpose(1, 0, 2, 3).reshape(f, -1)                          # (F, N·OH·OW)
    dw = (dy_mat @ cols.T).reshape(w.shape)                                   # eq. C5
    db = dy.sum(axis=(0, 2, 3))                                               # eq. C6
    dx = col2im(w.reshape(f, -1).T @ dy_mat, x.shape, kernel, stride, padding)                         # eqs. C7, C8
    return y, dw, db, dx


def plain_conv_transpose2d(x, w, b, dy, stride, padding, y_shape):
    n, c, h, wd = x.shape
    o, kernel = w.shape[1], w.shape[2:]
    x_mat = x.transpose(1, 0, 2, 3).reshape(c, -1)                            # (C, N·H·W)
    y = col2im(w.reshape(c, -1).T @ x_mat, y_shape, kernel, stride, padding) + b.reshape(1, o, 1, 1)    # eq. T4
    dcols = im2col(dy, kernel, stride, padding)                               # (O·kh·kw, N·H·W)    eq. T5
    dw = (x_mat @ dcols.T).reshape(w.shape)                                   # eq. T5
    db = dy.sum(axis=(0, 2, 3))                                               # eq. T7
    dx = (w.reshape(c, -1) @ dcols).reshape(c, n, h, wd).transpose(1, 0, 2, 3)                        # eq. T6
    return y, dw, db, dx


def _assert_layer_equals_plain(layer, x, plain, rng):
    """One forward and backward of ``layer`` in float32 against ``plain(x, W, b, dy, y_shape)``: y, dW, db, dx
    agree to float32 rounding (2e-5 of the largest value)."""
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    dx = layer.backward(dy)
    for ours, ref, what in zip((y, layer.W.grad, layer.b.grad, dx), plain(x, layer.W.data, layer.b.data, dy, y.shape),
                               ("y", "dW", "db", "dx")):
        assert ours.dtype == np.float32, what
        scale = float(np.abs(ref).max()) or 1.0
        np.testing.assert_allclose(_np(ours), ref, rtol=0, atol=2e-5 * scale, err_msg=f"{what}: ours vs plain im2col")


def _pairs(low, high):
    return st.tuples(st.integers(low, high), st.integers(low, high))


RANDOM_LAYER = dict(k=_pairs(1, 4), s=_pairs(1, 3), channels=_pairs(1, 5),
                    batch_last=st.sampled_from([None, False, True]), seed=st.integers(0, 2**16))


@settings(max_examples=40, deadline=None)
@given(p=_pairs(0, 2), extra=_pairs(0, 6), **RANDOM_LAYER)
def test_conv2d_fast_paths_equal_the_plain_im2col_path_in_float32_eqs_C4b_C6b(k, s, p, extra, channels, batch_last,
                                                                               seed):
    rng = np.random.default_rng(seed)
    (c, f), n = channels, 3
    shape = (n, c, max(1, k[0] - 2 * p[0]) + extra[0], max(1, k[1] - 2 * p[1]) + extra[1])
    layer = make_conv(c, f, k, s, p, rng, batch_last=batch_last)
    _assert_layer_equals_plain(layer, rng.standard_normal(shape, dtype=np.float32),
                               lambda x, w, b, dy, _: plain_conv2d(x, w, b, dy, s, p), rng)


@settings(max_examples=40, deadline=None)
@given(p=_pairs(0, 1), hw=_pairs(1, 6), **RANDOM_LAYER)
def test_conv_transpose2d_fast_paths_equal_the_plain_im2col_path_in_float32_eq_T4(k, s, p, hw, channels, batch_last,
                                                                                  seed):
    rng = np.random.default_rng(seed)
    (c, o), n = channels, 3
    p = (min(p[0], (k[0] - 1) // 2), min(p[1], (k[1] - 1) // 2))               # an output of at least one pixel
    layer = make_conv_t(c, o, k, s, p, 0, rng, batch_last=batch_last)
    _assert_layer_equals_plain(layer, rng.standard_normal((n, c, *hw), dtype=np.float32),
                               lambda x, w, b, dy, y_shape: plain_conv_transpose2d(x, w, b, dy, s, p, y_shape), rng)
