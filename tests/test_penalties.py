"""Penalties (docs/math/penalties.md, R1–R5): the value each layer adds, its gradient, how containers sum
them, and how fit, evaluate and History report the data term and the penalty apart."""
from __future__ import annotations

import numpy as np
import pytest

from tinyae import gradcheck, layers, losses, models
from tinyae.checks import away_from_zero
from tinyae.errors import DataError, NumericalError
from tinyae.models import Autoencoder
from tinyae.train import evaluate, fit


def test_activity_l1_adds_lambda_times_the_sum_of_abs_over_the_batch_size_eq_R1(rng):
    h = rng.standard_normal((8, 5)).astype(np.float32)
    layer = layers.ActivityL1(0.01)
    out = layer.forward(h)
    assert out is h                                                         # identity on the way forward
    assert layer.penalty == pytest.approx(0.01 * np.abs(h).sum() / 8, rel=1e-6)
    twice = np.concatenate([h, h])                                          # Keras's batch_mean: batch-agnostic
    assert layer.forward(twice) is twice and layer.penalty == pytest.approx(0.01 * np.abs(h).sum() / 8, rel=1e-6)
    keras3 = layers.ActivityL1(0.01, reduction="sum")                       # Keras 3: the plain sum
    keras3.forward(twice)
    assert keras3.penalty == pytest.approx(0.01 * 2 * np.abs(h).sum(), rel=1e-6)


def test_activity_l1_gradient_matches_finite_differences_eq_R2(float64, rng):
    for reduction in ("batch_mean", "sum"):
        errors = gradcheck.check_layer(layers.ActivityL1(0.2, reduction=reduction), away_from_zero(rng, (6, 4)))
        assert errors["x"] < 1e-7, (reduction, errors)


def test_activity_l1_backward_adds_the_sign_and_does_not_touch_dy(rng):
    h = np.array([[1.0, -2.0, 0.0]], np.float32)
    layer = layers.ActivityL1(0.5)
    layer.forward(h)
    dy = np.ones_like(h)
    dx = layer.backward(dy)
    np.testing.assert_allclose(dx, [[1.5, 0.5, 1.0]])                       # sign(0) = 0
    np.testing.assert_array_equal(dy, np.ones_like(h))


def test_kl_sparsity_equals_the_bernoulli_kl_of_the_mean_activations_eq_R3_R4(rng):
    h = rng.uniform(0.05, 0.95, (10, 4))
    layer = layers.KLSparsity(target=0.1, weight=3.0)
    layer.forward(h)
    rho_hat = h.mean(axis=0)                                                # eq. R3
    kl = 0.1 * np.log(0.1 / rho_hat) + 0.9 * np.log(0.9 / (1 - rho_hat))   # eq. R4
    assert layer.penalty == pytest.approx(3.0 * kl.sum(), rel=1e-12)
    layer.forward(np.full((10, 4), 0.1))
    assert layer.penalty == pytest.approx(0.0, abs=1e-12)                   # at the target: no penalty


def test_kl_sparsity_gradient_matches_finite_differences_eq_R5(float64, rng):
    errors = gradcheck.check_layer(layers.KLSparsity(0.05, 2.0), rng.uniform(0.05, 0.95, (7, 3)))
    assert errors["x"] < 1e-7, errors


def test_kl_sparsity_refuses_values_outside_zero_one():
    with pytest.raises(DataError, match=r"KLSparsity: expected activations in \[0, 1\] .* put a Sigmoid"):
        layers.KLSparsity().forward(np.array([[0.5, 1.5]], np.float32))


def test_kl_sparsity_of_a_dead_unit_is_finite_and_its_clipped_gradient_is_zero():
    h = np.zeros((4, 2))
    h[:, 1] = 0.5
    layer = layers.KLSparsity(0.1, 1.0)
    layer.forward(h)
    assert np.isfinite(layer.penalty) and layer.penalty > 1.0
    dx = layer.backward(np.zeros_like(h))
    assert np.all(dx[:, 0] == 0) and np.all(dx[:, 1] != 0)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "0.1", True])
def test_penalty_weights_must_be_numbers_at_least_zero(bad):
    with pytest.raises(ValueError, match="weight must be a number"):
        layers.ActivityL1(bad)


def test_containers_sum_the_penalties_of_their_layers(rng):
    h = rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32)
    a, b = layers.ActivityL1(0.1), layers.KLSparsity(0.2, 1.0)
    seq = layers.Sequential(a, b)
    seq.forward(h)
    assert seq.penalty == pytest.approx(a.penalty + b.penalty) and a.penalty > 0 and b.penalty > 0
    model = Autoencoder(layers.Sequential(layers.ActivityL1(0.1)), layers.Sequential(layers.ActivityL1(0.3)))
    model.forward(h)
    assert model.penalty == pytest.approx(0.4 * np.abs(h).sum() / 4, rel=1e-6)


def test_fit_minimises_data_plus_penalty_and_history_reports_them_apart():
    x = np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32)
    model = models.build("sparse", seed=0)
    history = fit(model, x, epochs=2, batch_size=16, validation_data=x[:32], verbose=0)
    for total, data, penalty in zip(history.loss, history.data_loss, history.penalty):
        assert penalty > 0 and total == pytest.approx(data + penalty, rel=1e-12)
    for total, data, penalty in zip(history.val_loss, history.val_data_loss, history.val_penalty):
        assert penalty > 0 and total == pytest.approx(data + penalty, rel=1e-12)
    assert history.has_penalty
    final = evaluate(model, x[:32], parts=True)
    assert final["total"] == pytest.approx(history.val_loss[-1], rel=1e-9)
    assert final["units"] == "per pixel"


def test_the_penalty_changes_the_encoders_gradient_only():
    """The same weights with λ = 0.5 and λ = 0: the L1 term's gradient enters below the code (eq. R2), so the
    encoder's gradient differs and the decoder's is the same to the bit."""
    x = np.random.default_rng(1).random((8, 1, 28, 28), dtype=np.float32)
    with_l1, without = models.sparse(seed=3, weight=0.5), models.sparse(seed=3, weight=0.0)
    for model in (with_l1, without):
        loss = losses.BCE()
        loss.forward(model.forward(x), x)
        model.backward(loss.backward())
    assert not np.allclose(with_l1.encoder[1].W.grad, without.encoder[1].W.grad)
    np.testing.assert_array_equal(with_l1.decoder[0].W.grad, without.decoder[0].W.grad)


def test_a_non_finite_penalty_stops_fit_naming_the_layer():
    x = np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32)
    model = models.build("sparse", seed=0)
    model.encoder[3].weight = float("inf")
    with pytest.raises(NumericalError, match=r"the penalty became inf .* the penalty of encoder layer 3 \(ActivityL1\)"):
        fit(model, x, epochs=1, batch_size=8, verbose=0)
