"""Noise models (tinyae.corrupt, docs/math/denoising.md N1–N2), Crop2d and Keras's 'same' alignment,
and the image-quality figures PSNR and SSIM (Q1–Q4)."""
from __future__ import annotations

import numpy as np
import pytest

from tinyae import corrupt, gradcheck, layers, metrics, models
from tinyae.checks import Replay


def clean(n=20, seed=0):
    return np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32)


# --- the noises as functions: fixed, seeded noisy sets --------------------------------------------

def test_gaussian_noise_is_seeded_clipped_and_has_the_asked_spread_eq_N1():
    x = np.full((200, 1, 28, 28), 0.5, np.float32)
    a, b, c = corrupt.gaussian(x, 0.1, seed=1), corrupt.gaussian(x, 0.1, seed=1), corrupt.gaussian(x, 0.1, seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c) and a.dtype == np.float32
    assert (a - x).std() == pytest.approx(0.1, rel=0.01)
    wide = corrupt.gaussian(x, 0.4, seed=0)
    assert wide.min() == 0.0 and wide.max() == 1.0                          # clipped to [0, 1]
    assert corrupt.gaussian(x, 0.4, seed=0, clip=False).max() > 1.0


def test_masking_and_salt_and_pepper_replace_the_asked_fraction_eq_N1():
    x = np.full((100, 1, 28, 28), 0.5, np.float32)
    masked = corrupt.masking(x, 0.3, seed=0)
    assert np.mean(masked == 0) == pytest.approx(0.3, abs=0.005) and set(np.unique(masked)) == {0.0, 0.5}
    salted = corrupt.salt_and_pepper(x, 0.2, seed=0)
    assert np.mean(salted == 0) == pytest.approx(0.1, abs=0.005)
    assert np.mean(salted == 1) == pytest.approx(0.1, abs=0.005)


def test_the_block_mask_zeroes_one_square_per_image_where_it_fits():
    x = np.ones((50, 1, 28, 28), np.float32)
    masked = corrupt.block(x, 12, seed=0)
    zeros = masked[:, 0] == 0
    assert np.all(zeros.sum(axis=(1, 2)) == 144)
    rows, cols = zeros.any(axis=2), zeros.any(axis=1)
    assert np.all(rows.sum(axis=1) == 12) and np.all(cols.sum(axis=1) == 12)    # one 12×12 square each
    assert len({(int(r.argmax()), int(c.argmax())) for r, c in zip(rows, cols)}) > 20   # at various places


@pytest.mark.parametrize("spec, kind, amount", [("gaussian:0.4", "gaussian", 0.4), ("masking:0.5", "masking", 0.5),
                                                ("salt-and-pepper:0.2", "salt_pepper", 0.2), ("block:12", "block", 12)])
def test_specs_name_a_noise_and_its_amount(spec, kind, amount):
    assert corrupt.parse(spec) == (kind, amount)
    assert np.array_equal(corrupt.apply(spec, clean(2), seed=3),
                          {"gaussian": corrupt.gaussian, "masking": corrupt.masking,
                           "salt_pepper": corrupt.salt_and_pepper, "block": corrupt.block}[kind](clean(2), amount, 3))


@pytest.mark.parametrize("spec, message", [("gauss:0.4", "unknown kind 'gauss'"), ("gaussian", "expected KIND:AMOUNT"),
                                           ("masking:1.5", r"must be in \[0, 1\)"), ("block:2.5", "whole number"),
                                           ("gaussian:x", "is not a number"), ("gaussian:-1", "must be ≥ 0")])
def test_a_bad_spec_says_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        corrupt.parse(spec)


# --- the noises as layers: fresh in train mode, identity in eval mode ------------------------------

@pytest.mark.parametrize("spec", ["gaussian:0.4", "masking:0.5", "salt_pepper:0.2", "block:10"])
def test_a_corruption_layer_draws_afresh_in_train_mode_and_is_the_identity_in_eval_mode(spec):
    layer = corrupt.layer(spec, seed=0)
    x = clean(4, seed=9)
    first, second = layer.forward(x), layer.forward(x)
    assert not np.array_equal(first, x) and not np.array_equal(first, second)
    layer.eval()
    assert layer.forward(x) is x


@pytest.mark.parametrize("cls, amount", [(layers.GaussianCorruption, 0.3), (layers.MaskingNoise, 0.4),
                                         (layers.SaltAndPepperNoise, 0.3), (layers.BlockMask, 2)])
def test_corruption_gradient_with_the_noise_fixed_is_dy_times_keep_eq_N2(float64, cls, amount):
    rng = np.random.default_rng(61)
    x = rng.uniform(0.2, 0.8, (3, 1, 4, 5))
    layer = cls(amount, seed=0)
    layer._rng = Replay(0)            # seed 0 keeps every clipped Gaussian value ≥ 0.01 from 0 and 1 (the kinks)
    errors = gradcheck.check_layer(layer, x)
    assert errors["x"] < 1e-7, errors
    layer.forward(x)
    dy = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(dy), dy * layer._keep)


# --- Crop2d and Keras's 'same' transposed convolution ------------------------------------------------

def test_crop2d_drops_the_edges_and_puts_the_gradient_back_in_place(rng):
    layer = layers.Crop2d(((0, 1), (2, 1)))
    x = rng.standard_normal((2, 3, 5, 6))
    y = layer.forward(x)
    np.testing.assert_array_equal(y, x[:, :, 0:4, 2:5])
    dx = layer.backward(np.ones_like(y))
    assert dx.sum() == y.size and np.all(dx[:, :, 4, :] == 0) and np.all(dx[:, :, :, :2] == 0)
    assert layers.Crop2d(1).output_shape((None, 3, 7, 7)) == (None, 3, 5, 5)


