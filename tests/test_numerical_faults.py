"""Bad numbers and bad data in fit/predict/evaluate, gradient clipping, and reproducibility.

* NaN/inf in the data stops fit before any step, naming the sample.
* A non-finite loss or gradient stops fit with a message naming the epoch, the batch and
  the first layer where the non-finite numbers appeared (forward order for the loss, backward
  order for gradients); the bad step is never applied: parameters, optimizer state and
  buffers are those after the last good step. The search only runs on failure: on the
  normal path every layer runs forward and backward exactly once per batch.
* clip_grad_norm rescales the gradients to the given global norm (and only when above it).
* Targets outside [0, 1] for a sigmoid output or a BCE loss: one warning per model; integer
  data: DTypeError with the /255 hint.
* The same seed gives the same parameters, to the bit, on the CPU (with Dropout).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from tinyae import backend, layers, losses, optim, train
from tinyae.errors import DTypeError, NumericalError, ShapeError
from tinyae.layers.base import Layer
from tinyae.train import evaluate, fit, predict


def data(n=64, d=8, seed=0):
    return np.random.default_rng(seed).random((n, d), dtype=np.float32)


def linear_net(seed=0):
    """8 → 16 (ReLU) → 8, linear output."""
    return layers.Sequential(layers.Dense(8, 16, rng=seed), layers.ReLU(), layers.Dense(16, 8, rng=seed + 1),
                             input_shape=(8,))


def sigmoid_net(seed=0):
    return layers.Sequential(layers.Dense(8, 16, rng=seed), layers.ReLU(), layers.Dense(16, 8, rng=seed + 1),
                             layers.Sigmoid(), input_shape=(8,))


class RecordingAdam(optim.Adam):
    """Adam that keeps a copy of the parameters and of its state after every step."""

    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self.after = [[p.data.copy() for p in self.params]]
        self.states = [[{}] * len(self.params)]

    def step(self):
        super().step()
        self.after.append([p.data.copy() for p in self.params])
        self.states.append([{k: v.copy() for k, v in s.items()} for s in self.state])


def assert_last_good_step(optimizer: RecordingAdam, steps: int):
    """The parameters and the optimizer state are those after good step number ``steps``."""
    assert optimizer.t == steps and len(optimizer.after) == steps + 1
    for p, good in zip(optimizer.params, optimizer.after[-1]):
        assert np.array_equal(p.data, good)
    for state, good in zip(optimizer.state, optimizer.states[-1]):
        assert state.keys() == good.keys() and all(np.array_equal(state[k], good[k]) for k in state)


class Poison(Layer):
    """Identity forward with a parameter ``w`` (1,); from call ``arm_at`` of backward on, its
    gradients are NaN: the parameter's (``where="param"``) or the input's (``where="input"``)."""

    def __init__(self, arm_at: int, where: str = "param"):
        super().__init__()
        self.add_param("w", backend.xp.zeros((1,), dtype=backend.dtype()))
        self.arm_at, self.where, self.calls, self._shape = arm_at, where, 0, None

    def forward(self, x):
        self._shape = x.shape
        self.w.start_pass()
        return x

    def backward(self, dy):
        self.calls += 1
        bad = self.calls >= self.arm_at
        self.w.accumulate(backend.xp.full((1,), np.nan if bad and self.where == "param" else 0.0, dy.dtype))
        return dy * np.float32(np.nan) if bad and self.where == "input" else dy


# --- bad data: found before training ---------------------------------------------------------------

@pytest.mark.parametrize("which", ["x", "y", "validation data"])
def test_nan_or_inf_in_the_data_stops_fit_before_any_step_naming_the_sample(which):
    x, y, x_val = data(), data(seed=1), data(16, seed=2)
    bad = {"x": x, "y": y, "validation data": x_val}[which]
    bad[11, 3] = np.inf
    model = linear_net()
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(NumericalError, match=rf"^{which} contains NaN or infinity \(first in sample 11\): value inf, "
                                             r"1 of \d+ samples affected; no training step was taken"):
        fit(model, x, y, epochs=1, validation_data=x_val, verbose=0)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))


@pytest.mark.parametrize("call", [fit, predict, evaluate])
def test_integer_images_are_refused_with_the_scaling_hint(call):
    x = (data() * 255).astype(np.uint8)
    with pytest.raises(DTypeError, match=r"x has dtype uint8; .*use x.astype\('float32'\) / 255"):
        call(sigmoid_net(), x, **({"verbose": 0} if call is fit else {}))


# --- bad numbers during training: epoch, batch, first layer ------------------------------------------

@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_overflow_in_a_layer_names_epoch_batch_and_layer_and_keeps_the_last_good_parameters():
    x = data()
    clean_row = x[40].copy()

    def poison(epoch, history):                   # after epoch 1: sample 40 (batch 3, no shuffling) explodes
        if epoch == 1:
            x[40] = 3e38

    model = linear_net()
    adam = RecordingAdam(model.parameters(), lr=1e-2)
    with pytest.raises(NumericalError) as info:
        fit(model, x, epochs=3, batch_size=16, shuffle=False, optimizer=adam, verbose=0, callbacks=[poison])
    assert str(info.value) == (
        "the loss became nan at epoch 2, batch 3 (of 4): first non-finite in the output of layer 0 (Dense) (its "
        "input was finite, largest magnitude 3e+38: an overflow). The step was not taken: the parameters are those "
        "of the last good step. Try a smaller learning rate (now 0.01) or clip_grad_norm=1.0.")
    assert_last_good_step(adam, 4 + 2)
    # the same parameters as a run that simply stopped after batch 2 of epoch 2
    x[40] = clean_row
    reference = linear_net()
    ref_adam = optim.Adam(reference.parameters(), lr=1e-2)
    fit(reference, x, epochs=1, batch_size=16, shuffle=False, optimizer=ref_adam, verbose=0)
    fit(reference, x[:32], epochs=1, batch_size=16, shuffle=False, optimizer=ref_adam, verbose=0)
    assert all(np.array_equal(a.data, b.data) for a, b in zip(model.parameters(), reference.parameters()))


def test_nan_in_a_parameter_names_the_layer_and_the_parameter():
    model = linear_net()
    model.layers[2].W.data[3, 1] = np.nan
    with pytest.raises(NumericalError, match=r"loss became nan at epoch 1, batch 1 \(of 4\): first non-finite in "
                                             r"the output of layer 2 \(Dense\), whose parameter W holds NaN"):
        fit(model, data(), epochs=1, batch_size=16, verbose=0)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_loss_that_overflows_on_finite_outputs_is_named_as_the_loss():
    model = layers.Sequential(layers.Dense(8, 8, rng=0), input_shape=(8,))
    x = data()
    x[5] = 1e19                                   # outputs ~1e19 are finite; their squares sum past float32's max
    with pytest.raises(NumericalError, match=r"loss became inf at epoch 1, batch 1 \(of 4\): every layer's output is "
                                             r"finite \(largest magnitude .*\); the MSE loss itself overflowed"):
        fit(model, x, epochs=1, batch_size=16, shuffle=False, verbose=0)


def test_a_nan_parameter_gradient_names_the_first_layer_in_backward_order_and_no_step_is_taken():
    # two poisoned layers: layer 3 comes first in backward order, so it is the one named
    model = layers.Sequential(layers.Dense(8, 16, rng=0), Poison(arm_at=2), layers.ReLU(), Poison(arm_at=2),
                              layers.Dense(16, 8, rng=1), input_shape=(8,))
    adam = RecordingAdam(model.parameters())
    with pytest.raises(NumericalError, match=r"^a gradient became non-finite at epoch 1, batch 2, first in "
                                             r"layer 3 \(Poison\), parameter w \(in backward order; batch 2 of 4\)"):
        fit(model, data(), epochs=1, batch_size=16, optimizer=adam, verbose=0)
    assert_last_good_step(adam, 1)


def test_a_nan_input_gradient_names_the_layer_that_produced_it():
    # layer 2 returns a NaN input gradient: the Dense before it gets NaN parameter gradients,
    # but the first non-finite number in backward order is layer 2's output
    model = layers.Sequential(layers.Dense(8, 16, rng=0), layers.ReLU(), Poison(arm_at=3, where="input"),
                              layers.Dense(16, 8, rng=1), input_shape=(8,))
    adam = RecordingAdam(model.parameters())
    with pytest.raises(NumericalError, match=r"epoch 1, batch 3, first in the input gradient of layer 2 \(Poison\)"):
        fit(model, data(), epochs=1, batch_size=16, optimizer=adam, verbose=0)
    assert_last_good_step(adam, 2)


def test_the_backward_search_skips_a_relu_that_ran_inside_the_max_pool_after_it_eq_P10():
    # a ReLU directly before a MaxPool2d is skipped by the model's forward (eq. P9); the layer-by-layer
    # search repeats that backward, so it must skip it too, and still name the poisoned layer
    model = layers.Sequential(layers.Conv2d(1, 2, 3, padding=1, rng=0), Poison(arm_at=2), layers.ReLU(),
                              layers.MaxPool2d(2), layers.Flatten(), layers.Dense(8, 4, rng=1), input_shape=(1, 4, 4))
    x = np.random.default_rng(0).random((64, 1, 4, 4), dtype=np.float32)
    y = np.random.default_rng(1).random((64, 4), dtype=np.float32)
    adam = RecordingAdam(model.parameters())
    with pytest.raises(NumericalError, match=r"batch 2, first in layer 1 \(Poison\), parameter w"):
        fit(model, x, y, epochs=1, batch_size=16, optimizer=adam, verbose=0)
    assert_last_good_step(adam, 1)


def test_buffers_are_those_of_the_last_good_step_after_a_fault():
    norm = getattr(layers, "BatchNorm1d", None)
    if norm is None:
        norm = getattr(pytest.importorskip("tinyae.layers.normalization"), "BatchNorm1d", None)
    if norm is None:
        pytest.skip("no BatchNorm1d yet")
    model = layers.Sequential(layers.Dense(8, 16, rng=0), norm(16), layers.ReLU(), Poison(arm_at=3),
                              layers.Dense(16, 8, rng=1), input_shape=(8,))
    seen = []
    real_step = optim.Adam.step
    adam = optim.Adam(model.parameters())
    adam.step = lambda: (real_step(adam), seen.append({k: v.copy() for k, v in model.layers[1].buffers.items()}))
    with pytest.raises(NumericalError, match="batch 3, first in layer 3 \\(Poison\\)"):
        fit(model, data(), epochs=1, batch_size=16, optimizer=adam, verbose=0)
    assert len(seen) == 2
    for name, buf in model.layers[1].buffers.items():
        assert np.array_equal(buf, seen[-1][name]), name


def test_the_normal_path_runs_each_layer_once_per_batch_and_never_searches(monkeypatch):
    model = sigmoid_net()
    counts = {"forward": [0] * len(model.layers), "backward": [0] * len(model.layers)}
    for i, layer in enumerate(model.layers):
        for kind in ("forward", "backward"):
            real = getattr(layer, kind)

            def counted(*args, _real=real, _i=i, _kind=kind, **kwargs):
                counts[_kind][_i] += 1
                return _real(*args, **kwargs)

            setattr(layer, kind, counted)

    def never(*args):
        raise AssertionError("the fault search ran on the normal path")

    monkeypatch.setattr(train, "_locate_forward", never)
    monkeypatch.setattr(train, "_locate_backward", never)
    fit(model, data(), epochs=2, batch_size=16, verbose=0)
    assert counts["forward"] == [8] * 4
    assert counts["backward"] == [8] * 4          # the first Dense skips its input gradient, not its backward


# --- gradient clipping ------------------------------------------------------------------------------

@pytest.mark.parametrize("max_norm, clipped", [(0.05, True), (1e6, False)])
def test_clip_grad_norm_rescales_the_gradient_to_the_given_global_norm(max_norm, clipped):
    x = data(16)
    probe = linear_net()                              # the same weights: compute the raw gradient
    loss = losses.MSE()
    loss.forward(probe.forward(x), x)
    probe.backward(loss.backward())
    grads = [p.grad.copy() for p in probe.parameters()]
    norm = float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads)))
    assert (norm > max_norm) == clipped

    model = linear_net()
    before = [p.data.copy() for p in model.parameters()]
    fit(model, x, epochs=1, batch_size=16, optimizer=optim.SGD(model.parameters(), lr=1.0), clip_grad_norm=max_norm,
        verbose=0)
    steps = [b - p.data for b, p in zip(before, model.parameters())]      # = lr · applied gradient
    scale = max_norm / (norm + 1e-6) if clipped else 1.0
    for step, g in zip(steps, grads):
        np.testing.assert_allclose(step, g * scale, rtol=1e-4, atol=1e-7)
    applied = float(np.sqrt(sum(float((s.astype(np.float64) ** 2).sum()) for s in steps)))
    assert applied == pytest.approx(max_norm if clipped else norm, rel=1e-4)


# --- values outside [0, 1] ---------------------------------------------------------------------------

def test_images_in_0_255_for_a_sigmoid_model_warn_once_per_model():
    x = np.round(data() * 255)
    x[0, :2] = 0, 255
    model = sigmoid_net()
    with pytest.warns(UserWarning) as record:
        fit(model, x, epochs=1, verbose=0)
        fit(model, x, epochs=1, verbose=0)
        predict(model, x)
        evaluate(model, x)
    messages = [str(w.message) for w in record if "values in" in str(w.message)]
    assert messages == ["x has values in [0, 255]: the model's sigmoid output can only reach [0, 1]; "
                        "scale the images (x / 255)"]
    with pytest.warns(UserWarning, match=r"x has values in \[0, 255\]: the model's sigmoid"):
        predict(sigmoid_net(), x)                     # another model: its own warning


def test_bce_on_a_linear_output_warns_about_targets_outside_0_1():
    with pytest.warns(UserWarning, match=r"x has values in \[-1, 1\]: the BCE loss needs targets in \[0, 1\]; "
                                         r"rescale it to \[0, 1\]"):
        x = data() * 2 - 1
        x[0, :2] = -1, 1
        fit(linear_net(), x, loss="bce", epochs=1, verbose=0)


@pytest.mark.parametrize("case", ["mse-linear", "in-range", "denoising-target-in-range", "sigmoid-not-last"])
def test_no_range_warning_where_the_output_can_reach_the_values(case):
    x = data()
    model, y = linear_net(), None
    if case == "in-range":
        model = sigmoid_net()
    elif case == "denoising-target-in-range":
        model, y = sigmoid_net(), x
        x = x + np.float32(0.3) * np.random.default_rng(1).standard_normal(x.shape, dtype=np.float32)
    elif case == "sigmoid-not-last":
        model = layers.Sequential(layers.Dense(8, 8, rng=0), layers.Sigmoid(), layers.Dense(8, 8, rng=1))
    if case == "mse-linear" or case == "sigmoid-not-last":
        x = x * 255
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(model, x, y, epochs=1, verbose=0)
        predict(model, x)


def test_predict_warns_only_for_inputs_far_outside_0_1():
    model = sigmoid_net()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predict(model, data() * 1.9)              # e.g. a denoising autoencoder's noisy input
    with pytest.warns(UserWarning, match=r"x has values in \[0\.\d+, 2\.\d+\]: .*; rescale it to \[0, 1\]"):
        predict(model, data() * 2.1)


def test_a_sigmoid_followed_by_shape_layers_is_a_sigmoid_output():
    model = layers.Sequential(layers.Flatten(), layers.Dense(8, 8, rng=0), layers.Sigmoid(), layers.Reshape((2, 4)),
                              input_shape=(2, 4))
    with pytest.warns(UserWarning, match="sigmoid output can only reach"):
        predict(model, data(8).reshape(8, 2, 4) * 3)


# --- shapes ---------------------------------------------------------------------------------------------

def test_layers_that_do_not_fit_fail_when_the_model_is_built():
    with pytest.raises(ShapeError, match=r"layers do not fit together: layer 1 \(ReLU\) gives \(N, 16\), but "
                                         r"layer 2 \(Dense\): expected input of shape \(N, 32\), got \(N, 16\)"):
        layers.Sequential(layers.Dense(8, 16), layers.ReLU(), layers.Dense(32, 8), input_shape=(8,))


# --- reproducibility ----------------------------------------------------------------------------------

def dropout_run(seed):
    model = layers.Sequential(layers.Dense(8, 32, rng=seed), layers.ReLU(), layers.Dropout(0.5, seed=seed),
                              layers.Dense(32, 8, rng=seed + 1), layers.Sigmoid(), input_shape=(8,))
    fit(model, data(), epochs=3, batch_size=16, seed=seed, verbose=0, validation_data=data(16, seed=5))
    return [p.data for p in model.parameters()]


def test_same_seed_same_parameters_to_the_bit_with_dropout_on_the_cpu():
    with backend.using("numpy"):
        a, b, c = dropout_run(0), dropout_run(0), dropout_run(1)
    assert all(np.array_equal(p.view(np.uint32), q.view(np.uint32)) for p, q in zip(a, b))
    assert not any(np.array_equal(p, q) for p, q in zip(a, c))
