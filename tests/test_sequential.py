"""Sequential: the chain rule through a stack of layers, summary(), parameters() with tied weights,
build-time shape errors, train/eval propagation, and backward(input_grad=False)."""
from __future__ import annotations

import numpy as np
import pytest

from tinyae import backend, layers, losses, models
from tinyae.errors import ShapeError
from tinyae.layers.container import relus_before_max_pool


def _tied(rng=None):
    encoder = layers.Dense(6, 3, rng=rng)
    return layers.Sequential(encoder, layers.Tanh(), layers.DenseTied(encoder)), encoder


# --- forward and backward ---------------------------------------------------------------------------

def test_forward_composes_the_layers_and_backward_applies_their_backwards_in_reverse(float64):
    rng = np.random.default_rng(0)
    d1, act, d2 = layers.Dense(4, 3, rng=rng), layers.Tanh(), layers.Dense(3, 2, rng=rng)
    model = layers.Sequential(d1, act, d2)
    x, dy = rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    y = model.forward(x)
    dx = model.backward(dy)
    h = np.tanh(x @ d1.W.data + d1.b.data)
    np.testing.assert_allclose(y, h @ d2.W.data + d2.b.data, rtol=1e-13)            # eq. D1, A7, D1
    dh = dy @ d2.W.data.T                                                              # eq. D2
    np.testing.assert_allclose(d2.W.grad, h.T @ dy, rtol=1e-13)                        # eq. D3
    dpre = dh * (1 - h ** 2)                                                           # eq. A8
    np.testing.assert_allclose(d1.W.grad, x.T @ dpre, rtol=1e-12)                      # eq. D3
    np.testing.assert_allclose(dx, dpre @ d1.W.data.T, rtol=1e-12)                     # eq. D2


class CountingFlatten(layers.Flatten):
    calls = 0

    def backward(self, dy):
        CountingFlatten.calls += 1
        return super().backward(dy)


class RecordingDense(layers.Dense):
    def backward(self, dy, input_grad=True):
        self.asked_input_grad = input_grad
        return super().backward(dy, input_grad)


def test_backward_without_input_grad_skips_the_leading_layers_and_gives_the_same_param_grads(float64):
    rng = np.random.default_rng(1)
    first = RecordingDense(12, 5, rng=rng)
    model = layers.Sequential(CountingFlatten(), first, layers.ReLU(), layers.Dense(5, 12, rng=rng),
                              layers.Sigmoid(), layers.Reshape((1, 3, 4)))
    x = rng.random((3, 1, 3, 4))
    loss = losses.MSE()

    loss.forward(model.forward(x), x)
    CountingFlatten.calls = 0
    dx = model.backward(loss.backward())
    full = {name: p.grad.copy() for name, p in model.named_parameters().items()}
    assert dx.shape == x.shape and CountingFlatten.calls == 1 and first.asked_input_grad is True

    loss.forward(model.forward(x), x)
    CountingFlatten.calls = 0
    assert model.backward(loss.backward(), input_grad=False) is None
    assert CountingFlatten.calls == 0                          # the Flatten before the first Dense is skipped
    assert first.asked_input_grad is False                     # and the first Dense computes no dx
    for name, p in model.named_parameters().items():
        np.testing.assert_array_equal(p.grad, full[name])


# --- a ReLU directly before a MaxPool2d runs inside the pool (eqs. P9–P10) ------------------------------------

def _relu_pool_chain(rng, kernel, stride):
    return layers.Sequential(layers.Conv2d(2, 3, 3, padding=1, rng=rng), layers.ReLU(),
                             layers.MaxPool2d(kernel, stride), layers.Conv2d(3, 2, 1, rng=rng), layers.ReLU(),
                             layers.MaxPool2d(2))


def _forward_backward(model, x, dy_seed):
    y = model.forward(x)
    dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(y.dtype)
    model.zero_grad()
    dx = model.backward(dy)
    return y, dx, {name: p.grad.copy() for name, p in model.params.items()}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kernel, stride, size", [(2, None, 8), (3, 2, 9), (2, 1, 7), ((2, 3), (1, 2), 9)])
def test_relu_before_max_pool_runs_as_one_pass_equal_to_the_two_layers_bit_for_bit_eq_P10(kernel, stride, size,
                                                                                          dtype, monkeypatch):
    rng = np.random.default_rng(3)
    with backend.default_dtype(dtype):
        model = _relu_pool_chain(rng, kernel, stride)
    x = rng.standard_normal((4, 2, size, size)).astype(dtype)
    x[0] = -np.abs(x[0])                          # an image whose first windows are all negative: no winner
    fused = _forward_backward(model, x, 1)
    monkeypatch.setattr(layers.Sequential, "fuse_relu_max_pool", False)
    separate = _forward_backward(model, x, 1)
    np.testing.assert_array_equal(fused[0], separate[0], err_msg="forward: one pass vs ReLU then MaxPool2d")
    np.testing.assert_array_equal(fused[1], separate[1], err_msg="input gradient")
    for name in separate[2]:
        np.testing.assert_array_equal(fused[2][name], separate[2][name], err_msg=f"gradient of {name}")


