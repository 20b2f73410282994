"""MaxPool2d, AvgPool2d and Upsample2d against the equations of docs/math/pooling.md (P1–P10): output size,
forward and backward against loop references and PyTorch, the tie rule of max pooling, the adjoint
identity of upsampling, shape errors and the gradient checks.

Comparisons run in float64, where the fast kernels and the references agree to rounding (~1e-15).
"""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyae import backend, checks, layers
from tinyae.errors import DTypeError, ShapeError

POOLING_CASES = {name: run for name, run in checks.all_cases() if run.__module__ == "tinyae.checks.pooling"
                 and ("Pool" in name or "Upsample" in name)}
EXPECTED_MAX_ERROR = 1e-7            # measured worst: 3e-9 (MaxPool2d(2) on 6×6)

# (kernel_size, stride, input shape): square, overlapping, non-square, odd/cropped, gaps between windows
CONFIGS = [
    (2, None, (2, 3, 6, 6)),
    (3, 2, (2, 2, 7, 7)),
    ((2, 3), None, (2, 2, 7, 8)),
    ((3, 2), (1, 2), (1, 2, 5, 7)),
    (2, None, (2, 2, 5, 7)),
    (2, 3, (1, 2, 8, 8)),
    (1, None, (1, 1, 3, 3)),
]


def _np(a):
    return backend.to_numpy(a)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# --- loop references: one window at a time -------------------------------------------------------------

def out_size(size, k, s):
    return (size - k) // s + 1                                               # eq. P1


def reference_maxpool(x, kernel, stride):
    """Forward (eq. P2) and backward routing (eqs. P3, P4) by explicit loops; returns y and a function dy -> dx."""
    (kh, kw), (sh, sw) = _pair(kernel), _pair(stride or kernel)
    n, c, h, w = x.shape
    oh, ow = out_size(h, kh, sh), out_size(w, kw, sw)
    y = np.empty((n, c, oh, ow))
    winner = np.empty((n, c, oh, ow, 2), dtype=int)
    for b, ch, p, q in itertools.product(range(n), range(c), range(oh), range(ow)):
        window = x[b, ch, sh * p:sh * p + kh, sw * q:sw * q + kw]
        k = int(np.argmax(window))                                           # first maximum, row-major: eq. P3
        y[b, ch, p, q] = window.flat[k]                                      # eq. P2
        winner[b, ch, p, q] = (sh * p + k // kw, sw * q + k % kw)

    def backward(dy):
        dx = np.zeros_like(x)
        for b, ch, p, q in itertools.product(range(n), range(c), range(oh), range(ow)):
            a, col = winner[b, ch, p, q]
            dx[b, ch, a, col] += dy[b, ch, p, q]                             # eq. P4
        return dx
    return y, backward


def reference_avgpool(x, kernel, stride):
    (kh, kw), (sh, sw) = _pair(kernel), _pair(stride or kernel)
    n, c, h, w = x.shape
    oh, ow = out_size(h, kh, sh), out_size(w, kw, sw)
    y = np.empty((n, c, oh, ow))
    for p, q in itertools.product(range(oh), range(ow)):
        y[:, :, p, q] = x[:, :, sh * p:sh * p + kh, sw * q:sw * q + kw].mean(axis=(2, 3))   # eq. P5

    def backward(dy):
        dx = np.zeros_like(x)
        for p, q in itertools.product(range(oh), range(ow)):
            dx[:, :, sh * p:sh * p + kh, sw * q:sw * q + kw] += dy[:, :, p, q, None, None] / (kh * kw)  # eq. P6
        return dx
    return y, backward


# --- output size: P1 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [layers.MaxPool2d, layers.AvgPool2d])
@pytest.mark.parametrize("kernel, stride, shape", CONFIGS)
def test_output_size_is_floor_of_size_minus_kernel_over_stride_plus_one_eq_P1(cls, kernel, stride, shape, rng):
    (kh, kw), (sh, sw) = _pair(kernel), _pair(stride or kernel)
    expected = (shape[0], shape[1], out_size(shape[2], kh, sh), out_size(shape[3], kw, sw))
    layer = cls(kernel, stride)
    assert layer.output_shape(shape) == expected
    assert layer.forward(rng.standard_normal(shape)).shape == expected


def test_output_shape_keeps_unknown_sizes_unknown_eq_P1():
    assert layers.MaxPool2d(2).output_shape((None, 32, 28, 28)) == (None, 32, 14, 14)
    assert layers.AvgPool2d(3, 2).output_shape((None, 8, None, 9)) == (None, 8, None, 4)
    assert layers.Upsample2d((2, 3)).output_shape((None, 4, 7, None)) == (None, 4, 14, None)


def test_target_model_shapes_28_to_14_to_7():
    model = layers.Sequential(layers.MaxPool2d(2), layers.MaxPool2d(2), layers.Upsample2d(2), layers.Upsample2d(2),
                              input_shape=(32, 28, 28))
    assert model.shapes() == [(None, 32, 14, 14), (None, 32, 7, 7), (None, 32, 14, 14), (None, 32, 28, 28)]


# --- max pooling: P2–P4 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel, stride, shape", CONFIGS)
def test_maxpool_forward_and_backward_equal_the_loop_reference_eqs_P2_P4(kernel, stride, shape, backend_name, float64,
                                                                       rng):
    x = rng.standard_normal(shape)
    layer = layers.MaxPool2d(kernel, stride)
    y_ref, backward_ref = reference_maxpool(x, kernel, stride)
    y = layer.forward(backend.asarray(x))
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(_np(y), y_ref)
    np.testing.assert_allclose(_np(layer.backward(backend.asarray(dy))), backward_ref(dy), rtol=1e-14, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 4), sw=st.integers(1, 4),
       extra_h=st.integers(0, 5), extra_w=st.integers(0, 5), ties=st.booleans(), seed=st.integers(0, 2**16))
