"""BatchNorm1d and BatchNorm2d against the equations of docs/math/batchnorm.md (B1–B11): forward in train
and eval mode, the running statistics (PyTorch's update, unbiased variance), the compact backward formula,
the buffers (names, save/load), the layer protocol, shape errors and the gradient checks.

Comparisons run in float64 (agreement to ~1e-14), except where a test says it checks float32.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from tinyae import backend, checks, layers, models
from tinyae.errors import DTypeError, ShapeError

BN_CASES = {name: run for name, run in checks.all_cases() if name.startswith("BatchNorm")}
EXPECTED_MAX_ERROR = 1e-7            # measured worst: 1e-9 (BatchNorm2d train, input gradient)

KINDS = [(layers.BatchNorm1d, (8, 5)), (layers.BatchNorm2d, (4, 3, 5, 6))]
KIND_IDS = ["BatchNorm1d", "BatchNorm2d"]


def _np(a):
    return backend.to_numpy(a)


def _axes(x):
    """The axes a channel's statistics run over: all but axis 1."""
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _per_channel(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _layer(cls, channels, rng, momentum=0.1):
    layer = cls(channels, momentum=momentum)
    layer.gamma.data = backend.asarray(1.0 + 0.5 * rng.standard_normal(channels))
    layer.beta.data = backend.asarray(rng.standard_normal(channels))
    return layer


def _torch_bn(torch, layer):
    """PyTorch's functional batch norm with copies of ``layer``'s parameters and buffers."""
    gamma = torch.from_numpy(_np(layer.gamma.data).copy()).requires_grad_()
    beta = torch.from_numpy(_np(layer.beta.data).copy()).requires_grad_()
    running_mean = torch.from_numpy(_np(layer.buffers["running_mean"]).copy())
    running_var = torch.from_numpy(_np(layer.buffers["running_var"]).copy())
    return gamma, beta, running_mean, running_var


# --- construction and buffers --------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [layers.BatchNorm1d, layers.BatchNorm2d])
def test_parameters_gamma_ones_beta_zeros_and_buffers_running_mean_zeros_running_var_ones(cls, backend_name, xp):
    layer = cls(6)
    assert list(layer.params) == ["gamma", "beta"]
    assert list(layer.buffers) == ["running_mean", "running_var"]
    np.testing.assert_array_equal(_np(layer.gamma.data), np.ones(6))
    np.testing.assert_array_equal(_np(layer.beta.data), np.zeros(6))
    np.testing.assert_array_equal(_np(layer.buffers["running_mean"]), np.zeros(6))
    np.testing.assert_array_equal(_np(layer.buffers["running_var"]), np.ones(6))
    assert all(isinstance(a, xp.ndarray) and a.dtype == np.float32
               for a in [layer.gamma.data, layer.beta.data, *layer.buffers.values()])


@pytest.mark.parametrize("bad", [dict(num_features=0), dict(num_features=2.0), dict(num_features=3, eps=0.0),
                                 dict(num_features=3, momentum=1.5)])
def test_invalid_arguments_raise_value_error(bad):
    with pytest.raises(ValueError, match="BatchNorm2d"):
        layers.BatchNorm2d(**bad)


# --- train mode: B1–B4 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, shape", KINDS, ids=KIND_IDS)
def test_train_forward_normalises_each_channel_with_batch_mean_and_biased_variance_eqs_B1_B4(cls, shape, backend_name,
                                                                                             float64, rng):
    x = 3.0 * rng.standard_normal(shape) + 2.0
    layer = _layer(cls, shape[1], rng)
    y = _np(layer.forward(backend.asarray(x)))
    axes = _axes(x)
    mean = x.mean(axis=axes, keepdims=True)                                   # eq. B1
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)                    # eq. B2 (biased)
    xhat = (x - mean) / np.sqrt(var + 1e-5)                                   # eq. B3
    expected = _per_channel(_np(layer.gamma.data), x.ndim) * xhat + _per_channel(_np(layer.beta.data), x.ndim)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)          # eq. B4


