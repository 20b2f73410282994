"""Losses against the equations L1–L6 of docs/math/dense.md, against torch.nn.functional when torch
is importable, the fused sigmoid + BCE simplification, numerical safety and shape errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from tinyae import backend, gradcheck, layers, losses
from tinyae.errors import ShapeError

RNG = np.random.default_rng(0)
SHAPE = (3, 2, 4)                                   # any shape: a mean over all n = 24 elements
PRED = RNG.uniform(0.05, 0.95, SHAPE)                 # probabilities away from the clip
TARGET = RNG.random(SHAPE)                            # soft targets in [0, 1], like pixel intensities
LOGITS = 3 * RNG.standard_normal(SHAPE)
N_ELEMENTS = PRED.size


def _np(a):
    return backend.to_numpy(a)


def _forward_backward(loss, pred, target):
    value = loss.forward(backend.asarray(pred), backend.asarray(target))
    return value, _np(loss.backward())


# --- MSE --------------------------------------------------------------------------------------------

def test_mse_is_the_mean_of_squared_errors_over_all_elements_eq_L1(backend_name, float64):
    value, _ = _forward_backward(losses.MSE(), PRED, TARGET)
    assert isinstance(value, float)
    assert value == pytest.approx(np.sum((PRED - TARGET) ** 2) / N_ELEMENTS, rel=1e-14)


def test_mse_gradient_is_two_over_n_times_the_error_eq_L2(backend_name, float64):
    _, grad = _forward_backward(losses.MSE(), PRED, TARGET)
    np.testing.assert_allclose(grad, 2.0 / N_ELEMENTS * (PRED - TARGET), rtol=1e-14)


def test_mse_is_per_pixel_so_the_per_image_sum_of_squares_is_D_times_it_eq_L1():
    x = RNG.random((5, 1, 28, 28))
    y = RNG.random((5, 1, 28, 28))
    per_image = np.mean(np.sum((x - y).reshape(5, -1) ** 2, axis=1))    # the column-form L_seed
    assert per_image == pytest.approx(784 * losses.MSE().forward(x, y), rel=1e-12)


# --- BCE on probabilities ---------------------------------------------------------------------------

def test_bce_is_the_mean_cross_entropy_eq_L3(backend_name, float64):
    value, _ = _forward_backward(losses.BCE(), PRED, TARGET)
    expected = -np.mean(TARGET * np.log(PRED) + (1 - TARGET) * np.log(1 - PRED))
    assert value == pytest.approx(expected, rel=1e-13)


def test_bce_gradient_is_p_minus_t_over_p_one_minus_p_over_n_eq_L4(backend_name, float64):
    _, grad = _forward_backward(losses.BCE(), PRED, TARGET)
    np.testing.assert_allclose(grad, (PRED - TARGET) / (PRED * (1 - PRED)) / N_ELEMENTS, rtol=1e-13)


def test_bce_clips_probabilities_so_zero_and_one_give_finite_loss_and_zero_gradient_eq_L3_L4():
    pred = np.array([[0.0, 1.0, 0.5, 1e-9]])
    target = np.array([[1.0, 0.0, 1.0, 1.0]])
    loss = losses.BCE(eps=1e-7)
    with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.forward(pred, target)
        grad = loss.backward()
    eps = 1e-7
    expected = -np.mean([np.log(eps), np.log(1 - (1 - eps)), np.log(0.5), np.log(eps)])
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(grad[0, [0, 1, 3]], 0.0)            # the clipped function is flat there
    assert grad[0, 2] == pytest.approx((0.5 - 1.0) / 0.25 / 4)


# --- BCE on logits ----------------------------------------------------------------------------------

def test_bce_with_logits_stable_form_equals_bce_of_the_sigmoid_eq_L5(backend_name, float64):
    value, _ = _forward_backward(losses.BCEWithLogits(), LOGITS, TARGET)
    p = 1 / (1 + np.exp(-LOGITS))
    expected = -np.mean(TARGET * np.log(p) + (1 - TARGET) * np.log(1 - p))
    assert value == pytest.approx(expected, rel=1e-12)


def test_bce_with_logits_gradient_is_sigmoid_minus_t_over_n_eq_L6(backend_name, float64):
    _, grad = _forward_backward(losses.BCEWithLogits(), LOGITS, TARGET)
    np.testing.assert_allclose(grad, (1 / (1 + np.exp(-LOGITS)) - TARGET) / N_ELEMENTS, rtol=1e-13)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_with_logits_is_exact_and_silent_for_logits_up_to_1e4_eq_L5_L6(dtype):
    z = np.array([[-1e4, 1e4, -1e4, 1e4, 0.0]], dtype=dtype)
    t = np.array([[1.0, 0.0, 0.0, 1.0, 1.0]], dtype=dtype)
    loss = losses.BCEWithLogits()
    with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.forward(z, t)
        grad = loss.backward()
    # per element: 1e4 (wrong by 1e4), 1e4, ≈0, ≈0, log 2
    assert value == pytest.approx((1e4 + 1e4 + np.log(2)) / 5, rel=1e-6)
    np.testing.assert_allclose(grad, np.array([[-1, 1, 0, 0, -0.5]]) / 5, atol=1e-7)
    assert grad.dtype == np.dtype(dtype)


def test_fused_sigmoid_then_bce_gradient_simplifies_to_yhat_minus_t_over_n_eq_L4_L6(float64):
    sigmoid, bce, fused = layers.Sigmoid(), losses.BCE(), losses.BCEWithLogits()
    y_hat = sigmoid.forward(LOGITS)
    assert np.all((y_hat > 1e-6) & (y_hat < 1 - 1e-6))               # away from the clip
    bce.forward(y_hat, TARGET)
    dz_two_layers = sigmoid.backward(bce.backward())                  # A6 · L4
    fused.forward(LOGITS, TARGET)
    dz_fused = fused.backward()                                       # L6
    np.testing.assert_allclose(dz_two_layers, (y_hat - TARGET) / N_ELEMENTS, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(dz_fused, (y_hat - TARGET) / N_ELEMENTS, rtol=1e-12, atol=1e-15)


def test_saturated_sigmoid_then_bce_gets_no_gradient_where_bce_with_logits_still_does_eq_L4_L6():
    # float32, confidently wrong: σ(±20) is beyond the clip, so A6 · L4 is 0; L6 gives (σ(z) − t)/n ≈ ±1/n
    z = np.array([[20.0, -20.0]], np.float32)
    t = np.array([[0.0, 1.0]], np.float32)
    sigmoid, bce, fused = layers.Sigmoid(), losses.BCE(), losses.BCEWithLogits()
    bce.forward(sigmoid.forward(z), t)
    np.testing.assert_array_equal(sigmoid.backward(bce.backward()), 0.0)
    fused.forward(z, t)
    np.testing.assert_allclose(fused.backward(), [[0.5, -0.5]], rtol=1e-6)


# --- against torch.nn.functional -------------------------------------------------------------------

def _torch_value_and_grad(fn, pred, target):
    torch = pytest.importorskip("torch")
    p = torch.from_numpy(pred).requires_grad_()
    value = fn(p, torch.from_numpy(target))
    value.backward()
    return float(value), p.grad.numpy()


@pytest.mark.parametrize("name, pred", [("mse", PRED), ("bce", PRED), ("bce_with_logits", LOGITS)])
def test_losses_and_gradients_equal_torch_functional_eq_L1_to_L6(name, pred, float64):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    fn = {"mse": F.mse_loss, "bce": F.binary_cross_entropy,
          "bce_with_logits": F.binary_cross_entropy_with_logits}[name]
    expected_value, expected_grad = _torch_value_and_grad(fn, pred, TARGET)
    value, grad = _forward_backward(losses.get(name), pred, TARGET)
    assert value == pytest.approx(expected_value, rel=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-15)


# --- errors and lookup -------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", [losses.MSE(), losses.BCE(), losses.BCEWithLogits()], ids=lambda l: l.label)
def test_shape_mismatch_raises_shape_error_naming_the_loss_and_both_shapes(loss):
    with pytest.raises(ShapeError, match=rf"{loss.label}: .*prediction \(2, 3\) and target \(3, 2\)"):
        loss.forward(np.zeros((2, 3)), np.zeros((3, 2)))


@pytest.mark.parametrize("loss", [losses.MSE(), losses.BCE(), losses.BCEWithLogits()], ids=lambda l: l.label)
def test_backward_before_forward_raises(loss):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        loss.backward()


def test_target_of_another_dtype_is_cast_to_the_predictions_dtype():
    loss = losses.MSE()
    loss.forward(PRED.astype(np.float32), TARGET)                     # float64 target
    assert loss.backward().dtype == np.float32


def test_get_accepts_a_name_or_a_loss_and_rejects_unknown_names():
    assert isinstance(losses.get("mse"), losses.MSE)
    bce = losses.BCE()
    assert losses.get(bce) is bce
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        losses.get("l1")


@pytest.mark.parametrize("name", ["mse", "bce", "bce_with_logits"])
def test_per_image_losses_sum_over_each_image_and_average_over_images_eq_L7(name, float64):
    rng = np.random.default_rng(5)
    pred = rng.uniform(0.05, 0.95, (4, 1, 3, 5)) if name != "bce_with_logits" else rng.standard_normal((4, 1, 3, 5))
    target = rng.random((4, 1, 3, 5))
    per_pixel, per_image = losses.get(name), losses.get(f"{name}_per_image")
    assert per_pixel.units == "per pixel" and per_image.units == "per image" and per_image.name == f"{name}_per_image"
    value = per_image.forward(pred, target)
    assert value == pytest.approx(per_pixel.forward(pred, target) * 15, rel=1e-12)      # D = 15 pixels
    np.testing.assert_allclose(per_image.backward(), per_pixel.backward() * 15, rtol=1e-12)
    assert gradcheck.check_loss(per_image, pred, target)["pred"] < 1e-7


def test_an_unknown_loss_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown loss 'l1'.*'bce_per_image'"):
        losses.get("l1")
