"""Activations and Dropout against the equations A1–A10 of docs/math/dense.md: values, derivatives,
numerical safety of sigmoid and tanh for huge inputs, and dropout's train/eval behaviour and seed."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyae import backend, layers
from tinyae.errors import DTypeError

X = np.array([[-3.0, -0.5, 0.0, 0.25, 2.0], [1e-3, -1e-3, 7.0, -7.0, 0.5]])
DY = np.array([[0.3, -1.2, 2.0, 0.7, -0.4], [1.1, 0.9, -0.6, 0.2, 1.5]])


def _np(a):
    return backend.to_numpy(a)


def _run(layer, x, dy):
    y = layer.forward(backend.asarray(x))
    return _np(y), _np(layer.backward(backend.asarray(dy)))


# --- ReLU, LeakyReLU ------------------------------------------------------------------------------

def test_relu_forward_is_max_x_0_eq_A1(backend_name, float64):
    y, _ = _run(layers.ReLU(), X, DY)
    np.testing.assert_array_equal(y, np.maximum(X, 0))


def test_relu_backward_passes_dy_where_x_positive_and_zero_at_and_below_zero_eq_A2(backend_name, float64):
    _, dx = _run(layers.ReLU(), X, DY)
    np.testing.assert_array_equal(dx, DY * (X > 0))
    assert dx[0, 2] == 0.0                                              # the derivative at x = 0 is taken as 0


def test_leaky_relu_forward_is_x_or_alpha_x_eq_A3(backend_name, float64):
    y, _ = _run(layers.LeakyReLU(0.1), X, DY)
    np.testing.assert_allclose(y, np.where(X > 0, X, 0.1 * X), rtol=1e-15)


def test_leaky_relu_backward_slope_is_1_or_alpha_eq_A4(backend_name, float64):
    _, dx = _run(layers.LeakyReLU(0.1), X, DY)
    np.testing.assert_allclose(dx, DY * np.where(X > 0, 1.0, 0.1), rtol=1e-15)


def test_leaky_relu_backward_keeps_float32():
    layer = layers.LeakyReLU(0.2)
    layer.forward(X.astype(np.float32))
    assert layer.backward(DY.astype(np.float32)).dtype == np.float32


# --- Sigmoid --------------------------------------------------------------------------------------

def test_sigmoid_forward_is_one_over_one_plus_exp_minus_x_eq_A5(backend_name, float64):
    y, _ = _run(layers.Sigmoid(), X, DY)
    np.testing.assert_allclose(y, 1.0 / (1.0 + np.exp(-X)), rtol=1e-13)


def test_sigmoid_backward_is_dy_y_one_minus_y_eq_A6(backend_name, float64):
    y, dx = _run(layers.Sigmoid(), X, DY)
    np.testing.assert_allclose(dx, DY * y * (1 - y), rtol=1e-14)
    s = 1.0 / (1.0 + np.exp(-X))
    np.testing.assert_allclose(dx, DY * np.exp(-X) / (1 + np.exp(-X)) ** 2, rtol=1e-12)   # σ' from its definition
    np.testing.assert_allclose(dx, DY * s * (1 - s), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_of_huge_inputs_up_to_1e4_gives_exact_limits_without_overflow_warnings_eq_A5(dtype):
    x = np.array([[-1e4, -1e3, -800.0, -100.0, 0.0, 100.0, 800.0, 1e3, 1e4]], dtype=dtype)
    layer = layers.Sigmoid()
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        y = layer.forward(x)
        dx = layer.backward(np.ones_like(x))
    assert y.dtype == np.dtype(dtype) and np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    assert y[0, 0] == 0.0 and y[0, -1] == 1.0 and y[0, 4] == 0.5
    assert np.all((0 <= y) & (y <= 1)) and np.all(np.diff(y[0]) >= 0)      # bounded and monotone
    assert dx[0, 0] == 0.0 and dx[0, -1] == 0.0                              # saturated: σ' = 0, not NaN


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1e4, max_value=1e4, allow_nan=False))
def test_sigmoid_stable_form_is_in_unit_interval_and_matches_the_definition_for_any_x_eq_A5(value):
    x = np.array([[value]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # (underflow of a subnormal x/2 is harmless)
        y = float(layers.Sigmoid().forward(x)[0, 0])
    assert 0.0 <= y <= 1.0
    with np.errstate(over="ignore"):
        reference = 1.0 / (1.0 + np.exp(-value))     # the textbook form (may overflow to 1/inf = 0)
    assert abs(y - reference) <= 1e-15 + 1e-13 * reference


# --- Tanh -----------------------------------------------------------------------------------------

def test_tanh_forward_eq_A7(backend_name, float64):
    y, _ = _run(layers.Tanh(), X, DY)
    np.testing.assert_allclose(y, (np.exp(X) - np.exp(-X)) / (np.exp(X) + np.exp(-X)), rtol=1e-14, atol=1e-16)


def test_tanh_backward_is_dy_one_minus_y_squared_eq_A8(backend_name, float64):
    y, dx = _run(layers.Tanh(), X, DY)
    np.testing.assert_allclose(dx, DY * (1 - np.tanh(X) ** 2), rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(dx, DY / np.cosh(X) ** 2, rtol=1e-9)    # 1 − y² cancels for |x| = 7


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tanh_of_huge_inputs_saturates_without_overflow_eq_A7_A8(dtype):
    x = np.array([[-1e4, -50.0, 50.0, 1e4]], dtype=dtype)
    layer = layers.Tanh()
    with np.errstate(all="raise"):
        y = layer.forward(x)
        dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(y, [[-1, -1, 1, 1]])
    np.testing.assert_array_equal(dx, 0)


# --- protocol rules shared by every activation -------------------------------------------------------

ACTIVATIONS = [layers.ReLU, lambda: layers.LeakyReLU(0.1), layers.Sigmoid, layers.Tanh, layers.Identity]


@pytest.mark.parametrize("make", ACTIVATIONS, ids=["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Identity"])
def test_activation_leaves_x_and_dy_unchanged_and_keeps_shape_and_dtype(make):
    x, dy = X.astype(np.float32).reshape(1, 2, 5), DY.astype(np.float32).reshape(1, 2, 5)
    x0, dy0 = x.copy(), dy.copy()
    layer = make()
    y = layer.forward(x)
    dx = layer.backward(dy)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dy, dy0)
    assert y.shape == dx.shape == x.shape and y.dtype == dx.dtype == np.float32


@pytest.mark.parametrize("make", ACTIVATIONS, ids=["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Identity"])
def test_activation_rejects_integer_input_and_backward_before_forward(make):
    with pytest.raises(DTypeError, match="/ 255"):
        make().forward(np.zeros((2, 3), np.uint8))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        make().backward(np.zeros((2, 3), np.float32))


# --- Dropout --------------------------------------------------------------------------------------

def test_dropout_train_mode_zeroes_about_p_and_scales_survivors_by_one_over_one_minus_p_eq_A9(backend_name):
    p = 0.3
    x = backend.asarray(np.random.default_rng(0).uniform(1, 2, (200, 100)))
    layer = layers.Dropout(p, seed=0)
    y = _np(layer.forward(x))
    xn = _np(x)
    kept = y != 0
    assert abs(1 - kept.mean() - p) < 0.01                        # 20 000 draws: std of the rate 0.003
    np.testing.assert_allclose(y[kept], xn[kept] / (1 - p), rtol=1e-6)
    assert abs(y.mean() / xn.mean() - 1) < 0.02                    # E[y] = x (inverted dropout)


def test_dropout_backward_uses_the_same_mask_and_scale_eq_A10(backend_name):
    p = 0.5
    x = backend.asarray(np.random.default_rng(1).uniform(1, 2, (8, 16)))
    layer = layers.Dropout(p, seed=3)
    y = _np(layer.forward(x))
    dy = np.random.default_rng(2).standard_normal((8, 16)).astype(np.float32)
    dx = _np(layer.backward(backend.asarray(dy)))
    mask = (y != 0).astype(np.float32)
    np.testing.assert_allclose(dx, dy * mask / (1 - p), rtol=1e-6)


def test_dropout_eval_mode_is_the_identity_forward_and_backward_eq_A9_A10():
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    dy = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    layer = layers.Dropout(0.5, seed=0).eval()
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(dy), dy)
    layer.train()
    assert np.any(layer.forward(x) != x)


def test_dropout_masks_are_reproducible_from_the_seed_and_fresh_at_every_forward_eq_A9():
    x = np.ones((10, 10), np.float32)
    a, b, c = layers.Dropout(0.5, seed=7), layers.Dropout(0.5, seed=7), layers.Dropout(0.5, seed=8)
    ya1, ya2 = a.forward(x), a.forward(x)
    yb1, yb2 = b.forward(x), b.forward(x)
    np.testing.assert_array_equal(ya1, yb1)          # same seed, same sequence of masks
    np.testing.assert_array_equal(ya2, yb2)
    assert np.any(ya1 != ya2)                         # a new mask at every forward
    assert np.any(c.forward(x) != ya1)                # another seed, another mask


def test_dropout_p_zero_is_the_identity_and_p_out_of_range_raises():
    x = np.ones((3, 4), np.float32)
    np.testing.assert_array_equal(layers.Dropout(0.0).forward(x), x)
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
            layers.Dropout(bad)
