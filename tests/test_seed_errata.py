"""docs/seed-errata.md: what the articles this project follows get wrong, each shown by code that fails if the
correct statement is false. One test (or more) per erratum, named after the correct statement."""
from __future__ import annotations

import numpy as np
import pytest

from tinyae import datasets, fit, layers, losses, models
from tinyae.errors import ShapeError
from tinyae.train import predict


def images(n=16, seed=0):
    return np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32)


# E1 (synthesis): "fit the encoder to X → X, then the decoder to X → X" cannot even be set up -----------------

def test_an_encoder_alone_cannot_be_fitted_to_x_because_its_output_is_a_code_not_an_image():
    model = models.build("deep", seed=0)
    x = images()
    with pytest.raises(ShapeError, match="same shape"):
        losses.MSE().forward(model.encoder.forward(x), x)           # (N, 32) against (N, 1, 28, 28): no target
    with pytest.raises(ShapeError):
        model.decoder.forward(x)                                    # the decoder takes codes, not images


# E2 (synthesis): "Loss = Loss_encoder + Loss_decoder" — there is one loss; the encoder learns through the decoder --

def test_the_encoder_is_trained_by_the_one_reconstruction_loss_backpropagated_through_the_decoder():
    model = models.build("deep", seed=0)
    x = images()
    loss = losses.MSE()
    loss.forward(model.forward(x), x)
    model.backward(loss.backward())
    encoder_grad = model.encoder[1].W.grad.copy()
    # scale the decoder's last weights: the reconstruction loss is the same function of x, but the encoder's
    # gradient changes, because it is the decoder's input gradient passed back (the chain rule), not a loss of its own
    model.decoder[2].W.data *= 2.0
    loss.forward(model.forward(x), x)
    model.backward(loss.backward())
    assert not np.allclose(model.encoder[1].W.grad, encoder_grad)


def test_the_vae_objective_splits_into_reconstruction_and_kl_not_into_encoder_and_decoder_losses():
    """The KL depends on the encoder only; the reconstruction term on both halves. Neither is 'the decoder's loss'."""
    model = models.build("vae", seed=0)
    x = images()
    model.forward(x)
    model.backward(np.zeros((16, 1, 28, 28), np.float32))           # the KL's gradient alone (no data term)
    assert all(not p.grad.any() for p in model.decoder.parameters())
    assert all(p.grad.any() for p in model.encoder.parameters())
    loss = losses.get("bce_per_image")
    loss.forward(model.forward(x), x)
    model.backward(loss.backward())
    assert all(p.grad.any() for p in model.parameters())            # the reconstruction term reaches both halves


# E3 (recognition): "a CNN is a linear model" — a convolution is linear, a CNN with ReLU and max-pooling is not ---

def test_a_convolution_is_linear_but_a_cnn_encoder_is_not(rng):
    conv = layers.Conv2d(1, 4, 3, padding=1, bias=False, rng=0)
    a, b = images(4, 1), images(4, 2)
    np.testing.assert_allclose(conv.forward(a + b), conv.forward(a) + conv.forward(b), rtol=1e-4, atol=1e-5)
    encoder = models.build("conv", seed=0).encoder
    gap = np.abs(encoder.forward(a + b) - encoder.forward(a) - encoder.forward(b)).max()
    assert gap > 0.1                                                 # ReLU and max-pooling make it non-linear
    negated = np.abs(encoder.forward(-a) + encoder.forward(a)).max()
    assert negated > 0.1                                             # f(−x) ≠ −f(x)


# E4 (compression): "a ReLU latent space is not continuous" — the encoder is a continuous function -------------

def test_a_relu_encoder_is_continuous_its_codes_change_little_when_the_image_changes_little():
    model = models.build("deep", seed=0)
    fit(model, datasets.shapes(n=512, size=28, seed=0)[0], epochs=1, batch_size=64, verbose=0)
    x = images(8)
    codes = model.encode(x)
    direction = np.random.default_rng(3).standard_normal(x.shape).astype(np.float32)
    steps = [1e-1, 1e-2, 1e-3]
    changes = [np.abs(model.encode(x + s * direction) - codes).max() for s in steps]
    assert changes[0] > changes[1] > changes[2] and changes[2] < 1e-2  # → 0 with the perturbation: continuous
    assert len(np.unique(codes)) > 50                                  # real numbers, not a discrete set


