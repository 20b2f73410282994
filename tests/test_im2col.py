"""tinyae.im2col against docs/math/conv.md: the output-size arithmetic (eqs. C1, T2, T3), im2col and
col2im against loop references (eqs. C3, C8) in both memory orders, their adjoint identity (eq. C9),
and the helpers that put NCHW activations in the columns' order.

The loop references below are the definitions written out one entry at a time; the fast versions
must agree with them to rounding (float64, ~1e-15). On failure the message prints ours vs reference.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyae import backend
from tinyae.errors import ShapeError
from tinyae.im2col import (col2im, conv_output_size, conv_transpose_output_size, from_operand, im2col, pair,
                           per_image, prefer_batch_last, sum_over_images, to_operand)


def _np(a):
    return backend.to_numpy(a)


# --- loop references --------------------------------------------------------------------------------------

def reference_im2col(x, kernel, stride, padding, dilation=(1, 1)):
    """cols[(c, i, j), (n, oh, ow)] = x_padded[n, c, sh·oh + dh·i, sw·ow + dw·j], entry by entry (eq. C3)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c, h, w = x.shape
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.zeros((c * kh * kw, n * oh * ow))
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                for ni in range(n):
                    for a in range(oh):
                        for b in range(ow):
                            cols[(ci * kh + i) * kw + j, (ni * oh + a) * ow + b] = padded[ni, ci, sh * a + dh * i,
                                                                                          sw * b + dw * j]
    return cols


