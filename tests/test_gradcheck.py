"""The gradient check (docs/math/dense.md, "How the gradient check works"): every standard case passes
below 1e-7 in float64, the check catches wrong backward passes, and its formulas are the documented ones."""
from __future__ import annotations

import io

import numpy as np
import pytest

from tinyae import backend, checks, gradcheck, layers, losses

CASES = dict(checks.all_cases())
EXPECTED_MAX_ERROR = 1e-7           # measured worst: ~2e-8 (BCE through a small model); typical 1e-12–1e-9


@pytest.mark.parametrize("name", list(CASES))
def test_standard_case_backward_matches_finite_differences_below_1e_7(name, float64):
    errors = CASES[name]()
    assert errors, f"{name}: no gradients were checked"
    bad = {what: err for what, err in errors.items() if not err < EXPECTED_MAX_ERROR}
    assert not bad, f"{name}: relative error above {EXPECTED_MAX_ERROR:g}: {bad}"


def test_standard_cases_cover_every_equation_family():
    names = " ".join(CASES)
    for needed in ("Dense", "DenseTied", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "MSE", "BCE",
                   "BCEWithLogits", "model"):
        assert needed in names, f"no standard gradient-check case for {needed}"


# --- the check detects wrong backward passes --------------------------------------------------------

class DenseMissingTranspose(layers.Dense):
    """Broken: input gradient dy·W (without the transpose of eq. D2) on a square layer, so shapes still fit."""

    def backward(self, dy, input_grad=True):
        super().backward(dy, input_grad=False)
        return dy @ self.W.data


class DenseMeanBias(layers.Dense):
    """Broken: bias gradient the mean of the rows instead of their sum (eq. D4)."""

    def backward(self, dy, input_grad=True):
        dx = super().backward(dy, input_grad)
        self.b.grad = dy.mean(axis=0)
        return dx


class DenseOverwritesGrad(layers.Dense):
    """Broken: writes W.grad instead of accumulating it, which drops a tied decoder's contribution (eq. D6)."""

    def backward(self, dy, input_grad=True):
        dx = super().backward(dy, input_grad)
        self.W.grad = self._x.T @ dy
        return dx


class SigmoidWrongDerivative(layers.Sigmoid):
    """Broken: dy·y instead of dy·y(1 − y) (eq. A6)."""

    def backward(self, dy):
        return dy * self._cache


@pytest.mark.parametrize("make, wrong", [
    (lambda rng: DenseMissingTranspose(4, 4, rng=rng), "x"),
    (lambda rng: DenseMeanBias(4, 3, rng=rng), "b"),
    (lambda rng: SigmoidWrongDerivative(), "x"),
], ids=["Dense without the transpose of D2", "Dense bias grad a mean, not D4's sum", "Sigmoid without A6's (1 - y)"])
def test_gradient_check_detects_a_wrong_backward_with_a_large_error(make, wrong, float64):
    rng = np.random.default_rng(0)
    layer = make(rng)
    if layer.params:
        layer.b.data[...] = rng.standard_normal(layer.b.shape)
    errors = gradcheck.check_layer(layer, rng.standard_normal((5, 4)))
    assert errors[wrong] > 1e-2, errors
    right = {k: v for k, v in errors.items() if k != wrong}
    assert all(v < EXPECTED_MAX_ERROR for v in right.values()), right      # only the broken gradient is flagged


def test_gradient_check_detects_a_tied_weight_that_gets_only_one_contribution_eq_D6(float64):
    rng = np.random.default_rng(1)
    encoder = DenseOverwritesGrad(6, 3, rng=rng)
    model = layers.Sequential(encoder, layers.Tanh(), layers.DenseTied(encoder))
    errors = gradcheck.check_model(model, losses.MSE(), rng.random((4, 6)), rng.random((4, 6)))
    assert errors["0.W"] > 1e-2, errors
    assert errors["x"] < EXPECTED_MAX_ERROR and errors["2.c"] < EXPECTED_MAX_ERROR


# --- the formulas ------------------------------------------------------------------------------------

def test_relative_error_is_max_abs_difference_over_max_magnitude_with_a_1e_12_floor():
    a = np.array([1.0, -2.0, 0.0, 1e-20, 3.0])
    n = np.array([1.1, -2.0, 0.0, 0.0, 3.0])
    # entries: 0.1/1.1, 0, 0/1e-12 = 0, 1e-20/1e-12 = 1e-8 (the floor stops 1e-20/1e-20 = 1), 0
    assert gradcheck.relative_error(a, n) == pytest.approx(0.1 / 1.1, rel=1e-12)
    assert gradcheck.relative_error(np.array([1e-20]), np.array([0.0])) == pytest.approx(1e-8)
    assert gradcheck.relative_error(np.array([0.0]), np.array([0.0])) == 0.0
    assert gradcheck.relative_error(np.array([2.0]), np.array([-2.0])) == 2.0        # opposite signs: 2
    assert gradcheck.relative_error(np.zeros(0), np.zeros(0)) == 0.0
    with pytest.raises(ValueError, match="shape"):
        gradcheck.relative_error(np.zeros(2), np.zeros(3))


def test_fourth_order_difference_is_exact_for_quartics_where_the_second_order_one_is_not():
    # f(θ) = θ⁴: f' = 4θ³; D(h) = f' + (h²/6)·f''' = 4θ³ + 4θh²; the fourth-order error −h⁴f⁽⁵⁾/30 vanishes
    theta = np.array([0.7])
    h = 1e-2

    def f():
        return float(theta[0] ** 4)

    fourth = gradcheck.numerical_gradient(f, theta, h=h, order=4)[0]
    second = gradcheck.numerical_gradient(f, theta, h=h, order=2)[0]
    assert fourth == pytest.approx(4 * 0.7 ** 3, rel=1e-12)
    assert second == pytest.approx(4 * 0.7 ** 3 + 4 * 0.7 * h ** 2, rel=1e-9)
    assert theta[0] == 0.7                                         # the array is restored
    with pytest.raises(ValueError, match="order must be 2 or 4"):
        gradcheck.numerical_gradient(f, theta, order=3)


def test_check_layer_uses_the_vjp_with_a_random_upstream_gradient(float64):
    # for a linear layer f(x) = Σ (xW + b)·dy exactly, so the numerical gradient is exact up to rounding
    rng = np.random.default_rng(2)
    errors = gradcheck.check_layer(layers.Dense(3, 2, rng=rng), rng.standard_normal((4, 3)), seed=5)
    assert set(errors) == {"x", "W", "b"} and max(errors.values()) < 1e-9


def test_run_table_prints_every_check_and_a_verdict(float64):
    out = io.StringIO()
    rows = gradcheck.run_table(["Dense(5→4)"], out=out)
    text = out.getvalue()
    assert rows and all(name.startswith("Dense(5→4)") for name, _, _ in rows)
    assert "max relative error" in text and "all below 1e-7" in text
    assert backend.dtype() == np.float64                           # run_table restored the fixture's dtype