# E5 (compression): "anomaly detection with an autoencoder is supervised" — it never sees an anomaly or a label --

def test_reconstruction_error_finds_anomalies_without_any_anomaly_or_label_in_training(data_dir):
    """One-class: train on the training images of the digit 0 only (the only use of a label: choosing the normal
    data), score every test image by its squared error per image; anomalies (not 0) score higher (AUC > 0.9)."""
    x, labels = datasets.mnist("train", data_dir=data_dir)
    x_test, test_labels = datasets.mnist("test", data_dir=data_dir)
    model = models.build("deep", seed=0)
    fit(model, x[labels == 0], epochs=5, batch_size=128, verbose=0)
    errors = ((predict(model, x_test) - x_test) ** 2).reshape(len(x_test), -1).sum(axis=1)
    normal_err, anomalous_err = errors[test_labels == 0], errors[test_labels != 0]
    auc = (anomalous_err[:, None] > normal_err[None, :]).mean()        # the AUC, by a pairwise count
    assert auc > 0.9, auc


# E6 (compression): its `compress` and `reconstruct` both call `predict` — predict compresses nothing ----------

def test_predict_returns_a_reconstruction_as_large_as_the_image_while_encode_returns_the_code():
    model = models.build("deep", seed=0)
    x = images(10)
    out = predict(model, x)
    assert out.shape == x.shape and out.nbytes == x.nbytes            # 784 floats an image: nothing compressed
    assert out.nbytes > (x * 255).astype(np.uint8).nbytes              # larger than the 8-bit image itself
    code = model.encode(x)
    assert code.shape == (10, 32) and code.nbytes == 10 * 32 * 4       # the code: 32 float32 = 128 bytes, not a file


# E7 (image processing): the listings do not give back 28×28 (tutorial 02 shows the sizes) ---------------------

def test_the_keras_listing_ends_at_40x40_and_the_pytorch_listing_asks_for_an_invalid_layer():
    keras_like = layers.Sequential(
        layers.Conv2d(1, 16, 3), layers.ReLU(), layers.MaxPool2d(2), layers.Conv2d(16, 8, 3), layers.ReLU(),
        layers.MaxPool2d(2), layers.Conv2d(8, 8, 3, padding=1), layers.Upsample2d(2),
        layers.Conv2d(8, 8, 3, padding=1), layers.Upsample2d(2), layers.Conv2d(8, 16, 3, padding=1),
        layers.Upsample2d(2), layers.Conv2d(16, 1, 3, padding=1), input_shape=(1, 28, 28))
    assert keras_like.output_shape((None, 1, 28, 28)) == (None, 1, 40, 40)
    with pytest.raises(ShapeError, match="output_padding"):
        layers.ConvTranspose2d(64, 32, 3, stride=1, padding=1, output_padding=1)


# E8 (blog code the articles copy): Keras's 'same' transposed convolution is not PyTorch's padding=1, op=1 -------

def test_keras_same_is_an_unpadded_transposed_conv_cropped_at_the_bottom_right_not_padding_1():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((1, 1, 3, 3)).astype(np.float32)
    keras = layers.Sequential(layers.ConvTranspose2d(1, 1, 3, stride=2, bias=False), layers.Crop2d(((0, 1), (0, 1))))
    torch_style = layers.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1, bias=False)
    keras[0].W.data[...] = w
    torch_style.W.data[...] = w
    x = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    a, b = keras.forward(x), torch_style.forward(x)
    assert a.shape == b.shape == (1, 1, 8, 8)
    assert not np.allclose(a, b)
    np.testing.assert_allclose(a[..., 1:, 1:], b[..., :-1, :-1], rtol=1e-6)   # the same values, one pixel apart


# E9 (VAE tutorials): the sampler and the KL must agree that the encoder gives log σ² --------------------------

def test_the_sampler_and_the_kl_both_read_the_log_variance():
    layer = layers.GaussianSample(1, seed=0)
    x = np.tile(np.array([[0.0, np.log(4.0)]]), (100_000, 1))       # μ = 0, log σ² = log 4: σ = 2
    z = layer.forward(x)
    assert z.std() == pytest.approx(2.0, rel=0.01)                  # std = exp(½ log σ²), not exp(log σ²) = 4
    assert layer.penalty == pytest.approx(0.5 * (4.0 - 1.0 - np.log(4.0)), rel=1e-9)   # KL with σ² = 4