def test_maxpool_random_shapes_and_ties_equal_the_loop_reference_eqs_P1_P4(kh, kw, sh, sw, extra_h, extra_w, ties,
                                                                           seed):
    rng = np.random.default_rng(seed)
    shape = (2, 2, kh + extra_h, kw + extra_w)
    x = rng.integers(0, 3, shape).astype(float) if ties else rng.standard_normal(shape)   # small integers: many ties
    layer = layers.MaxPool2d((kh, kw), (sh, sw))
    y_ref, backward_ref = reference_maxpool(x, (kh, kw), (sh, sw))
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    assert y.shape == y_ref.shape, f"ours {y.shape} vs reference {y_ref.shape}"
    np.testing.assert_array_equal(y, y_ref, err_msg="ours vs reference (forward)")
    np.testing.assert_allclose(layer.backward(dy), backward_ref(dy), rtol=1e-14, atol=1e-14,
                               err_msg="ours vs reference (backward)")


@settings(max_examples=40, deadline=None)
@given(kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 4), sw=st.integers(1, 4),
       extra_h=st.integers(0, 5), extra_w=st.integers(0, 5), ties=st.booleans(), seed=st.integers(0, 2**16))
def test_maxpool_after_relu_equals_the_loop_reference_of_relu_then_pool_eqs_P9_P10(kh, kw, sh, sw, extra_h, extra_w,
                                                                                  ties, seed):
    rng = np.random.default_rng(seed)
    shape = (2, 2, kh + extra_h, kw + extra_w)
    x = rng.integers(-2, 3, shape).astype(float) if ties else rng.standard_normal(shape)  # windows of ties, all ≤ 0
    layer = layers.MaxPool2d((kh, kw), (sh, sw))
    y_ref, backward_ref = reference_maxpool(np.maximum(x, 0), (kh, kw), (sh, sw))
    y = layer.forward_after_relu(x)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(y, y_ref, err_msg="max(0, window) vs the reference of MaxPool2d(ReLU(x))")
    np.testing.assert_allclose(layer.backward(dy), backward_ref(dy) * (x > 0), rtol=1e-14, atol=1e-14,
                               err_msg="ours vs the reference, times the ReLU's derivative (eq. P10)")


@pytest.mark.parametrize("kernel, stride, shape", CONFIGS)
@pytest.mark.parametrize("with_ties", [False, True], ids=["distinct", "relu-ties"])
def test_maxpool_forward_and_backward_equal_torch_max_pool2d_eqs_P2_P4(kernel, stride, shape, with_ties, float64,
                                                                       rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape)
    if with_ties:
        x = np.maximum(x, 0.0)            # after a ReLU: windows of zeros tie; PyTorch's first-wins rule must agree
    layer = layers.MaxPool2d(kernel, stride)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.nn.functional.max_pool2d(xt, kernel, stride)
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=1e-14, atol=1e-14)


