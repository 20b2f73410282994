"""Softmax classification from tinyae's own parts (docs/math/dense.md, L8–L10): the loss and its fused
gradient, stability for large logits, accuracy and the confusion matrix, fit with labels as targets."""
from __future__ import annotations

import numpy as np
import pytest

from tinyae import gradcheck, layers, losses, metrics, optim
from tinyae.errors import DTypeError, ShapeError
from tinyae.train import evaluate, fit, predict


def test_softmax_cross_entropy_is_minus_the_mean_log_probability_of_the_label_eq_L8_L9(rng):
    z = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(6), y]))
    assert losses.SoftmaxCrossEntropy().forward(z, y) == pytest.approx(expected, rel=1e-12)
    one_hot = np.eye(4)[y]
    assert losses.SoftmaxCrossEntropy().forward(z, one_hot) == pytest.approx(expected, rel=1e-12)


def test_softmax_cross_entropy_gradient_is_probabilities_minus_one_hot_over_n_eq_L10(float64, rng):
    z, y = 3 * rng.standard_normal((7, 5)), rng.integers(0, 5, 7)
    loss = losses.SoftmaxCrossEntropy()
    loss.forward(z, y)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss.backward(), (p - np.eye(5)[y]) / 7, rtol=1e-12, atol=1e-15)
    assert gradcheck.check_loss(losses.SoftmaxCrossEntropy(), z, y.astype(float))["pred"] < 1e-7


def test_softmax_cross_entropy_is_finite_for_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [-1e4, 1e4, 0.0]], np.float32)
    loss = losses.SoftmaxCrossEntropy()
    assert loss.forward(z, np.array([0, 1])) == pytest.approx(0.0, abs=1e-6)
    assert loss.forward(z, np.array([2, 0])) == pytest.approx((2000.0 + 2e4) / 2, rel=1e-6)
    assert np.all(np.isfinite(loss.backward()))


def test_softmax_cross_entropy_agrees_with_pytorch(rng):
    torch = pytest.importorskip("torch")
    z, y = rng.standard_normal((8, 10)), rng.integers(0, 10, 8)
    zt = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(zt, torch.tensor(y))
    ref.backward()
    loss = losses.SoftmaxCrossEntropy()
    assert loss.forward(z, y) == pytest.approx(float(ref), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), zt.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("target, message", [(np.array([0, 5]), r"labels must be in 0\.\.3"),
                                             (np.array([0.5, 1.0]), "whole numbers"),
                                             (np.zeros((2, 3)), "targets must be labels")])
def test_bad_class_targets_are_named(target, message):
    with pytest.raises(ShapeError, match=message):
        losses.SoftmaxCrossEntropy().forward(np.zeros((2, 4)), target)


def test_accuracy_and_confusion_matrix():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1])
    assert metrics.accuracy(scores, labels) == 0.75
    assert metrics.accuracy(np.array([0, 1, 0, 1]), labels) == 0.75
    np.testing.assert_array_equal(metrics.confusion_matrix(scores, labels), [[1, 0], [1, 2]])
    assert metrics.confusion_matrix(scores, labels, classes=3).shape == (3, 3)


def test_fit_trains_a_classifier_with_integer_labels_as_targets(rng):
    x = rng.standard_normal((300, 2)).astype(np.float32)
    y = ((x[:, 0] + x[:, 1] > 0).astype(np.uint8) + (x[:, 0] > 1.0)).astype(np.uint8)   # three classes
    model = layers.Sequential(layers.Dense(2, 16, rng=0), layers.Tanh(), layers.Dense(16, 3, rng=1))
    history = fit(model, x, y, loss="softmax_cross_entropy", epochs=30, batch_size=32, verbose=0,
                  validation_data=(x[:100], y[:100]), optimizer=optim.Adam(model.parameters(), lr=1e-2))
    assert history.loss[-1] < history.loss[0] and history.units == "per sample"
    assert metrics.accuracy(predict(model, x), y) > 0.95
    assert evaluate(model, x, y, loss="softmax_cross_entropy") == pytest.approx(history.val_loss[-1], rel=0.5)


def test_fit_with_a_classification_loss_needs_labels(rng):
    model = layers.Sequential(layers.Dense(2, 3, rng=0))
    x = rng.standard_normal((10, 2)).astype(np.float32)
    with pytest.raises(ShapeError, match="needs class labels"):
        fit(model, x, loss="softmax_cross_entropy", epochs=1, verbose=0)
    with pytest.raises(DTypeError, match="takes class labels"):
        fit(model, x, np.array(["a"] * 10), loss="softmax_cross_entropy", epochs=1, verbose=0)