def reference_col2im(cols, image_shape, kernel, stride, padding, dilation=(1, 1)):
    """Each column entry added onto the pixel it came from (eq. C8); padding dropped."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c, h, w = image_shape
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                for ni in range(n):
                    for a in range(oh):
                        for b in range(ow):
                            padded[ni, ci, sh * a + dh * i, sw * b + dw * j] += cols[(ci * kh + i) * kw + j,
                                                                                     (ni * oh + a) * ow + b]
    return padded[:, :, ph:ph + h, pw:pw + w]


def to_batch_first(cols, n, oh, ow):
    """Batch-last columns (K, OH·OW·N) reordered to the reference order (K, N·OH·OW)."""
    k = cols.shape[0]
    return cols.reshape(k, oh, ow, n).transpose(0, 3, 1, 2).reshape(k, -1)


def random_config(rng):
    """A random valid configuration: (x shape, kernel, stride, padding, dilation)."""
    while True:
        kernel = tuple(int(v) for v in rng.integers(1, 5, 2))
        stride = tuple(int(v) for v in rng.integers(1, 4, 2))
        padding = tuple(int(v) for v in rng.integers(0, 3, 2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 10)), int(rng.integers(1, 10)))
        if all(shape[2 + a] + 2 * padding[a] >= dilation[a] * (kernel[a] - 1) + 1 for a in range(2)):
            return shape, kernel, stride, padding, dilation


# --- im2col / col2im against the references -----------------------------------------------------------------

@pytest.mark.parametrize("batch_last", [False, True], ids=["batch first", "batch last"])
def test_im2col_and_col2im_equal_the_loop_references_on_random_shapes_eqs_C3_C8(batch_last, xp):
    rng = np.random.default_rng(0)
    for trial in range(40):
        shape, kernel, stride, padding, dilation = random_config(rng)
        x = rng.standard_normal(shape)
        n, _, h, w = shape
        oh = conv_output_size(h, kernel[0], stride[0], padding[0], dilation[0])
        ow = conv_output_size(w, kernel[1], stride[1], padding[1], dilation[1])
        cols = _np(im2col(xp.asarray(x), kernel, stride, padding, dilation, batch_last=batch_last))
        ours = to_batch_first(cols, n, oh, ow) if batch_last else cols
        ref = reference_im2col(x, kernel, stride, padding, dilation)
        assert np.allclose(ours, ref, rtol=0, atol=1e-15), \
            f"trial {trial} {shape} k{kernel} s{stride} p{padding} d{dilation}:\nours\n{ours}\nreference\n{ref}"

        c = rng.standard_normal(ref.shape)                       # columns in the reference order
        c_ours = c.reshape(-1, n, oh, ow).transpose(0, 2, 3, 1).reshape(c.shape[0], -1) if batch_last else c
        back = _np(col2im(xp.asarray(c_ours), shape, kernel, stride, padding, dilation, batch_last=batch_last))
        ref_back = reference_col2im(c, shape, kernel, stride, padding, dilation)
        assert np.allclose(back, ref_back, rtol=0, atol=1e-13), \
            f"trial {trial} {shape} k{kernel} s{stride} p{padding} d{dilation}:\nours\n{back}\nreference\n{ref_back}"


@pytest.mark.parametrize("batch_last", [False, True], ids=["batch first", "batch last"])
def test_col2im_is_the_adjoint_of_im2col_eq_C9(batch_last, xp):
    # <im2col(x), c> = <x, col2im(c)> for every x and c: col2im is the transpose of the linear map im2col
    rng = np.random.default_rng(1)
    for _ in range(30):
        shape, kernel, stride, padding, dilation = random_config(rng)
        x = xp.asarray(rng.standard_normal(shape))
        cols = im2col(x, kernel, stride, padding, dilation, batch_last=batch_last)
        c = xp.asarray(rng.standard_normal(cols.shape))
        lhs = float(xp.sum(cols * c))
        rhs = float(xp.sum(x * col2im(c, shape, kernel, stride, padding, dilation, batch_last=batch_last)))
        assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), 1.0), (lhs, rhs)


def test_col2im_adds_overlapping_windows_it_is_not_an_inverse_eq_C8():
    # 3×3 image, 2×2 windows, stride 1: the centre pixel lies in all four windows
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    cols = im2col(x, 2)
    assert cols.shape == (4, 4)
    back = col2im(cols, x.shape, 2)
    np.testing.assert_array_equal(back, x * np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]))


def test_col2im_gives_zero_to_pixels_no_window_reaches():
    # 6 wide, kernel 2, stride 3: windows [0, 1] and [3, 4]; column 2 lies between them and column 5 in the
    # last partial window, which is dropped (eq. C1)
    x = np.ones((1, 1, 1, 6))
    back = col2im(im2col(x, (1, 2), (1, 3)), x.shape, (1, 2), (1, 3))
    np.testing.assert_array_equal(back[0, 0, 0], [1, 1, 0, 1, 1, 0])


@pytest.mark.parametrize("batch_last", [False, True], ids=["batch first", "batch last"])
def test_workspace_buffers_are_reused_and_results_stay_right_when_the_shape_changes(batch_last):
    rng = np.random.default_rng(2)
    workspace = {}
    for shape in [(2, 3, 5, 5), (2, 3, 5, 5), (3, 3, 4, 6), (2, 3, 5, 5)]:
        x = rng.standard_normal(shape)
        cols = im2col(x, 3, 1, 1, batch_last=batch_last, workspace=workspace)
        fresh = im2col(x, 3, 1, 1, batch_last=batch_last)
        np.testing.assert_array_equal(cols, fresh)
        assert np.shares_memory(cols, workspace["cols"])                   # the columns live in the workspace
        back = col2im(cols, shape, 3, 1, 1, batch_last=batch_last, workspace=workspace)
        assert not any(np.shares_memory(back, buf) for buf in workspace.values())   # col2im's result is new
        np.testing.assert_allclose(back, col2im(fresh, shape, 3, 1, 1, batch_last=batch_last), rtol=1e-15)
    buffer = workspace["cols"]
    im2col(rng.standard_normal((2, 3, 5, 5)), 3, 1, 1, batch_last=batch_last, workspace=workspace)
    assert workspace["cols"] is buffer                                     # same shape: no new allocation


def test_im2col_keeps_float32():
    x = np.ones((2, 3, 5, 5), dtype=np.float32)
    for batch_last in (False, True):
        cols = im2col(x, 3, 1, 1, batch_last=batch_last)
        assert cols.dtype == np.float32
        assert col2im(cols, x.shape, 3, 1, 1, batch_last=batch_last).dtype == np.float32


def test_col2im_rejects_columns_of_the_wrong_shape():
    with pytest.raises(ShapeError, match=r"col2im: columns of shape \(9, 10\) do not fit image shape"):
        col2im(np.zeros((9, 10)), (1, 1, 5, 5), 3)


# --- the operands of the matrix products -----------------------------------------------------------------------

@pytest.mark.parametrize("batch_last", [False, True], ids=["batch first", "batch last"])
def test_operands_round_trip_and_agree_with_the_columns_order(batch_last, xp):
    rng = np.random.default_rng(3)
    x = xp.asarray(rng.standard_normal((3, 4, 5, 6)))
    m = to_operand(x, batch_last)
    assert m.shape == ((4, 5 * 6 * 3) if batch_last else (3, 4, 5 * 6))
    np.testing.assert_array_equal(_np(from_operand(m, x.shape, batch_last)), _np(x))
    # a 1×1 "convolution" with the identity: im2col(x) is x in the operand order
    cols = im2col(x, 1, batch_last=batch_last)
    np.testing.assert_array_equal(_np(per_image(cols, 3, batch_last)), _np(m))
    # a product of operands summed over the images is the one big GEMM of the batch-last order
    w = xp.asarray(rng.standard_normal((2, 4)))
    ours = _np(sum_over_images(w @ m @ per_image(cols, 3, batch_last).swapaxes(-1, -2)))
    big = _np(w @ to_operand(x, True) @ im2col(x, 1, batch_last=True).T)
    np.testing.assert_allclose(ours, big, rtol=1e-12)


def test_the_cost_model_picks_the_measured_orders_for_the_target_model():
    # (column rows C·kh·kw, grid width, channels of an NCHW input to transpose) of the four layers of `conv`
    assert prefer_batch_last(1 * 9, 28, 1) is True             # Conv2d(1→32) on the 28×28 NCHW images
    assert prefer_batch_last(32 * 9, 14, 0) is True            # Conv2d(32→64), its input batch-last already
    assert prefer_batch_last(32 * 9, 7, 0) is True             # ConvTranspose2d(64→32) on 7×7
    assert prefer_batch_last(1 * 9, 14, 0) is True             # ConvTranspose2d(32→1) on 14×14
    # batch first wins where an NCHW input is wide and the kernel small: a 1×1 conv of 16 channels, 64 wide
    assert prefer_batch_last(16 * 1, 64, 16) is False


# --- output sizes (eqs. C1, T2, T3) -------------------------------------------------------------------------------

@pytest.mark.parametrize("size, kernel, stride, padding, dilation, expected", [
    (28, 3, 1, 1, 1, 28), (28, 2, 2, 0, 1, 14), (7, 3, 2, 1, 1, 4), (5, 5, 1, 0, 1, 1), (6, 3, 2, 0, 1, 2),
    (10, 3, 1, 0, 2, 6), (1, 1, 1, 0, 1, 1), (4, 7, 3, 2, 1, 1),
])
def test_conv_output_size_is_pytorchs_floor_formula_eq_C1(size, kernel, stride, padding, dilation, expected):
    assert conv_output_size(size, kernel, stride, padding, dilation) == expected


@pytest.mark.parametrize("size, kernel, stride, padding, output_padding, expected", [
    (7, 3, 2, 1, 1, 14), (14, 3, 2, 1, 1, 28), (7, 3, 2, 1, 0, 13), (5, 3, 1, 1, 0, 5), (3, 4, 3, 1, 2, 10),
])
def test_conv_transpose_output_size_eq_T2(size, kernel, stride, padding, output_padding, expected):
    assert conv_transpose_output_size(size, kernel, stride, padding, output_padding) == expected


@settings(max_examples=300, deadline=None)
@given(size=st.integers(1, 64), kernel=st.integers(1, 7), stride=st.integers(1, 4), padding=st.integers(0, 3),
       dilation=st.integers(1, 3))
def test_transpose_conv_with_the_right_output_padding_restores_the_input_size_eq_T3(size, kernel, stride, padding,
                                                                                    dilation):
    span = dilation * (kernel - 1) + 1
    if size + 2 * padding < span:                                  # impossible: the message shows the arithmetic
        with pytest.raises(ShapeError) as info:
            conv_output_size(size, kernel, stride, padding, dilation)
        message = str(info.value)
        assert f"{size} + 2·{padding} − " in message and "< 1" in message
        assert f"stride {stride}" in message and f"padding {padding}" in message
        return
    out = conv_output_size(size, kernel, stride, padding, dilation)
    output_padding = (size + 2 * padding - span) % stride          # the rows the convolution's floor dropped
    assert output_padding < stride
    assert conv_transpose_output_size(out, kernel, stride, padding, output_padding, dilation) == size
    # and every output_padding < stride that gives a valid size gives one the convolution maps back to `out`
    for op in range(stride):
        restored = (out - 1) * stride - 2 * padding + span + op      # eq. T2
        if restored >= 1:
            assert conv_transpose_output_size(out, kernel, stride, padding, op, dilation) == restored
            assert conv_output_size(restored, kernel, stride, padding, dilation) == out


def test_impossible_convolution_shows_the_arithmetic_eq_C1():
    with pytest.raises(ShapeError, match=r"\(5 \+ 2·0 − 7\) / 1 \+ 1 = −1 < 1"):
        conv_output_size(5, 7, 1, 0)
    with pytest.raises(ShapeError, match=r"⌊\(4 \+ 2·0 − 7\) / 2⌋ \+ 1 = −1 < 1"):
        conv_output_size(4, 7, 2, 0)
    with pytest.raises(ShapeError, match=r"\(3 \+ 2·0 − 2·\(3 − 1\) − 1\) / 1 \+ 1 = −1 < 1"):
        conv_output_size(3, 3, 1, 0, dilation=2)


def test_output_padding_must_be_smaller_than_stride_or_dilation_as_in_pytorch_eq_T3():
    with pytest.raises(ShapeError, match=r"output_padding 2 must be smaller than stride 2 or dilation 1.*"
                                         r"output_padding < max\(2, 1\) = 2 fails"):
        conv_transpose_output_size(7, 3, 2, 1, 2)
    assert conv_transpose_output_size(7, 3, 1, 1, 1, dilation=2) == 10       # < dilation is allowed too
    with pytest.raises(ShapeError, match=r"\(1 − 1\)·1 − 2·3 \+ \(3 − 1\) \+ 0 \+ 1 = −3 < 1"):
        conv_transpose_output_size(1, 3, 1, 3, 0)


@pytest.mark.parametrize("bad", [{"kernel": 0}, {"stride": 0}, {"padding": -1}, {"dilation": 0}])
def test_nonsense_hyperparameters_raise_value_error(bad):
    args = {"size": 5, "kernel": 3, "stride": 1, "padding": 0, "dilation": 1, **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        conv_output_size(**args)


def test_pair_accepts_an_int_or_an_h_w_pair_only():
    assert pair(3) == (3, 3) and pair((3, 5)) == (3, 5) and pair([2, 1]) == (2, 1) and pair(np.int64(2)) == (2, 2)
    assert pair(0, "padding", minimum=0) == (0, 0)
    for bad in [(1, 2, 3), 2.0, "3", True, (1, 1.5), None]:
        with pytest.raises(ValueError, match="kernel_size must be an int or a pair"):
            pair(bad, "kernel_size")
    with pytest.raises(ValueError, match=r"stride must be ≥ 1, got \(1, 0\)"):
        pair((1, 0), "stride")


@pytest.mark.parametrize("batch_last", [False, True])
def test_ones_row_appends_the_bias_input_and_start_is_the_sum_before_any_column_eqs_C4b_T4(batch_last, float64):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 5, 6))
    plain = im2col(x, 3, 2, 1, batch_last=batch_last)
    with_ones = im2col(x, 3, 2, 1, batch_last=batch_last, ones_row=True)
    assert with_ones.shape == (plain.shape[0] + 1, plain.shape[1])
    np.testing.assert_array_equal(with_ones[:-1], plain)
    np.testing.assert_array_equal(with_ones[-1], 1.0)
    start = rng.standard_normal(3)
    summed = col2im(plain, x.shape, 3, 2, 1, batch_last=batch_last, start=start)
    np.testing.assert_allclose(summed, col2im(plain, x.shape, 3, 2, 1, batch_last=batch_last)
                               + start.reshape(1, 3, 1, 1), rtol=1e-15, atol=1e-15)