def test_maxpool_tie_gives_the_whole_gradient_to_the_first_entry_in_row_major_order_eq_P3(backend_name, float64):
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, :, 2:] = [[1.0, 5.0],             # second window: (0, 1) and (1, 0) tie at 5, (0, 0) is smaller
                      [5.0, 2.0]]
    layer = layers.MaxPool2d(2)               # first window: four zeros, a four-way tie
    y = layer.forward(backend.asarray(x))
    np.testing.assert_array_equal(_np(y), [[[[0.0, 5.0]]]])
    dx = _np(layer.backward(backend.asarray(np.array([[[[3.0, 7.0]]]]))))
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0, 0.0, 7.0],
                                          [0.0, 0.0, 0.0, 0.0]]]])


def test_maxpool_gives_each_window_exactly_one_winner_even_when_all_values_tie_eq_P3(backend_name, float64, rng):
    x = np.zeros((3, 4, 6, 6))                 # every window a tie, as after a ReLU of negative inputs
    layer = layers.MaxPool2d(2)
    layer.forward(backend.asarray(x))
    dy = rng.uniform(1.0, 2.0, (3, 4, 3, 3))
    dx = _np(layer.backward(backend.asarray(dy))).reshape(3, 4, 3, 2, 3, 2)
    winners = (dx != 0).sum(axis=(3, 5))
    np.testing.assert_array_equal(winners, 1)                                # one winner, not four
    np.testing.assert_allclose(dx.sum(axis=(3, 5)), dy)                      # and it gets all of dy
    np.testing.assert_array_equal(dx[:, :, :, 0, :, 0], dy)                  # the first entry of the window


def test_maxpool_overlapping_windows_add_the_gradients_of_a_shared_winner_eq_P4(float64):
    x = np.zeros((1, 1, 3, 5))
    x[0, 0, 1, 2] = 9.0                        # inside both 3×3 windows at stride 2 (columns 0–2 and 2–4)
    layer = layers.MaxPool2d(3, stride=2)
    assert layer.forward(x).shape == (1, 1, 1, 2)
    dx = layer.backward(np.array([[[[2.0, 3.0]]]]))
    assert dx[0, 0, 1, 2] == 5.0 and np.count_nonzero(dx) == 1


def test_maxpool_rows_and_columns_no_window_reaches_get_zero_gradient_eq_P1(float64, rng):
    x = rng.standard_normal((2, 3, 7, 5))
    x[:, :, 6, :] = 100.0                      # the last row and column are cropped: they must not win
    x[:, :, :, 4] = 100.0
    layer = layers.MaxPool2d(2)
    assert layer.forward(x).max() < 100.0
    dx = layer.backward(np.ones((2, 3, 3, 2)))
    assert not dx[:, :, 6, :].any() and not dx[:, :, :, 4].any()
    np.testing.assert_allclose(dx.sum(), 2 * 3 * 3 * 2)