@pytest.mark.parametrize("cls, shape", KINDS, ids=KIND_IDS)
def test_train_output_has_mean_0_and_variance_1_per_channel_with_initial_gamma_beta_eq_B3(cls, shape, float64, rng):
    y = cls(shape[1]).forward(5.0 * rng.standard_normal(shape) - 7.0)
    np.testing.assert_allclose(y.mean(axis=_axes(y)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=_axes(y)), 1.0, rtol=1e-5)


def test_variance_is_computed_from_centred_values_so_a_large_mean_loses_no_precision_eq_B2(rng):
    x = (1000.0 + 0.01 * rng.standard_normal((64, 4, 8, 8))).astype(np.float32)   # |μ|/σ = 1e5
    y = layers.BatchNorm2d(4, eps=1e-12).forward(x)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1.0, rtol=1e-2)


@pytest.mark.parametrize("cls, shape", KINDS, ids=KIND_IDS)
def test_train_forward_and_running_statistics_equal_torch_batch_norm_after_several_steps_eqs_B1_B6(cls, shape,
                                                                                                  float64, rng):
    torch = pytest.importorskip("torch")
    layer = _layer(cls, shape[1], rng, momentum=0.3)
    gamma, beta, running_mean, running_var = _torch_bn(torch, layer)
    for step in range(4):
        x = 2.0 * rng.standard_normal(shape) + step
        y = layer.forward(x)
        expected = torch.nn.functional.batch_norm(torch.from_numpy(x), running_mean, running_var, gamma, beta,
                                                  training=True, momentum=0.3, eps=1e-5)
        np.testing.assert_allclose(y, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.buffers["running_mean"], running_mean.numpy(), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(layer.buffers["running_var"], running_var.numpy(), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("cls, shape", KINDS, ids=KIND_IDS)
def test_running_statistics_follow_the_momentum_update_with_unbiased_variance_eqs_B5_B6(cls, shape, backend_name,
                                                                                        float64, rng):
    layer = cls(shape[1], momentum=0.25)
    x = rng.standard_normal(shape) * 2.0 + 1.0
    layer.forward(backend.asarray(x))
    m = x.size // shape[1]
    mean, var = x.mean(axis=_axes(x)), x.var(axis=_axes(x))
    np.testing.assert_allclose(_np(layer.buffers["running_mean"]), 0.75 * 0.0 + 0.25 * mean, rtol=1e-13)   # eq. B5
    np.testing.assert_allclose(_np(layer.buffers["running_var"]), 0.75 * 1.0 + 0.25 * var * m / (m - 1),
                               rtol=1e-13)                                                                  # eq. B6


def test_running_statistics_are_new_arrays_in_self_buffers_each_step(float64, rng):
    layer = layers.BatchNorm1d(3)
    before = layer.buffers["running_mean"]
    layer.forward(rng.standard_normal((5, 3)))
    assert layer.buffers["running_mean"] is not before and not before.any()    # the old array is untouched


def test_single_sample_in_train_mode_raises_shape_error_but_eval_mode_accepts_it(rng):
    layer = layers.BatchNorm1d(3)
    with pytest.raises(ShapeError, match=r"BatchNorm1d: train mode needs more than one value per channel.*\(1, 3\)"):
        layer.forward(rng.standard_normal((1, 3)).astype(np.float32))
    assert layer.eval().forward(rng.standard_normal((1, 3)).astype(np.float32)).shape == (1, 3)


# --- eval mode: B10–B11 --------------------------------------------------------------------------------------

def _eval_layer(cls, channels, rng):
    layer = _layer(cls, channels, rng)
    layer.buffers["running_mean"] = backend.asarray(rng.standard_normal(channels))
    layer.buffers["running_var"] = backend.asarray(rng.uniform(0.5, 2.0, channels))
    return layer.eval()


@pytest.mark.parametrize("cls, shape", KINDS, ids=KIND_IDS)
def test_eval_forward_uses_the_running_statistics_and_leaves_them_unchanged_eq_B10(cls, shape, backend_name, float64,
                                                                                   rng):
    layer = _eval_layer(cls, shape[1], rng)
    mean, var = _np(layer.buffers["running_mean"]), _np(layer.buffers["running_var"])
    x = rng.standard_normal(shape)
    y = _np(layer.forward(backend.asarray(x)))
    nd = x.ndim
    expected = (_per_channel(_np(layer.gamma.data), nd) * (x - _per_channel(mean, nd))
                / np.sqrt(_per_channel(var, nd) + 1e-5) + _per_channel(_np(layer.beta.data), nd))
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(_np(layer.buffers["running_mean"]), mean)
    np.testing.assert_array_equal(_np(layer.buffers["running_var"]), var)


@pytest.mark.parametrize("cls, shape", KINDS, ids=KIND_IDS)
def test_eval_forward_and_backward_equal_torch_batch_norm_in_eval_mode_eqs_B8_B11(cls, shape, float64, rng):
    torch = pytest.importorskip("torch")
    layer = _eval_layer(cls, shape[1], rng)
    gamma, beta, running_mean, running_var = _torch_bn(torch, layer)
    x, dy = rng.standard_normal(shape), rng.standard_normal(shape)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.nn.functional.batch_norm(xt, running_mean, running_var, gamma, beta, training=False, eps=1e-5)
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(layer.forward(x), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.gamma.grad, gamma.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.beta.grad, beta.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_eval_backward_is_gamma_over_sigma_times_dy_eq_B11(float64, rng):
    layer = _eval_layer(layers.BatchNorm2d, 3, rng)
    layer.forward(rng.standard_normal((2, 3, 4, 4)))
    dy = rng.standard_normal((2, 3, 4, 4))
    scale = _np(layer.gamma.data) / np.sqrt(_np(layer.buffers["running_var"]) + 1e-5)
    np.testing.assert_allclose(layer.backward(dy), dy * scale[None, :, None, None], rtol=1e-14)


def test_buffers_assigned_as_load_state_arrays_does_are_used_by_the_next_forward(float64, rng):
    layer = layers.BatchNorm1d(2).eval()
    layer.buffers["running_mean"] = backend.asarray([1.0, -1.0])
    layer.buffers["running_var"] = backend.asarray([4.0, 0.25])
    y = layer.forward(np.array([[3.0, 0.0]]))
    np.testing.assert_allclose(y, [[2.0 / np.sqrt(4.0 + 1e-5), 1.0 / np.sqrt(0.25 + 1e-5)]], rtol=1e-14)


# --- backward in train mode: B7–B9 -----------------------------------------------------------------------------

@pytest.mark.parametrize("cls, shape", KINDS, ids=KIND_IDS)
def test_train_backward_equals_torch_for_input_gamma_and_beta_eqs_B7_B9(cls, shape, float64, rng):
    torch = pytest.importorskip("torch")
    layer = _layer(cls, shape[1], rng)
    gamma, beta, running_mean, running_var = _torch_bn(torch, layer)
    x, dy = 2.0 * rng.standard_normal(shape) - 1.0, rng.standard_normal(shape)
    xt = torch.from_numpy(x).requires_grad_()
    torch.nn.functional.batch_norm(xt, running_mean, running_var, gamma, beta, training=True,
                                   eps=1e-5).backward(torch.from_numpy(dy))
    layer.forward(x)
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(layer.gamma.grad, gamma.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.beta.grad, beta.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls, shape", KINDS, ids=KIND_IDS)
def test_train_backward_matches_the_compact_formula_eq_B7_and_parameter_sums_eqs_B8_B9(cls, shape, backend_name,
                                                                                       float64, rng):
    layer = _layer(cls, shape[1], rng)
    x, dy = rng.standard_normal(shape) + 0.5, rng.standard_normal(shape)
    layer.forward(backend.asarray(x))
    dx = _np(layer.backward(backend.asarray(dy)))
    axes, nd, m = _axes(x), x.ndim, x.size // shape[1]
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    sigma = np.sqrt(var + 1e-5)
    xhat = (x - mean) / sigma
    gamma = _per_channel(_np(layer.gamma.data), nd)
    expected = gamma / (m * sigma) * (m * dy - dy.sum(axis=axes, keepdims=True)
                                      - xhat * (dy * xhat).sum(axis=axes, keepdims=True))   # eq. B7
    np.testing.assert_allclose(dx, expected, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(_np(layer.gamma.grad), (dy * xhat).sum(axis=axes), rtol=1e-12)   # eq. B8
    np.testing.assert_allclose(_np(layer.beta.grad), dy.sum(axis=axes), rtol=1e-12)             # eq. B9


@pytest.mark.parametrize("cls, shape", KINDS, ids=KIND_IDS)
def test_train_input_gradient_sums_to_zero_and_is_orthogonal_to_xhat_in_every_channel_eq_B7(cls, shape, float64, rng):
    layer = _layer(cls, shape[1], rng)
    layer.eps = 1e-14                          # Σ dx·x̂ = 0 holds up to a term of order eps/σ² (batchnorm.md)
    x = rng.standard_normal(shape) * 3 + 1
    layer.forward(x)
    dx = layer.backward(rng.standard_normal(shape))
    axes = _axes(x)
    xhat = (x - x.mean(axis=axes, keepdims=True)) / x.std(axis=axes, keepdims=True)
    np.testing.assert_allclose(dx.sum(axis=axes), 0.0, atol=1e-12)
    np.testing.assert_allclose((dx * xhat).sum(axis=axes), 0.0, atol=1e-11)


def test_treating_mean_and_variance_as_constants_in_train_mode_fails_the_gradient_check_eq_B7(float64, rng):
    from tinyae import gradcheck

    class ConstantStatistics(layers.BatchNorm1d):
        """Broken: the eval-mode input gradient (eq. B11) in train mode, ignoring the paths through μ and σ."""

        def backward(self, dy, input_grad=True):
            super().backward(dy)
            inv_std = self._cache[3]
            return dy * (self.gamma.data * inv_std)

    errors = gradcheck.check_layer(ConstantStatistics(3), rng.standard_normal((5, 3)))
    assert errors["x"] > 1e-2


def test_backward_with_input_grad_false_fills_parameter_grads_and_returns_none(float64, rng):
    layer = _layer(layers.BatchNorm2d, 3, rng)
    x, dy = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((2, 3, 4, 4))
    layer.forward(x)
    assert layer.backward(dy, input_grad=False) is None
    np.testing.assert_allclose(layer.beta.grad, dy.sum(axis=(0, 2, 3)), rtol=1e-13)


def test_gradients_are_replaced_each_pass_not_accumulated(float64, rng):
    layer = _layer(layers.BatchNorm1d, 3, rng)
    x, dy = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    for _ in range(2):
        layer.forward(x)
        layer.backward(dy)
    np.testing.assert_allclose(layer.beta.grad, dy.sum(axis=0), rtol=1e-14)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_backward_never_modifies_dy_and_forward_never_modifies_x(train, rng):
    layer = layers.BatchNorm2d(3).train(train)
    x, dy = rng.standard_normal((2, 3, 4, 4)).astype(np.float32), rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    x0, dy0 = x.copy(), dy.copy()
    layer.forward(x)
    layer.backward(dy)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dy, dy0)


# --- shapes and dtypes -------------------------------------------------------------------------------------

def test_wrong_channel_count_raises_shape_error_naming_layer_and_both_shapes():
    with pytest.raises(ShapeError, match=r"BatchNorm2d: expected input of shape \(N, 32, \?, \?\), "
                                         r"got \(2, 16, 4, 4\)"):
        layers.BatchNorm2d(32).forward(np.zeros((2, 16, 4, 4), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"BatchNorm1d: expected input of shape \(N, 8\), got \(4, 7\)"):
        layers.BatchNorm1d(8).forward(np.zeros((4, 7), dtype=np.float32))


def test_wrong_rank_raises_shape_error_with_a_hint():
    with pytest.raises(ShapeError, match=r"BatchNorm1d: expected input of shape \(N, 3\), got \(2, 3, 4, 4\).*Flatten"):
        layers.BatchNorm1d(3).forward(np.zeros((2, 3, 4, 4), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"BatchNorm2d: expected input of shape \(N, 3, \?, \?\), got \(N, 3\)"):
        layers.BatchNorm2d(3).output_shape((None, 3))


def test_output_shape_is_the_input_shape_and_sequential_checks_channels_at_build_time():
    assert layers.BatchNorm2d(4).output_shape((None, 4, None, 7)) == (None, 4, None, 7)
    with pytest.raises(ShapeError, match=r"layer 1 \(BatchNorm2d\).*\(N, 8, \?, \?\).*\(N, 4, 14, 14\)"):
        layers.Sequential(layers.MaxPool2d(2), layers.BatchNorm2d(8), input_shape=(4, 28, 28))


def test_backward_gradient_of_the_wrong_shape_raises_shape_error(rng):
    layer = layers.BatchNorm1d(3)
    layer.forward(rng.standard_normal((4, 3)).astype(np.float32))
    with pytest.raises(ShapeError, match=r"BatchNorm1d: backward expected .*\(4, 3\), got \(4, 2\)"):
        layer.backward(np.zeros((4, 2), dtype=np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        layers.BatchNorm1d(3).backward(np.zeros((4, 3)))


def test_float32_stays_float32_and_float64_input_is_cast_with_one_warning(rng):
    layer = layers.BatchNorm2d(3)
    x = rng.standard_normal((2, 3, 4, 4))
    with pytest.warns(UserWarning, match="cast to the parameters' dtype float32"):
        y = layer.forward(x)
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32
    assert layer.buffers["running_var"].dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer.forward(x)                       # the warning is given once per layer
    with pytest.raises(DTypeError):
        layer.forward(np.zeros((2, 3, 4, 4), dtype=np.int64))


# --- configuration and model files ------------------------------------------------------------------------

def test_config_is_json_and_rebuilds_the_same_layer():
    layer = layers.BatchNorm2d(16, eps=1e-3, momentum=0.05)
    config = json.loads(json.dumps(layer.config()))
    assert config == {"num_features": 16, "eps": 1e-3, "momentum": 0.05}
    assert layers.BatchNorm2d(**config).config() == config


def test_save_and_load_keep_parameters_and_running_statistics(tmp_path, rng):
    model = layers.Sequential(layers.BatchNorm2d(3), layers.MaxPool2d(2), layers.Flatten(), layers.BatchNorm1d(12),
                              layers.GaussianNoise(0.1, seed=1), layers.Reshape((3, 2, 2)), layers.Upsample2d(2),
                              layers.AvgPool2d(2), input_shape=(3, 4, 4))
    for _ in range(3):
        model.forward(rng.standard_normal((5, 3, 4, 4)).astype(np.float32))
    model[0].gamma.data = model[0].gamma.data * 2.0
    loaded = models.load(models.save(model, tmp_path / "bn.npz"))
    assert [type(layer) for layer in loaded] == [type(layer) for layer in model]
    for i in (0, 3):
        for name in ("running_mean", "running_var"):
            np.testing.assert_array_equal(loaded[i].buffers[name], model[i].buffers[name])
            assert loaded[i].buffers[name].any()
        np.testing.assert_array_equal(loaded[i].gamma.data, model[i].gamma.data)
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.eval().forward(x), model.eval().forward(x))


# --- gradient checks -----------------------------------------------------------------------------------------

def test_gradient_check_cases_cover_both_layers_in_both_modes():
    assert set(BN_CASES) == {"BatchNorm1d(4) train", "BatchNorm1d(4) eval", "BatchNorm2d(3) train",
                             "BatchNorm2d(3) eval"}


@pytest.mark.parametrize("name", list(BN_CASES))
def test_gradient_check_of_input_gamma_and_beta_below_1e_7_eqs_B7_B11(name, float64):
    errors = BN_CASES[name]()
    assert set(errors) == {"x", "gamma", "beta"}
    assert max(errors.values()) < EXPECTED_MAX_ERROR, f"{name}: {errors}"
