"""The zoo's codecs (tinyae/models/zoo.py): `codec` (dense, 784 → … → k, Quantize) and `codec_conv` (fully
convolutional, stride 8, Quantize on a 16-channel feature map): they build, their eval-mode codes are
integers times the step (eq. U10), the conv codec runs at any size that is a multiple of 8, the rate is the
penalty that `evaluate` reports (eqs. U4, U11), and model files keep the reconstruction to the bit."""
from __future__ import annotations

import numpy as np
import pytest

from tinyae import layers, models, optim
from tinyae.train import evaluate, fit

CODECS = ["codec", "codec_conv"]


def images(n, shape, seed=0):
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


def before_rounding(model, x):
    """The encoder's code before its Quantize layer (eval mode), as NumPy."""
    x = x.copy()
    for layer in model.encoder.layers[:-1]:
        x = layer.forward(x)
    return np.asarray(x)


@pytest.mark.parametrize("name", CODECS)
def test_codecs_build_with_a_quantize_ending_the_encoder_and_mse_per_pixel(name):
    model = models.build(name)
    quantizer = model.encoder.layers[-1]
    assert model.name == name and model.loss == "mse"
    assert isinstance(quantizer, layers.Quantize) and quantizer.step == 1.0
    assert model.code_shape == ((64,) if name == "codec" else (16, 4, 4))
    assert quantizer.code_size == model.code_shape[0]        # one density per dimension, or per channel


def test_keyword_arguments_set_the_code_size_and_the_weight():
    dense = models.codec(code=32, weight=1e-4)
    assert dense.code_shape == (32,) and dense.encoder[-1].weight == 1e-4 and dense.encoder[-1].code_size == 32
    conv = models.codec_conv(channels=8, weight=1e-5)
    assert conv.code_shape == (8, 4, 4) and conv.encoder[-1].weight == 1e-5 and conv.encoder[-1].code_size == 8
    assert models.build("codec").encoder[-1].weight == models.codec().encoder[-1].weight   # build: the defaults


@pytest.mark.parametrize("name", CODECS)
def test_eval_mode_code_is_integer_multiples_of_the_step_eq_U10(name):
    model = models.build(name, seed=1)
    x = images(6, model.input_shape)
    code = model.encode(x)
    assert code.shape == (6, *model.code_shape) and code.dtype == np.float32
    np.testing.assert_array_equal(code, np.round(code))                     # step 1: integers
    quantizer = model.encoder.layers[-1]
    q = quantizer.symbols(code)
    assert q.dtype == np.int64 and q.shape == code.shape
    np.testing.assert_array_equal(q, np.rint(before_rounding(model, x)).astype(np.int64))
    np.testing.assert_array_equal(quantizer.dequantize(q), code)
    np.testing.assert_array_equal(model.decode(code), model.reconstruct(x))


@pytest.mark.parametrize("size, code", [((32, 32), (4, 4)), ((40, 48), (5, 6)), ((8, 16), (1, 2))])
def test_conv_codec_gives_back_any_size_that_is_a_multiple_of_8(size, code):
    model = models.build("codec_conv")
    x = images(3, (1, *size))
    assert model.encode(x).shape == (3, 16, *code)
    y = model.reconstruct(x)
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    model.train()
    out = model.forward(x)                                                  # train mode: noise, the same sizes
    assert out.shape == x.shape
    assert model.backward(np.ones_like(out), input_grad=True).shape == x.shape


@pytest.mark.parametrize("name, shape", [("codec", (1, 28, 28)), ("codec_conv", (1, 32, 32)),
                                         ("codec_conv", (1, 40, 48))])
def test_the_rate_is_the_penalty_that_evaluate_reports_eq_U4_U11(name, shape):
    model = models.build(name, seed=2)
    x = images(10, shape, seed=3)
    parts = evaluate(model, x, parts=True)
    quantizer = model.encoder.layers[-1]
    model.eval()
    bits = quantizer.bits(before_rounding(model, x))                        # (N,): summed over the C·H·W entries
    assert bits.shape == (10,) and (bits > 0).all()
    assert parts["units"] == "per pixel"
    assert parts["penalty"] == pytest.approx(quantizer.weight * bits.mean(), rel=1e-5)
    assert parts["total"] == pytest.approx(parts["data"] + parts["penalty"], rel=1e-12)


def test_bits_per_image_grow_with_the_image_for_the_conv_codec_eq_U11():
    """One density per channel: a 64×64 image made of four copies of a 32×32 one costs four times its bits."""
    model = models.build("codec_conv", seed=4).eval()
    tile = images(2, (1, 32, 32), seed=5)
    quantizer = model.encoder.layers[-1]
    small = quantizer.bits(before_rounding(model, tile))
    big = quantizer.bits(before_rounding(model, np.tile(tile, (1, 1, 2, 2))))
    assert ((big > 3 * small) & (big < 5 * small)).all()                    # the borders differ, the inside repeats


@pytest.mark.parametrize("name, shape", [("codec", (1, 28, 28)), ("codec_conv", (1, 40, 48))])
def test_save_and_load_keep_the_reconstruction_and_the_density_to_the_bit(name, shape, tmp_path):
    model = models.build(name, seed=1)
    x = images(32, shape, seed=6)
    fit(model, x, epochs=1, batch_size=16, verbose=0, optimizer=optim.Adam(model.parameters(), lr=1e-2))
    loaded = models.load(models.save(model, tmp_path / f"{name}.npz"))
    assert loaded.name == name and loaded.loss == "mse"
    assert loaded.encoder.layers[-1].config() == model.encoder.layers[-1].config()
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))
    np.testing.assert_array_equal(loaded.encode(x), model.encode(x))
    np.testing.assert_array_equal(loaded.encoder.layers[-1].pmf(-4, 4), model.encoder.layers[-1].pmf(-4, 4))