def test_keras_same_transposed_conv_is_pytorchs_unpadded_one_cropped_at_the_bottom_right_eq_N4():
    """keras-io's Conv2DTranspose(32, 3, strides=2, padding="same") ≡ torch ConvTranspose2d(padding=0)[..., :-1, :-1];
    PyTorch's padding=1, output_padding=1 gives the same size but drops the first row and column instead."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    convt = layers.ConvTranspose2d(2, 3, 3, stride=2, rng=rng)
    crop = layers.Crop2d(((0, 1), (0, 1)))
    x = rng.standard_normal((2, 2, 7, 7)).astype(np.float32)
    ours = crop.forward(convt.forward(x))
    t = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=0)
    t_shifted = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1)
    with torch.no_grad():
        for module in (t, t_shifted):
            module.weight.copy_(torch.tensor(convt.W.data))
            module.bias.zero_()
        keras_like = t(torch.tensor(x))[..., :-1, :-1].numpy()
        pytorch_same_size = t_shifted(torch.tensor(x)).numpy()
    assert ours.shape == pytorch_same_size.shape == (2, 3, 14, 14)
    np.testing.assert_allclose(ours, keras_like, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[..., 1:, 1:], pytorch_same_size[..., :-1, :-1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours, pytorch_same_size, atol=1e-3)


def test_the_denoise_zoo_model_is_keras_ios_layer_for_layer():
    model = models.build("denoise")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                     "ConvTranspose2d", "Crop2d", "ReLU", "ConvTranspose2d", "Crop2d", "ReLU", "Conv2d", "Sigmoid"]
    assert model.code_shape == (32, 7, 7) and model.loss == "bce" and model.num_parameters() == 28_353  # Keras: 28,353


# --- PSNR and SSIM ---------------------------------------------------------------------------------------

def test_psnr_is_ten_log10_of_peak_squared_over_the_mse_per_image_eq_Q1():
    x = np.zeros((2, 1, 4, 4))
    y = x.copy()
    y[0] += 0.1                                                    # MSE 0.01 -> 20 dB
    np.testing.assert_allclose(metrics.psnr(y, x), [20.0, np.inf])
    assert metrics.psnr(y * 255, x * 255, peak=255.0)[0] == pytest.approx(20.0)
    assert metrics.psnr_of_mse(0.01) == pytest.approx(20.0)


def reference_ssim(x, y, peak=1.0):
    """Wang et al. (2004) written as loops over window positions: a naive reference for the vectorised one."""
    g = metrics.gaussian_window(1.5)
    window = np.outer(g, g)
    k = len(g)
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    values = []
    for i in range(x.shape[0] - k + 1):
        for j in range(x.shape[1] - k + 1):
            a, b = x[i:i + k, j:j + k], y[i:i + k, j:j + k]
            mx, my = (window * a).sum(), (window * b).sum()
            vx, vy = (window * a * a).sum() - mx * mx, (window * b * b).sum() - my * my
            cxy = (window * a * b).sum() - mx * my
            values.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2)))
    return float(np.mean(values))


def test_ssim_equals_the_formula_of_wang_et_al_eq_Q2_Q3_Q4():
    rng = np.random.default_rng(0)
    x = rng.random((3, 1, 16, 14))
    y = np.clip(x + 0.2 * rng.standard_normal(x.shape), 0, 1)
    np.testing.assert_allclose(metrics.ssim(y, x), [reference_ssim(y[i, 0], x[i, 0]) for i in range(3)], rtol=1e-10)
    assert metrics.ssim(x, x) == pytest.approx(1.0)


def test_ssim_and_psnr_equal_scikit_image():
    skm = pytest.importorskip("skimage.metrics")
    x = clean(4)
    y = corrupt.gaussian(x, 0.2, seed=0)
    ours = metrics.ssim(y, x)
    theirs = [skm.structural_similarity(y[i, 0], x[i, 0], gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False, data_range=1.0) for i in range(4)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(metrics.psnr(y, x), [skm.peak_signal_noise_ratio(x[i], y[i], data_range=1.0)
                                                    for i in range(4)], rtol=1e-5)


def test_a_denoiser_learns_the_clean_image_because_its_target_is_clean_eq_N3():
    """The same model trained on the same noisy inputs, once towards the clean images (eq. N3) and once towards
    the noisy ones: only the first removes the noise."""
    from tinyae import datasets, fit
    x, _ = datasets.shapes(n=2000, size=28, seed=0)
    x_test, _ = datasets.shapes(n=300, size=28, seed=1)
    noisy, noisy_test = corrupt.gaussian(x, 0.3, seed=1), corrupt.gaussian(x_test, 0.3, seed=2)
    to_clean, to_noisy = models.build("dense", seed=0), models.build("dense", seed=0)
    fit(to_clean, noisy, x, epochs=3, batch_size=32, verbose=0)
    fit(to_noisy, noisy, noisy, epochs=3, batch_size=32, verbose=0)
    clean_psnr = metrics.psnr(to_clean.reconstruct(noisy_test), x_test).mean()
    copy_psnr = metrics.psnr(to_noisy.reconstruct(noisy_test), x_test).mean()
    assert clean_psnr > metrics.psnr(noisy_test, x_test).mean() + 3 and clean_psnr > copy_psnr + 2
