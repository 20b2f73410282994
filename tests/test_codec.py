"""tinyae.apps.codec: images -> .tae bytes -> images, with a learned density (ModelCodec) or PCA's
histograms (PCACodec) through the same range coder and file format."""
from __future__ import annotations

import numpy as np
import pytest

from tinyae import datasets, fit, layers, models, pca
from tinyae.apps import codec
from tinyae.coding import tae
from tinyae.errors import CompressedFileError, ShapeError


def dense_codec_model(code: int = 12, weight: float = 0.01, seed: int = 0):
    rng = np.random.default_rng(seed)
    encoder = layers.Sequential(layers.Flatten(), layers.Dense(784, 64, rng=rng), layers.ReLU(),
                                layers.Dense(64, code, rng=rng), layers.Quantize(code, step=1.0, weight=weight, seed=1),
                                input_shape=(1, 28, 28))
    decoder = layers.Sequential(layers.Dense(code, 64, rng=rng), layers.ReLU(), layers.Dense(64, 784, rng=rng),
                                layers.Sigmoid(), layers.Reshape((1, 28, 28)))
    return models.Autoencoder(encoder, decoder, loss="mse", name="test codec")


@pytest.fixture(scope="module")
def images():
    x, _ = datasets.shapes(400, size=28, seed=3)
    return x


@pytest.fixture(scope="module")
def trained(images):
    model = dense_codec_model()
    fit(model, images, epochs=3, batch_size=50, seed=0, verbose=0)
    return model


def test_decompress_equals_the_decoder_of_the_quantised_code_bit_for_bit_eq_U10(trained, images):
    c = codec.ModelCodec(trained)
    q = c.symbols(images)
    data = codec.compress(c, images)
    expected = trained.decode(c.quantizer.dequantize(q), batch_size=c.batch_size)     # the same batches
    assert np.array_equal(codec.decompress(c, data), expected)


def test_one_file_per_image_decodes_to_the_decoder_of_that_image_alone(trained, images):
    c = codec.ModelCodec(trained)
    files = codec.compress_each(c, images[:20])
    q = c.symbols(images[:20])
    for i, data in enumerate(files):
        assert np.array_equal(codec.decompress(c, data), trained.decode(c.quantizer.dequantize(q[i:i + 1])))


def test_symbols_are_the_eval_mode_code_divided_by_the_step(trained, images):
    c = codec.ModelCodec(trained)
    code = trained.encode(images[:50])
    assert np.array_equal(c.symbols(images[:50]) * c.step, code)


def test_payload_within_1_percent_plus_8_bytes_of_the_models_minus_log2_p_eq_H6(trained, images):
    c = codec.ModelCodec(trained)
    model_bits = c.quantizer.bits(trained.encode(images)).sum()                       # −log₂ p under the density
    payload = tae.from_bytes(codec.compress(c, images)).payload
    assert 8 * len(payload) <= 1.01 * model_bits + 64
    for data, bits in zip(codec.compress_each(c, images[:50]), c.quantizer.bits(trained.encode(images[:50]))):
        assert 8 * len(tae.from_bytes(data).payload) <= 1.01 * bits + 64


def test_the_rate_term_buys_fewer_bytes(images):
    sizes = {}
    for weight in (0.0, 0.05):
        model = dense_codec_model(weight=weight)
        fit(model, images, epochs=4, batch_size=50, seed=0, verbose=0)
        sizes[weight] = len(codec.compress(codec.ModelCodec(model), images))
    assert sizes[0.05] < 0.8 * sizes[0.0]


def test_a_file_of_another_model_is_refused_naming_both_fingerprints(trained, images):
    data = codec.compress(codec.ModelCodec(trained), images[:3])
    other = codec.ModelCodec(dense_codec_model(seed=5))
    with pytest.raises(CompressedFileError) as info:
        codec.decompress(other, data, source="digits.tae", codec_source="other.npz")
    message = str(info.value)
    assert "digits.tae" in message and "other.npz" in message
    assert tae.model_fingerprint(trained).hex()[:16] in message and other.fingerprint.hex()[:16] in message


def test_a_model_without_a_quantize_layer_is_refused_clearly():
    with pytest.raises(ShapeError, match="Quantize"):
        codec.ModelCodec(models.build("dense"))


def test_density_tables_leave_at_most_the_tail_to_the_escape(trained):
    tables = codec.density_tables(codec.quantizer_of(trained))
    escape = tables.probabilities()[:, -1]
    assert np.all(escape < 1e-4)
    q = codec.quantizer_of(trained)
    pmf = q.pmf(int(tables.lo.min()), int(tables.hi.max()))
    assert pmf.sum(axis=1).min() > 1 - 2 * codec.TAIL


def test_pca_codec_round_trip_and_fewer_bytes_for_a_coarser_step(images):
    fitted = pca.PCA(16).fit(images)
    sizes, errors = {}, {}
    for step in (0.25, 1.0):
        c = codec.PCACodec(fitted, step, images)
        data = codec.compress(c, images)
        restored = codec.decompress(c, data)
        expected = np.clip(fitted.inverse_transform(c.symbols(images) * step), 0, 1)
        assert np.allclose(restored, expected, atol=1e-6)
        sizes[step], errors[step] = len(data), float(((restored - images) ** 2).mean())
    assert sizes[1.0] < sizes[0.25] and errors[1.0] > errors[0.25]


def test_histogram_tables_code_every_training_symbol_without_escapes(images):
    c = codec.PCACodec(pca.PCA(8).fit(images), 0.5, images)
    index = c.tables.indices(c.symbols(images))
    assert not np.any(index == c.tables.n_symbols)


def test_a_pca_file_is_refused_by_a_pca_codec_with_another_step(images):
    fitted = pca.PCA(8).fit(images)
    data = codec.compress(codec.PCACodec(fitted, 0.5, images), images[:4])
    with pytest.raises(CompressedFileError, match="another codec"):
        codec.decompress(codec.PCACodec(fitted, 0.25, images), data)


def test_compress_refuses_what_is_not_a_batch_of_images(trained):
    c = codec.ModelCodec(trained)
    with pytest.raises(ShapeError, match=r"\(N, C, H, W\)"):
        codec.compress(c, np.zeros((28, 28), np.float32))


def test_a_fully_convolutional_codec_takes_any_size_padded_to_its_stride_and_cropped_back_eq_U11():
    model = models.zoo.codec_conv(seed=0, channels=4)
    x = np.random.default_rng(0).random((2, 1, 37, 45)).astype(np.float32)
    c = codec.ModelCodec(model)
    assert c.padded_shape((1, 37, 45)) == (1, 40, 48)
    data = codec.compress(c, x)
    assert tae.from_bytes(data).code_shape == (4, 5, 6) and tae.from_bytes(data).image_shape == (1, 37, 45)
    restored = codec.decompress(c, data)
    q = c.symbols(x)
    expected = model.decode(c.quantizer.dequantize(q), batch_size=c.batch_size)[:, :, :37, :45]
    assert restored.shape == (2, 1, 37, 45) and np.array_equal(restored, expected)


def test_a_dense_codec_refuses_another_image_size_saying_to_resize(trained):
    with pytest.raises(ShapeError, match="resize"):
        codec.compress(codec.ModelCodec(trained), np.zeros((1, 1, 32, 32), np.float32))