def test_maxpool_float32_input_gives_float32_output_and_gradient(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    layer = layers.MaxPool2d(2)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32


# --- average pooling: P5–P6 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel, stride, shape", CONFIGS)
def test_avgpool_forward_and_backward_equal_the_loop_reference_eqs_P5_P6(kernel, stride, shape, backend_name, float64,
                                                                       rng):
    x = rng.standard_normal(shape)
    layer = layers.AvgPool2d(kernel, stride)
    y_ref, backward_ref = reference_avgpool(x, kernel, stride)
    y = layer.forward(backend.asarray(x))
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(_np(y), y_ref, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(_np(layer.backward(backend.asarray(dy))), backward_ref(dy), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("kernel, stride, shape", CONFIGS)
def test_avgpool_forward_and_backward_equal_torch_avg_pool2d_eqs_P5_P6(kernel, stride, shape, float64, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape)
    layer = layers.AvgPool2d(kernel, stride)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.nn.functional.avg_pool2d(xt, kernel, stride)
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=1e-13, atol=1e-14)


def test_avgpool_backward_of_tiling_windows_is_upsampling_divided_by_the_window_size_eqs_P6_P8(float64, rng):
    pool, up = layers.AvgPool2d((2, 3)), layers.Upsample2d((2, 3))
    pool.forward(rng.standard_normal((2, 3, 4, 9)))
    dy = rng.standard_normal((2, 3, 2, 3))
    up.forward(dy)
    np.testing.assert_allclose(pool.backward(dy), up.forward(dy) / 6, rtol=1e-15)


# --- upsampling: P7–P8 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1, 2, 3, (2, 3), (3, 1)])
def test_upsample_forward_repeats_each_pixel_as_a_block_eq_P7(scale, backend_name, float64, rng):
    sh, sw = _pair(scale)
    x = rng.standard_normal((2, 3, 4, 5))
    y = _np(layers.Upsample2d(scale).forward(backend.asarray(x)))
    rows, cols = np.arange(4 * sh) // sh, np.arange(5 * sw) // sw
    np.testing.assert_array_equal(y, x[:, :, rows[:, None], cols[None, :]])     # y[r, s] = x[r // sh, s // sw]


@pytest.mark.parametrize("scale", [2, (2, 3)])
def test_upsample_forward_and_backward_equal_torch_interpolate_nearest_eqs_P7_P8(scale, float64, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 4, 5))
    layer = layers.Upsample2d(scale)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.nn.functional.interpolate(xt, scale_factor=scale, mode="nearest")
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("scale", [2, (3, 2)])
def test_upsample_backward_is_its_adjoint_sum_pooling_eq_P8(scale, backend_name, float64, rng):
    layer = layers.Upsample2d(scale)
    x = rng.standard_normal((2, 3, 4, 5))
    y = _np(layer.forward(backend.asarray(x)))
    v = rng.standard_normal(y.shape)
    xt_v = _np(layer.backward(backend.asarray(v)))
    np.testing.assert_allclose(np.sum(y * v), np.sum(x * xt_v), rtol=1e-13)      # ⟨Ux, v⟩ = ⟨x, Uᵀv⟩
    sh, sw = _pair(scale)
    np.testing.assert_allclose(xt_v, v.reshape(2, 3, 4, sh, 5, sw).sum(axis=(3, 5)), rtol=1e-14)


# --- the layer protocol ----------------------------------------------------------------------------------------------

ALL_LAYERS = [lambda: layers.MaxPool2d(2), lambda: layers.MaxPool2d(3, 2), lambda: layers.AvgPool2d(2),
              lambda: layers.AvgPool2d((2, 3), (1, 2)), lambda: layers.Upsample2d(2), lambda: layers.Upsample2d((1, 3))]
LAYER_IDS = ["MaxPool2d(2)", "MaxPool2d(3,2)", "AvgPool2d(2)", "AvgPool2d((2,3),(1,2))", "Upsample2d(2)",
             "Upsample2d((1,3))"]


@pytest.mark.parametrize("make", ALL_LAYERS, ids=LAYER_IDS)
def test_backward_never_modifies_dy(make, rng):
    layer = make()
    y = layer.forward(rng.standard_normal((2, 3, 6, 6)))
    dy = rng.standard_normal(y.shape)
    before = dy.copy()
    layer.backward(dy)
    np.testing.assert_array_equal(dy, before)


@pytest.mark.parametrize("make", ALL_LAYERS, ids=LAYER_IDS)
def test_forward_never_modifies_x(make, rng):
    x = rng.standard_normal((2, 3, 6, 6))
    before = x.copy()
    make().forward(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("make", ALL_LAYERS, ids=LAYER_IDS)
def test_config_is_json_and_rebuilds_the_same_layer(make):
    layer = make()
    config = json.loads(json.dumps(layer.config()))
    twin = type(layer)(**config)
    assert twin.config() == layer.config() and repr(twin) == repr(layer)


def test_config_writes_square_sizes_as_one_int_and_stride_defaults_to_the_kernel():
    assert layers.MaxPool2d(2).config() == {"kernel_size": 2, "stride": 2}
    assert layers.AvgPool2d((2, 3), stride=1).config() == {"kernel_size": [2, 3], "stride": 1}
    assert repr(layers.Upsample2d((2, 3))) == "Upsample2d(scale_factor=[2, 3])"


@pytest.mark.parametrize("make", ALL_LAYERS, ids=LAYER_IDS)
def test_backward_before_forward_raises(make):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        make().backward(np.zeros((1, 1, 2, 2)))


@pytest.mark.parametrize("make", ALL_LAYERS, ids=LAYER_IDS)
def test_backward_with_a_gradient_of_the_wrong_shape_raises_shape_error_with_both_shapes(make, rng):
    layer = make()
    y = layer.forward(rng.standard_normal((2, 3, 6, 6)))
    wrong = (2, 3, y.shape[2] + 1, y.shape[3])
    with pytest.raises(ShapeError) as info:
        layer.backward(np.zeros(wrong))
    message = str(info.value)
    assert message.startswith(f"{type(layer).__name__}: backward expected")
    assert str(tuple(y.shape)) in message and str(wrong) in message


@pytest.mark.parametrize("make", ALL_LAYERS, ids=LAYER_IDS)
def test_input_that_is_not_an_image_raises_shape_error_naming_layer_and_both_shapes(make):
    layer = make()
    with pytest.raises(ShapeError, match=rf"{type(layer).__name__}: expected input of shape \(N, \?, \?, \?\), "
                                         r"got \(4, 784\).*Reshape"):
        layer.forward(np.zeros((4, 784)))
    with pytest.raises(ShapeError, match=r"\(N, \?, \?, \?\).*\(N, 784\)"):
        layer.output_shape((None, 784))


@pytest.mark.parametrize("cls", [layers.MaxPool2d, layers.AvgPool2d])
def test_window_larger_than_the_input_raises_shape_error_with_layer_shapes_and_arithmetic_eq_P1(cls):
    layer = cls(3, stride=2)
    with pytest.raises(ShapeError) as info:
        layer.forward(np.zeros((2, 4, 2, 5)))
    message = str(info.value)
    assert message.startswith(f"{cls.__name__}: expected input of shape (N, C, H ≥ 3, W ≥ 3)")
    assert "(2, 4, 2, 5)" in message and "< 1" in message.split("(2, 4, 2, 5)")[1]   # the arithmetic follows
    with pytest.raises(ShapeError, match=r"\(N, 4, 2, 5\)"):
        layer.output_shape((None, 4, 2, 5))


def test_shape_error_inside_sequential_names_the_numbered_layer(rng):
    with pytest.raises(ShapeError, match=r"layer 1 \(MaxPool2d\)"):
        layers.Sequential(layers.MaxPool2d(2), layers.MaxPool2d(4), input_shape=(1, 6, 6))


@pytest.mark.parametrize("make", ALL_LAYERS, ids=LAYER_IDS)
def test_integer_images_raise_dtype_error(make):
    with pytest.raises(DTypeError, match="floating-point"):
        make().forward(np.zeros((1, 1, 6, 6), dtype=np.uint8))


@pytest.mark.parametrize("bad", [0, -1, 1.5, (2,), (2, 0), "2", True, None])
def test_invalid_sizes_raise_value_error_naming_the_layer(bad):
    for cls in (layers.MaxPool2d, layers.AvgPool2d, layers.Upsample2d):
        with pytest.raises(ValueError, match=cls.__name__):
            cls(bad)
    with pytest.raises(ValueError, match="stride"):
        layers.MaxPool2d(2, stride=0)


# --- gradient checks -----------------------------------------------------------------------------------------------

def test_gradient_check_cases_cover_every_pooling_layer():
    names = " ".join(POOLING_CASES)
    for needed in ("MaxPool2d(2)", "overlapping", "non-square", "odd", "AvgPool2d", "Upsample2d"):
        assert needed in names


@pytest.mark.parametrize("name", list(POOLING_CASES))
def test_gradient_check_below_1e_7_with_inputs_0_1_away_from_ties_eqs_P4_P6_P8(name, float64):
    errors = POOLING_CASES[name]()
    assert errors and max(errors.values()) < EXPECTED_MAX_ERROR, f"{name}: {errors}"


def test_gradient_check_inputs_keep_every_maxpool_window_winner_0_1_ahead(rng):
    x = checks.pooling.distinct_values(rng, (2, 2, 7, 7))
    for p, q in itertools.product(range(3), range(3)):                   # 3×3 windows, stride 2
        window = np.sort(x[:, :, 2 * p:2 * p + 3, 2 * q:2 * q + 3].reshape(2, 2, -1), axis=-1)
        assert (window[..., -1] - window[..., -2] >= 0.1 - 1e-12).all()