def test_the_fused_relu_is_skipped_and_other_activations_or_pools_are_not_fused(monkeypatch):
    rng = np.random.default_rng(0)
    model = _relu_pool_chain(rng, 2, None)
    calls = []
    for layer in model.layers:
        for method in ("forward", "backward"):
            original = getattr(layer, method)
            monkeypatch.setattr(layer, method, lambda *a, _f=original, _n=(type(layer).__name__, method), **k:
                                (calls.append(_n), _f(*a, **k))[1])
    model.backward(np.ones_like(model.forward(np.ones((1, 2, 8, 8), np.float32))), input_grad=False)
    assert ("ReLU", "forward") not in calls and ("ReLU", "backward") not in calls
    assert calls.count(("MaxPool2d", "backward")) == 2
    assert relus_before_max_pool([layers.ReLU(), layers.AvgPool2d(2)]) == set()
    assert relus_before_max_pool([layers.LeakyReLU(), layers.MaxPool2d(2)]) == set()
    assert relus_before_max_pool([layers.MaxPool2d(2), layers.ReLU()]) == set()


def test_the_conv_model_gives_the_same_gradients_with_and_without_the_one_pass(monkeypatch):
    model = models.build("conv", seed=0)
    x = np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32)

    def grads():
        loss = losses.MSE()
        model.zero_grad()
        loss.forward(model.forward(x), x)
        model.backward(loss.backward(), input_grad=False)
        return {name: p.grad.copy() for name, p in model.named_parameters().items()}

    fused = grads()
    monkeypatch.setattr(layers.Sequential, "fuse_relu_max_pool", False)
    for name, grad in grads().items():
        np.testing.assert_array_equal(fused[name], grad, err_msg=name)


def test_runtime_shape_error_names_the_layer_by_position():
    model = models.build("dense")
    with pytest.raises(ShapeError, match=r"layer 1 \(Dense\): expected input of shape \(N, 784\), got \(2, 783\)"):
        model.forward(np.zeros((2, 783), np.float32))


# --- build-time shape checks --------------------------------------------------------------------------

def test_build_time_shape_mismatch_names_both_layers_and_both_shapes():
    with pytest.raises(ShapeError) as info:
        layers.Sequential(layers.Dense(4, 3), layers.ReLU(), layers.Dense(5, 2))
    msg = str(info.value)
    assert "layer 1 (ReLU) gives (N, 3)" in msg and "layer 2 (Dense)" in msg and "(N, 5)" in msg


def test_build_time_shape_mismatch_with_an_input_shape_names_the_input_or_the_layer_before():
    with pytest.raises(ShapeError, match=r"layer 0 \(Flatten\) gives \(N, 756\), but layer 1 \(Dense\): "
                                         r"expected input of shape \(N, 784\)"):
        layers.Sequential(layers.Flatten(), layers.Dense(784, 3), input_shape=(1, 28, 27))
    with pytest.raises(ShapeError, match=r"the model's input is \(N, 1, 28, 28\), but layer 0 \(Dense\)"):
        layers.Sequential(layers.Dense(784, 3), input_shape=(1, 28, 28))


def test_sequential_rejects_items_that_are_not_layers():
    with pytest.raises(TypeError, match="item 1 is a ufunc, not a Layer"):
        layers.Sequential(layers.ReLU(), np.tanh)


# --- summary and parameters ------------------------------------------------------------------------------

def test_summary_lists_each_layer_with_output_shape_and_parameter_count():
    text = models.build("dense").summary()
    lines = text.splitlines()
    assert lines[0].split() == ["#", "layer", "output", "shape", "params"]
    for expected in ("Flatten()", "Dense(in_features=784, out_features=256", "ReLU()", "Sigmoid()",
                     "Reshape(shape=[1, 28, 28])", "(N, 784)", "(N, 256)", "(N, 1, 28, 28)",
                     "200,960", "201,488"):                  # 784·256 + 256 and 256·784 + 784
        assert expected in text, expected
    assert lines[-1] == "total parameters: 402,448"


def test_summary_of_a_tied_model_counts_the_shared_weight_once_and_marks_it():
    model, _ = _tied()
    text = model.summary()
    assert "DenseTied" in text and "6 (+ tied)" in text
    assert text.splitlines()[-1] == "total parameters: 27"        # W 18 + b 3 + c 6, not 45


def test_parameters_lists_a_tied_weight_once_though_two_layers_use_it_eq_D6():
    model, encoder = _tied()
    assert list(model.params) == ["0.W", "0.b", "2.W", "2.c"]      # every use
    assert model.params["0.W"] is model.params["2.W"] is encoder.W
    unique = model.parameters()
    assert len(unique) == 3 and sum(p is encoder.W for p in unique) == 1
    assert list(model.named_parameters()) == ["0.W", "0.b", "2.c"]
    assert model.num_parameters() == 27


def test_train_and_eval_reach_every_layer():
    model = layers.Sequential(layers.Dense(4, 4), layers.Dropout(0.5), layers.ReLU())
    model.eval()
    assert not model.training and not any(layer.training for layer in model)
    model.train()
    assert model.training and all(layer.training for layer in model)


def test_zero_grad_zeros_every_parameter_once():
    model, _ = _tied()
    for p in model.parameters():
        p.grad = p.grad + 1
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


def test_indexing_length_and_iteration():
    model = layers.Sequential(layers.Flatten(), layers.Dense(784, 256), layers.ReLU(), layers.Dense(256, 784),
                              layers.Sigmoid(), layers.Reshape((1, 28, 28)))
    assert len(model) == 6 and isinstance(model[1], layers.Dense) and list(model)[4] is model[4]
