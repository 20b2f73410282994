"""Dense and DenseTied: forward and backward against the equations of docs/math/dense.md (D1–D6),
the tied weight's summed gradient, shape errors and the input dtype rule.

Equation tests run in float64 so that the comparison with the formula is exact to rounding (~1e-15).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from tinyae import backend, layers
from tinyae.errors import DTypeError, ShapeError

N, IN, OUT = 3, 5, 4


def _np(a):
    return backend.to_numpy(a)


def _dense_with_bias(rng, n_in=IN, n_out=OUT):
    layer = layers.Dense(n_in, n_out, rng=rng)
    layer.b.data[...] = backend.asarray(rng.standard_normal(n_out))   # non-zero, so D1 sees it
    return layer


# --- Dense: D1–D4 ---------------------------------------------------------------------------

def test_dense_forward_is_xW_plus_b_eq_D1(backend_name, float64, rng):
    layer = _dense_with_bias(rng)
    x = rng.standard_normal((N, IN))
    y = layer.forward(backend.asarray(x))
    expected = x @ _np(layer.W.data) + _np(layer.b.data)                  # eq. D1
    assert y.shape == (N, OUT)
    np.testing.assert_allclose(_np(y), expected, rtol=1e-13, atol=1e-13)


def test_dense_forward_matches_torch_linear_whose_weight_is_W_transposed_eq_D1(float64, rng):
    torch = pytest.importorskip("torch")
    layer = _dense_with_bias(rng)
    linear = torch.nn.Linear(IN, OUT).double()
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(_np(layer.W.data).T.copy()))
        linear.bias.copy_(torch.from_numpy(_np(layer.b.data)))
    x = rng.standard_normal((N, IN))
    expected = linear(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(_np(layer.forward(backend.asarray(x))), expected, rtol=1e-12, atol=1e-12)


def test_dense_backward_input_grad_is_dy_WT_eq_D2(backend_name, float64, rng):
    layer = _dense_with_bias(rng)
    x, dy = rng.standard_normal((N, IN)), rng.standard_normal((N, OUT))
    layer.forward(backend.asarray(x))
    dx = layer.backward(backend.asarray(dy))
    assert dx.shape == (N, IN)
    np.testing.assert_allclose(_np(dx), dy @ _np(layer.W.data).T, rtol=1e-13, atol=1e-13)   # eq. D2


def test_dense_backward_weight_grad_is_xT_dy_eq_D3(backend_name, float64, rng):
    layer = _dense_with_bias(rng)
    x, dy = rng.standard_normal((N, IN)), rng.standard_normal((N, OUT))
    layer.forward(backend.asarray(x))
    layer.backward(backend.asarray(dy))
    assert layer.W.grad.shape == (IN, OUT)
    np.testing.assert_allclose(_np(layer.W.grad), x.T @ dy, rtol=1e-13, atol=1e-13)       # eq. D3
    # the same as the sum over samples of the per-sample outer products
    np.testing.assert_allclose(_np(layer.W.grad), sum(np.outer(x[n], dy[n]) for n in range(N)), rtol=1e-12)


def test_dense_backward_bias_grad_is_row_sum_of_dy_eq_D4(backend_name, float64, rng):
    layer = _dense_with_bias(rng)
    x, dy = rng.standard_normal((N, IN)), rng.standard_normal((N, OUT))
    layer.forward(backend.asarray(x))
    layer.backward(backend.asarray(dy))
    assert layer.b.grad.shape == (OUT,)
    np.testing.assert_allclose(_np(layer.b.grad), dy.sum(axis=0), rtol=1e-13, atol=1e-13)  # eq. D4


def test_dense_backward_equals_torch_autograd_eq_D2_D3_D4(float64, rng):
    torch = pytest.importorskip("torch")
    layer = _dense_with_bias(rng)
    x, dy = rng.standard_normal((N, IN)), rng.standard_normal((N, OUT))
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(_np(layer.W.data).copy()).requires_grad_()
    bt = torch.from_numpy(_np(layer.b.data).copy()).requires_grad_()
    (xt @ wt + bt).backward(torch.from_numpy(dy))
    layer.forward(backend.asarray(x))
    dx = layer.backward(backend.asarray(dy))
    np.testing.assert_allclose(_np(dx), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(layer.W.grad), wt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(layer.b.grad), bt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_dense_without_bias_has_only_W_and_forward_is_xW_eq_D1(float64, rng):
    layer = layers.Dense(IN, OUT, bias=False, rng=rng)
    assert list(layer.params) == ["W"]
    x = rng.standard_normal((N, IN))
    np.testing.assert_allclose(_np(layer.forward(backend.asarray(x))), x @ _np(layer.W.data), rtol=1e-13)


def test_dense_backward_leaves_dy_unchanged_and_input_grad_false_returns_none_with_same_param_grads(float64, rng):
    layer = _dense_with_bias(rng)
    x, dy = rng.standard_normal((N, IN)), rng.standard_normal((N, OUT))
    dy_copy = dy.copy()
    layer.forward(x)
    layer.backward(dy)
    w_grad, b_grad = layer.W.grad.copy(), layer.b.grad.copy()
    np.testing.assert_array_equal(dy, dy_copy)
    layer.forward(x)
    assert layer.backward(dy, input_grad=False) is None
    np.testing.assert_array_equal(layer.W.grad, w_grad)
    np.testing.assert_array_equal(layer.b.grad, b_grad)


def test_each_forward_starts_a_new_pass_so_grads_are_replaced_not_accumulated_across_steps(float64, rng):
    layer = _dense_with_bias(rng)
    x, dy = rng.standard_normal((N, IN)), rng.standard_normal((N, OUT))
    for _ in range(3):
        layer.forward(x)
        layer.backward(dy)
    np.testing.assert_allclose(layer.W.grad, x.T @ dy, rtol=1e-13)   # once, not three times


def test_dense_backward_before_forward_raises_naming_the_layer():
    with pytest.raises(RuntimeError, match="Dense: backward called before forward"):
        layers.Dense(IN, OUT).backward(np.zeros((N, OUT), np.float32))


# --- DenseTied: D5–D6 and the summed gradient ------------------------------------------------

def _tied_pair(rng):
    encoder = _dense_with_bias(rng, IN, OUT)                  # W: (IN, OUT)
    decoder = layers.DenseTied(encoder)                       # x: (N, OUT) -> y: (N, IN)
    decoder.c.data[...] = backend.asarray(rng.standard_normal(IN))
    return encoder, decoder


def test_dense_tied_forward_is_x_WT_plus_c_eq_D5(backend_name, float64, rng):
    encoder, decoder = _tied_pair(rng)
    assert decoder.W is encoder.W                              # the Parameter itself, not a copy
    h = rng.standard_normal((N, OUT))
    y = decoder.forward(backend.asarray(h))
    assert y.shape == (N, IN)
    np.testing.assert_allclose(_np(y), h @ _np(encoder.W.data).T + _np(decoder.c.data), rtol=1e-13, atol=1e-13)


def test_dense_tied_backward_weight_grad_is_dyT_x_and_input_grad_is_dy_W_eq_D6(backend_name, float64, rng):
    encoder, decoder = _tied_pair(rng)
    h, dy = rng.standard_normal((N, OUT)), rng.standard_normal((N, IN))
    decoder.forward(backend.asarray(h))                        # decoder alone: only its own contribution
    dh = decoder.backward(backend.asarray(dy))
    W = _np(encoder.W.data)
    np.testing.assert_allclose(_np(dh), dy @ W, rtol=1e-13, atol=1e-13)                      # eq. D6
    np.testing.assert_allclose(_np(decoder.W.grad), dy.T @ h, rtol=1e-13, atol=1e-13)         # eq. D6
    np.testing.assert_allclose(_np(decoder.c.grad), dy.sum(axis=0), rtol=1e-13, atol=1e-13)   # eq. D4


def test_tied_weight_grad_is_sum_of_encoder_and_decoder_grads_of_an_untied_copy_eq_D6(backend_name, float64, rng):
    """Multivariate chain rule: L(W) = ℓ(W1, W2) at W1 = W2 = W, so dL/dW = ∂ℓ/∂W1 + ∂ℓ/∂W2."""
    encoder, decoder = _tied_pair(rng)
    tied = layers.Sequential(encoder, layers.Tanh(), decoder)
    # the untied reference: the same function with two independent weights W1 = W, W2 = Wᵀ
    enc_u = layers.Dense(IN, OUT, rng=rng)
    dec_u = layers.Dense(OUT, IN, rng=rng)
    enc_u.W.data[...] = encoder.W.data
    enc_u.b.data[...] = encoder.b.data
    dec_u.W.data[...] = encoder.W.data.T
    dec_u.b.data[...] = decoder.c.data
    untied = layers.Sequential(enc_u, layers.Tanh(), dec_u)

    x, dy = backend.asarray(rng.standard_normal((N, IN))), backend.asarray(rng.standard_normal((N, IN)))
    np.testing.assert_allclose(_np(tied.forward(x)), _np(untied.forward(x)), rtol=1e-13)
    tied.forward(x)
    dx_tied = tied.backward(dy)
    untied.forward(x)
    dx_untied = untied.backward(dy)

    expected = _np(enc_u.W.grad) + _np(dec_u.W.grad).T
    np.testing.assert_allclose(_np(encoder.W.grad), expected, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(_np(dx_tied), _np(dx_untied), rtol=1e-12, atol=1e-13)
    # neither contribution alone is the gradient (the bug of overwriting .grad)
    assert not np.allclose(_np(encoder.W.grad), _np(enc_u.W.grad))
    assert not np.allclose(_np(encoder.W.grad), _np(dec_u.W.grad).T)
    # a second identical pass gives the same gradient: summed within a pass, replaced across passes
    tied.forward(x)
    tied.backward(dy)
    np.testing.assert_allclose(_np(encoder.W.grad), expected, rtol=1e-12, atol=1e-13)


def test_dense_tied_needs_a_dense_encoder():
    with pytest.raises(TypeError, match="DenseTied needs the encoder Dense"):
        layers.DenseTied(layers.ReLU())


# --- shape errors ------------------------------------------------------------------------------

def test_dense_shape_error_names_the_layer_and_both_shapes():
    layer = layers.Dense(IN, OUT)
    with pytest.raises(ShapeError) as info:
        layer.forward(np.zeros((N, IN + 1), np.float32))
    msg = str(info.value)
    assert msg.startswith("Dense:") and "(N, 5)" in msg and "(3, 6)" in msg


def test_dense_shape_error_inside_sequential_names_the_layer_position():
    model = layers.Sequential(layers.Dense(IN, OUT), layers.ReLU(), layers.Dense(OUT, 2))
    with pytest.raises(ShapeError, match=r"layer 0 \(Dense\): expected input of shape \(N, 5\), got \(3, 7\)"):
        model.forward(np.zeros((N, 7), np.float32))


def test_dense_given_images_suggests_a_flatten():
    with pytest.raises(ShapeError, match="Flatten"):
        layers.Dense(4, 2).forward(np.zeros((N, 1, 2, 2), np.float32))


def test_dense_backward_with_wrong_gradient_shape_names_both_shapes():
    layer = layers.Dense(IN, OUT)
    layer.forward(np.zeros((N, IN), np.float32))
    with pytest.raises(ShapeError, match=r"Dense: backward expected a gradient of the output's shape \(3, 4\), got \(3, 5\)"):
        layer.backward(np.zeros((N, IN), np.float32))


def test_dense_tied_shape_error_names_the_layer_and_both_shapes():
    decoder = layers.DenseTied(layers.Dense(IN, OUT))
    with pytest.raises(ShapeError, match=r"DenseTied: expected input of shape \(N, 4\), got \(3, 5\)"):
        decoder.forward(np.zeros((N, IN), np.float32))


# --- the input dtype rule -------------------------------------------------------------------------

def test_float64_input_to_float32_layer_is_cast_with_exactly_one_warning():
    layer = layers.Dense(IN, OUT)
    assert layer.W.data.dtype == np.float32
    x = np.random.default_rng(0).standard_normal((N, IN))          # float64
    with pytest.warns(UserWarning, match="Dense: input of dtype float64 cast to the parameters' dtype float32"):
        y = layer.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x.astype(np.float32) @ layer.W.data + layer.b.data, rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                # a second warning would raise
        assert layer.forward(x).dtype == np.float32


def test_uint8_input_raises_dtype_error_with_the_divide_by_255_hint():
    layer = layers.Dense(IN, OUT)
    with pytest.raises(DTypeError, match=r"Dense: expected floating-point input, got dtype uint8.*/ 255"):
        layer.forward(np.zeros((N, IN), np.uint8))
