"""The variational autoencoder (docs/math/vae.md, V1–V9): the sampler and its KL agree on log σ², the KL and
its gradient, eval mode, the clamp, the per-image objective, sampling, and agreement with PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

from tinyae import backend, gradcheck, layers, losses, models
from tinyae.checks import Replay
from tinyae.models import VAE
from tinyae.train import evaluate, fit


def mu_log_var(rng, n=4, k=3, scale=0.5):
    return np.concatenate([rng.standard_normal((n, k)), scale * rng.standard_normal((n, k))], axis=1)


def test_the_sample_has_mean_mu_and_standard_deviation_exp_half_log_var_eq_V3():
    """The test that catches a sampler reading log σ (std = exp(s)) while the KL reads log σ² (std = exp(s/2))."""
    layer = layers.GaussianSample(2, seed=0)
    mu, log_var = np.array([1.0, -2.0]), np.array([0.0, np.log(9.0)])     # σ = 1 and σ = 3
    x = np.tile(np.concatenate([mu, log_var]), (200_000, 1)).astype(np.float64)
    z = layer.forward(x)
    np.testing.assert_allclose(z.mean(axis=0), mu, atol=0.02)
    np.testing.assert_allclose(z.std(axis=0), [1.0, 3.0], rtol=0.01)


def test_the_kl_is_the_closed_form_gaussian_kl_eq_V4_V5(rng):
    x = mu_log_var(rng)
    layer = layers.GaussianSample(3, seed=0)
    layer.forward(x)
    mu, log_var = x[:, :3], x[:, 3:]
    var = np.exp(log_var)
    per_image = 0.5 * (var + mu ** 2 - 1 - np.log(var)).sum(axis=1)     # KL(N(μ, σ²) ‖ N(0, 1)), textbook form
    assert layer.penalty == pytest.approx(per_image.mean(), rel=1e-12)
    torch = pytest.importorskip("torch")
    q = torch.distributions.Normal(torch.tensor(mu), torch.tensor(np.sqrt(var)))
    p = torch.distributions.Normal(torch.zeros(4, 3, dtype=torch.float64), torch.ones(4, 3, dtype=torch.float64))
    assert layer.penalty == pytest.approx(float(torch.distributions.kl_divergence(q, p).sum(1).mean()), rel=1e-12)


def test_kl_gradient_matches_finite_differences_eq_V6(float64, rng):
    layer = layers.GaussianSample(3, seed=0).eval()                       # z = μ: only the KL's own gradient
    errors = gradcheck.check_layer(layer, mu_log_var(rng))
    assert errors["x"] < 1e-7, errors


def test_reparameterisation_gradient_with_eps_fixed_matches_finite_differences_eq_V7(float64, rng):
    layer = layers.GaussianSample(3, seed=0)
    layer._rng = Replay(5)
    errors = gradcheck.check_layer(layer, mu_log_var(rng))
    assert errors["x"] < 1e-7, errors


def test_eval_mode_gives_z_equal_mu_and_still_computes_the_kl_eq_V9(rng):
    x = mu_log_var(rng).astype(np.float32)
    layer = layers.GaussianSample(3, seed=0).eval()
    z = layer.forward(x)
    np.testing.assert_array_equal(z, x[:, :3])
    assert layer.penalty > 0
    layer.sample_in_eval = True
    assert not np.array_equal(layer.forward(x), x[:, :3])


def test_a_huge_log_variance_is_clamped_not_overflowed_eq_V8():
    layer = layers.GaussianSample(2, seed=0)
    x = np.array([[0.0, 0.0, 1000.0, -1000.0]], np.float32)
    z = layer.forward(x)
    assert np.all(np.isfinite(z)) and np.isfinite(layer.penalty) and layer.clamped == 2
    dx = layer.backward(np.ones_like(z))
    assert np.all(np.isfinite(dx)) and np.all(dx[:, 2:] == 0)             # the clamped function is flat there
    with pytest.raises(ValueError, match="log_var_limit must be in"):
        layers.GaussianSample(2, log_var_limit=100)


def test_the_vae_objective_is_bce_summed_over_pixels_plus_kl_per_image_eq_V2():
    """Weighted as pytorch/examples: BCE(reduction='sum') + KLD, divided by the number of images. A per-pixel
    BCE would be 784 times smaller; this is the test that catches it."""
    model = models.build("vae", seed=0)
    x = np.random.default_rng(0).random((10, 1, 28, 28)).astype(np.float32)
    parts = evaluate(model, x, parts=True)
    mu, log_var = model.encode_distribution(x)
    recon = model.decode(mu).astype(np.float64)                           # eval mode: z = μ
    p = np.clip(recon, 1e-7, 1 - 1e-7)
    bce = -(x * np.log(p) + (1 - x) * np.log1p(-p)).reshape(10, -1).sum(axis=1).mean()
    kl = (-0.5 * (1 + log_var - mu ** 2 - np.exp(log_var))).sum(axis=1).mean()
    assert parts["units"] == "per image"
    assert parts["data"] == pytest.approx(bce, rel=1e-4) and parts["penalty"] == pytest.approx(kl, rel=1e-4)
    assert parts["total"] == pytest.approx(bce + kl, rel=1e-4)
    assert 400 < parts["data"] < 700                                      # nats per image, not per pixel


def test_a_vae_trained_with_a_per_pixel_loss_gets_a_warning():
    model = models.build("vae2d", seed=0)
    x = np.random.default_rng(0).random((8, 1, 28, 28)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"KL term is in nats per image, but the BCE loss is a mean per pixel.*784"):
        fit(model, x, loss="bce", epochs=1, batch_size=8, verbose=0)


def test_sample_decodes_standard_normal_codes_drawn_from_the_seed():
    model = models.build("vae", seed=0)
    a, b, c = model.sample(6, seed=1), model.sample(6, seed=1), model.sample(6, seed=2)
    assert a.shape == (6, 1, 28, 28) and np.array_equal(a, b) and not np.array_equal(a, c)
    z = np.random.default_rng(1).standard_normal((6, 20)).astype(np.float32)
    np.testing.assert_array_equal(a, model.decode(z))
    assert np.all((a >= 0) & (a <= 1))


def test_encode_gives_mu_and_negative_elbo_samples_z():
    model = models.build("vae", seed=0)
    x = np.random.default_rng(0).random((20, 1, 28, 28)).astype(np.float32)
    mu, log_var = model.encode_distribution(x)
    np.testing.assert_allclose(model.encode(x), mu, rtol=1e-6, atol=1e-6)
    sampled = model.negative_elbo(x, samples=1, seed=0)
    assert sampled == model.negative_elbo(x, samples=1, seed=0)           # its own seeded generator
    assert sampled["total"] == pytest.approx(sampled["data"] + sampled["kl"])
    assert sampled["kl"] == pytest.approx(evaluate(model, x, parts=True)["penalty"], rel=1e-5)   # KL is exact
    assert sampled["data"] != pytest.approx(evaluate(model, x, parts=True)["data"], rel=1e-6)    # z was drawn
    assert model.sampler._rng is None                                     # the training generator was not used


def test_a_vae_needs_a_gaussian_sample_at_the_end_of_its_encoder():
    with pytest.raises(TypeError, match="must end in a GaussianSample"):
        VAE(layers.Sequential(layers.Dense(4, 2)), layers.Sequential(layers.Dense(2, 4)))


def test_the_sampler_draws_from_the_active_backends_seeded_generator(backend_name):
    layer = layers.GaussianSample(2, seed=7)
    x = backend.asarray(np.zeros((3, 4)))
    z1 = backend.to_numpy(layer.forward(x))
    again = layers.GaussianSample(2, seed=7)
    np.testing.assert_array_equal(backend.to_numpy(again.forward(x)), z1)
    expected = backend.to_numpy(backend.default_rng(7).standard_normal((3, 2), dtype=x.dtype))
    np.testing.assert_array_equal(z1, expected)


def test_the_vae_objective_and_gradients_equal_pytorch_examples_with_the_same_weights_and_eps(float64):
    """pytorch/examples' VAE (fc1, fc21, fc22, fc3, fc4; loss BCE(sum) + KLD) with tinyae's weights and the same ε:
    the same objective (tinyae's per image, PyTorch's summed: divided by N) and the same gradients × N."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    model = models.build("vae", seed=3)
    x = np.random.default_rng(0).random((5, 1, 28, 28))
    eps = np.random.default_rng(1).standard_normal((5, 20))
    model.sampler._rng = _Fixed(eps)
    loss = losses.get("bce_per_image")
    value = loss.forward(model.forward(x), x) + model.penalty
    model.backward(loss.backward())

    w = {name: torch.tensor(p.data, requires_grad=True) for name, p in model.named_parameters().items()}
    xt = torch.tensor(x.reshape(5, 784))
    h1 = F.relu(xt @ w["encoder.1.W"] + w["encoder.1.b"])
    stats = h1 @ w["encoder.3.W"] + w["encoder.3.b"]
    mu, logvar = stats[:, :20], stats[:, 20:]                 # fc21 and fc22 are the two halves of one Dense
    z = mu + torch.tensor(eps) * torch.exp(0.5 * logvar)
    recon = torch.sigmoid(F.relu(z @ w["decoder.0.W"] + w["decoder.0.b"]) @ w["decoder.2.W"] + w["decoder.2.b"])
    bce = F.binary_cross_entropy(recon, xt, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    total = bce + kld
    total.backward()
    assert value == pytest.approx(float(total) / 5, rel=1e-10)
    for name, p in model.named_parameters().items():
        np.testing.assert_allclose(p.grad * 5, w[name].grad.numpy(), rtol=1e-7, atol=1e-10, err_msg=name)


class _Fixed:
    def __init__(self, eps):
        self.eps = eps

    def standard_normal(self, shape, dtype=None):
        return self.eps.astype(dtype)
