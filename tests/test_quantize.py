"""Quantisation with a rate term (docs/math/rate.md, U1–U12): the noise proxy and the rounding, the rate as
−log₂ of the logistic-mixture pmf, its stable evaluation, its gradients, what the entropy coder reads
(pmf, symbols, dequantize, bits), feature maps (one density per channel), and the layer inside fit,
model files and checkpoints."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tinyae import backend, checks, gradcheck, im2col, layers, models, optim
from tinyae.checks.quantize import quantizer
from tinyae.errors import DTypeError, ShapeError
from tinyae.layers.quantize import log_probability
from tinyae.models import Autoencoder
from tinyae.train import evaluate, fit

QUANTIZE_CASES = {name: run for name, run in checks.all_cases() if run.__module__ == "tinyae.checks.quantize"}


class NoNoise:
    """A generator whose uniform draws are all ½, so that u = (½ − ½)Δ = 0: train mode at ỹ = y exactly."""

    def random(self, shape, dtype=np.float64):
        return np.full(shape, 0.5, dtype=dtype)


def naive_pmf(layer, values):
    """P_d(v) straight from the definition (eq. U2) in float64: Σ_k π_k [σ(b_k) − σ(a_k)]; values (M, D)."""
    loc, s, alpha = (backend.to_numpy(p.data).astype(np.float64) for p in (layer.loc, layer.log_scale, layer.logits))
    pi = np.exp(alpha) / np.exp(alpha).sum(axis=1, keepdims=True)
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))
    v = values[:, :, None]
    upper, lower = sig((v + layer.step / 2 - loc) / np.exp(s)), sig((v - layer.step / 2 - loc) / np.exp(s))
    return (pi * (upper - lower)).sum(axis=2)


# --- gradients (U6–U10) ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(QUANTIZE_CASES))
def test_rate_gradient_matches_finite_differences_eq_U6_U7_U8_U9(name, float64):
    errors = QUANTIZE_CASES[name]()
    assert {"x", "loc", "log_scale", "logits"} <= {key.rsplit(".", 1)[-1] for key in errors}
    assert max(errors.values()) < 1e-7, errors


def test_rate_gradient_matches_finite_differences_for_a_wide_step_and_five_components_eq_U6_U9(float64, rng):
    layer = quantizer(3, rng, step=2.0, weight=0.4, components=5, noise_seed=4)
    errors = gradcheck.check_layer(layer, 2.0 * rng.standard_normal((7, 3)))
    assert layer.floored == 0 and max(errors.values()) < 1e-7, errors


def test_eval_mode_parameter_gradients_are_exact_and_the_input_gradient_is_straight_through_eq_U10(float64, rng):
    layer = quantizer(4, rng, step=0.5).eval()
    y = rng.standard_normal((5, 4))
    y_hat = layer.forward(y)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    for p in layer.parameters():        # the rate at the rounded code is smooth in the density's parameters
        numerical = gradcheck.numerical_gradient(lambda: (layer.forward(y), layer.penalty)[1], p.data)
        layer.forward(y)
        layer.backward(dy)
        assert gradcheck.relative_error(p.grad, numerical) < 1e-7, p.name
    twin = quantizer(4, np.random.default_rng(0), step=0.5)
    for mine, theirs in zip(layer.parameters(), twin.parameters()):
        theirs.data[...] = mine.data
    twin._rng = NoNoise()               # train mode without noise, at ŷ: the true gradient of the rate at ŷ
    assert np.array_equal(twin.forward(y_hat), y_hat)
    np.testing.assert_allclose(dx, twin.backward(dy), rtol=1e-12)


def test_backward_without_input_gradient_still_fills_the_parameter_gradients(float64, rng):
    layer = quantizer(3, rng)
    y = rng.standard_normal((4, 3))
    dy = rng.standard_normal((4, 3))
    layer.forward(y)
    layer.backward(dy)
    expected = [p.grad.copy() for p in layer.parameters()]
    layer.forward(y)
    assert layer.backward(dy, input_grad=False) is None
    for p, want in zip(layer.parameters(), expected):
        np.testing.assert_array_equal(p.grad, want)


def test_float32_in_float32_out_and_float32_gradients(rng):
    layer = layers.Quantize(4, weight=0.3, seed=1)
    y = rng.standard_normal((6, 4)).astype(np.float32)
    out = layer.forward(y)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32
    assert all(p.data.dtype == p.grad.dtype == np.float32 for p in layer.parameters())


# --- forward: the noise and the rounding (U3, U10) ----------------------------------------------

def test_noise_is_seeded_and_fresh_each_batch_eq_U3(backend_name, rng):
    y = backend.asarray(rng.standard_normal((2000, 3)), dtype=np.float32)
    first, again = layers.Quantize(3, step=0.5, seed=7), layers.Quantize(3, step=0.5, seed=7)
    a, b = first.forward(y), again.forward(y)
    assert backend.xp.array_equal(a, b)                                    # same seed: same noise
    assert not backend.xp.array_equal(first.forward(y), a)                 # a fresh draw every batch
    assert not backend.xp.array_equal(layers.Quantize(3, step=0.5, seed=8).forward(y), a)
    u = backend.to_numpy(a - y).astype(np.float64)
    assert u.min() >= -0.25 - 1e-6 and u.max() <= 0.25 + 1e-6               # u ~ U(−Δ/2, Δ/2)
    assert abs(u.mean()) < 0.01 and u.var() == pytest.approx(0.5 ** 2 / 12, rel=0.05)


def test_eval_mode_rounds_to_step_multiples_eq_U10(backend_name, rng):
    layer = layers.Quantize(5, step=0.25, seed=0).eval()
    y = backend.asarray(3 * rng.standard_normal((40, 5)), dtype=np.float32)
    y_hat = backend.to_numpy(layer.forward(y))
    q = y_hat / 0.25
    np.testing.assert_array_equal(q, np.round(q))                           # multiples of Δ
    assert np.abs(y_hat - backend.to_numpy(y)).max() <= 0.125 + 1e-6        # the nearest one
    np.testing.assert_array_equal(layer.symbols(y), np.round(q).astype(np.int64))
    assert np.array_equal(backend.to_numpy(layer.forward(y)), y_hat)       # deterministic
    assert layer.penalty > 0                                               # the rate is computed in eval mode too


def test_symbols_and_dequantize_give_back_the_eval_mode_code(rng):
    layer = layers.Quantize(4, step=0.3, seed=0).eval()
    y = rng.standard_normal((10, 4)).astype(np.float32)
    q = layer.symbols(y)
    assert q.dtype == np.int64
    back = layer.dequantize(q)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, layer.forward(y), rtol=1e-6)
    np.testing.assert_array_equal(layer.symbols(back), q)


def test_noisy_code_density_is_the_cell_probability_over_the_step_eq_U3():
    """If v follows the model's continuous density, v + u has the density P(t)/Δ: P interpolates the pmf."""
    rng = np.random.default_rng(5)
    layer = layers.Quantize(1, step=0.8, components=2, seed=0)
    layer.loc.data[...] = [[-1.0, 1.5]]
    layer.log_scale.data[...] = [[np.log(0.4), np.log(0.9)]]
    layer.logits.data[...] = [[0.0, np.log(2.0)]]                          # π = (1/3, 2/3)
    n = 1_000_000
    k = rng.random(n) < 2 / 3
    loc, scale = np.where(k, 1.5, -1.0), np.where(k, 0.9, 0.4)
    uniform = rng.random(n)
    v = loc + scale * np.log(uniform / (1 - uniform))                       # logistic by the inverse CDF
    noisy = v + (rng.random(n) - 0.5) * 0.8
    counts, edges = np.histogram(noisy, bins=np.arange(-4.0, 6.0 + 1e-9, 0.1))
    centres = 0.5 * (edges[1:] + edges[:-1])
    density = counts / (n * 0.1)
    model = naive_pmf(layer, centres[:, None])[:, 0] / 0.8
    assert np.abs(density - model).max() < 0.01                             # standard error ~0.002 per bin


# --- the rate (U1, U2, U4, U5) -----------------------------------------------------------------

def test_pmf_sums_to_one_over_wide_range_eq_U2(float64, rng):
    layer = quantizer(6, rng, step=0.5, components=3)
    table = layer.pmf(-200, 200)
    assert table.shape == (6, 401) and table.dtype == np.float64 and (table >= 0).all()
    np.testing.assert_allclose(table.sum(axis=1), 1.0, atol=1e-12)


def test_pmf_is_the_difference_of_the_logistic_mixture_cdf_eq_U2(float64, rng):
    layer = quantizer(3, rng, step=0.7, components=3)
    values = np.arange(-8, 9)[:, None] * 0.7 * np.ones((1, 3))
    np.testing.assert_allclose(layer.pmf(-8, 8), naive_pmf(layer, values).T, rtol=1e-11, atol=1e-300)


def test_rate_equals_minus_log2_pmf_of_rounded_code_eq_U1_U4(rng):
    layer = quantizer(4, rng, step=0.5, weight=0.3)
    layer.eval()
    y = rng.standard_normal((50, 4)).astype(np.float32)
    layer.forward(y)
    q = layer.symbols(y)
    table = layer.pmf(int(q.min()), int(q.max()))                           # what the entropy coder builds
    per_image = -np.log2(table[np.arange(4), q - q.min()]).sum(axis=1)      # code length of each image
    np.testing.assert_allclose(layer.bits(y), per_image, rtol=1e-5)
    assert layer.rate == pytest.approx(per_image.mean(), rel=1e-5)          # bits per image, batch mean
    assert layer.penalty == pytest.approx(0.3 * per_image.mean(), rel=1e-5)  # λ per bit


def test_train_rate_is_minus_log2_cell_probability_of_the_noisy_code_eq_U3_U4(float64, rng):
    layer = quantizer(3, rng, step=0.5, weight=2.0)
    y = rng.standard_normal((20, 3))
    noisy = layer.forward(y)
    per_image = -np.log2(naive_pmf(layer, noisy)).sum(axis=1)
    assert layer.rate == pytest.approx(per_image.mean(), rel=1e-12)
    assert layer.penalty == pytest.approx(2.0 * per_image.mean(), rel=1e-12)


def test_stable_log_cell_probability_matches_high_precision_in_the_tails_eq_U5():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60
    values = np.array([-300.0, -40.0, -5.0, 0.0, 0.3, 7.0, 45.0, 600.0])
    log_p, _ = log_probability(values[:, None], np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((1, 1)), 1.0, np)

    def exact(v):                       # σ(b) − σ(a) = (e^{−a} − e^{−b}) / ((1 + e^{−a})(1 + e^{−b})), no cancelling
        a, b = mpmath.mpf(v) - 0.5, mpmath.mpf(v) + 0.5
        return float(mpmath.log((mpmath.exp(-a) - mpmath.exp(-b)) / ((1 + mpmath.exp(-a)) * (1 + mpmath.exp(-b)))))

    exact = [exact(v) for v in values]
    np.testing.assert_allclose(log_p[:, 0], exact, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("train", [True, False])
def test_stable_for_far_tail_values_eq_U5(dtype, train, rng):
    with backend.default_dtype(dtype):
        layer = layers.Quantize(3, step=1.0, weight=0.5, seed=0).train(train)
        y = np.array([[1e4, -1e4, 0.2], [-1e4, 0.7, 1e4]], dtype=dtype)
        out = layer.forward(y)
        dy = rng.standard_normal(y.shape).astype(dtype)
        dx = layer.backward(dy)
    assert np.isfinite(out).all() and np.isfinite(dx).all() and math.isfinite(layer.penalty)
    assert all(np.isfinite(p.grad).all() for p in layer.parameters())
    assert layer.floored == 4                                                # the four far-tail entries
    far = np.abs(y) > 100
    np.testing.assert_array_equal(dx[far], dy[far])                          # the floor's gradient is 0
    floor_bits = -math.log2(layers.Quantize.FLOOR)                           # 29.9 bits each
    assert 0 < layer.rate - 2 * floor_bits < 10                              # two floored dims + one ordinary
    bits = layer.bits(y)
    assert np.isfinite(bits).all() and (bits > 2 * floor_bits).all()


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_a_nan_code_is_not_hidden_by_the_floor_eq_U5():
    layer = layers.Quantize(2, seed=0)
    layer.forward(np.array([[np.nan, 0.1]], np.float32))
    assert math.isnan(layer.penalty) and layer.floored == 0                 # fit then names this layer


# --- feature maps (N, C, H, W): one density per channel (U11, U12) ------------------------------

class FixedNoise:
    """A generator whose uniform draw is the given array (of the requested shape)."""

    def __init__(self, values):
        self.values = values

    def random(self, shape, dtype=np.float64):
        assert tuple(shape) == self.values.shape
        return self.values.astype(dtype)


def as_rows(m):
    """(N, C, H, W) -> (N·H·W, C): every position of every image a row of C numbers."""
    return m.transpose(0, 2, 3, 1).reshape(-1, m.shape[1])


def twin_for_rows(layer, positions):
    """A Quantize with ``layer``'s density for the (N·H·W, C) rows formulation, its λ H·W times larger: its
    penalty λ·H·W · (bits per row, a mean over N·H·W rows) is then λ · (bits per image, a mean over N)."""
    twin = layers.Quantize(layer.code_size, step=layer.step, weight=layer.weight * positions,
                           components=layer.components, seed=0)
    for mine, theirs in zip(layer.parameters(), twin.parameters()):
        theirs.data = mine.data.copy()
    return twin


@pytest.mark.parametrize("train", [True, False])
def test_feature_map_rate_is_the_rate_of_its_positions_as_rows_eq_U11_U12(train, float64, rng):
    """One density per channel shared over the positions: the map's bits per image are the sum of its H·W rows'
    bits, its penalty and every gradient those of the (N·H·W, C) rows formulation (the shared parameters'
    summed over the positions)."""
    n, c, h, w = 3, 4, 5, 2
    layer = quantizer(c, rng, step=0.5, weight=0.3).train(train)
    twin = twin_for_rows(layer, h * w).train(train)
    y = 1.5 * rng.standard_normal((n, c, h, w))
    u = rng.random((n, c, h, w))
    layer._rng, twin._rng = FixedNoise(u), FixedNoise(as_rows(u))
    out, out_rows = layer.forward(y), twin.forward(as_rows(y))
    assert out.shape == y.shape
    np.testing.assert_array_equal(as_rows(out), out_rows)
    assert layer.rate == pytest.approx(twin.rate * h * w, rel=1e-12)           # bits per image, eq. U11
    assert layer.penalty == pytest.approx(0.3 * layer.rate, rel=1e-12)
    assert layer.penalty == pytest.approx(twin.penalty, rel=1e-12)
    per_image = twin.bits(as_rows(y)).reshape(n, h * w).sum(axis=1)
    np.testing.assert_allclose(layer.bits(y), per_image, rtol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx, dx_rows = layer.backward(dy), twin.backward(as_rows(dy))
    np.testing.assert_allclose(as_rows(dx), dx_rows, rtol=1e-12)                # eq. U6 at each entry
    for mine, theirs in zip(layer.parameters(), twin.parameters()):            # eq. U12
        np.testing.assert_allclose(mine.grad, theirs.grad, rtol=1e-10, atol=1e-14, err_msg=mine.name)


def test_feature_map_eval_mode_rounds_and_the_coder_reads_it_per_channel_eq_U10_U11(backend_name, rng):
    layer = layers.Quantize(3, step=0.25, seed=0).eval()
    y = backend.asarray(3 * rng.standard_normal((4, 3, 5, 6)), dtype=np.float32)
    y_hat = backend.to_numpy(layer.forward(y))
    assert y_hat.shape == (4, 3, 5, 6)
    q = y_hat / 0.25
    np.testing.assert_array_equal(q, np.round(q))                               # multiples of Δ
    assert np.abs(y_hat - backend.to_numpy(y)).max() <= 0.125 + 1e-6            # the nearest one
    symbols = layer.symbols(y)
    assert symbols.dtype == np.int64 and symbols.shape == (4, 3, 5, 6)
    np.testing.assert_array_equal(symbols, np.round(q).astype(np.int64))
    np.testing.assert_allclose(backend.to_numpy(layer.dequantize(symbols)), y_hat, rtol=1e-6)
    table = layer.pmf(int(symbols.min()), int(symbols.max()))                   # one row per channel
    assert table.shape == (3, int(symbols.max() - symbols.min()) + 1)
    channel = np.arange(3)[None, :, None, None]
    per_image = -np.log2(table[channel, symbols - symbols.min()]).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(layer.bits(y), per_image, rtol=1e-5)
    assert layer.bits(y).shape == (4,)
    assert layer.rate == pytest.approx(per_image.mean(), rel=1e-5)


@pytest.mark.parametrize("train", [True, False])
def test_feature_map_float32_in_float32_out_and_float32_gradients(train, rng):
    layer = layers.Quantize(4, weight=0.3, seed=1).train(train)
    y = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    out = layer.forward(y)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32 and out.shape == dx.shape == y.shape
    assert all(p.data.dtype == p.grad.dtype == np.float32 for p in layer.parameters())
    assert layer.dequantize(layer.symbols(y)).dtype == np.float32


@pytest.mark.parametrize("train", [True, False])
def test_feature_map_values_do_not_depend_on_memory_order_and_batch_last_stays_batch_last(train, rng):
    """A batch-last convolution's output ((C, H, W, N) in memory) is taken as it is and handed on in that order."""
    y = rng.standard_normal((5, 3, 4, 6)).astype(np.float32)
    batch_last = np.ascontiguousarray(y.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    assert im2col.is_batch_last(batch_last)
    a, b = layers.Quantize(3, seed=2).train(train), layers.Quantize(3, seed=2).train(train)
    out, out_bl = a.forward(y), b.forward(batch_last)
    assert im2col.is_batch_last(out_bl)
    np.testing.assert_array_equal(out_bl, out)
    assert a.rate == b.rate
    dy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_array_equal(b.backward(np.ascontiguousarray(dy.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)),
                                  a.backward(dy))
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pb.grad, pa.grad, rtol=1e-5, atol=1e-7)      # sums in another order


def test_feature_map_with_the_wrong_channels_or_rank_is_refused_naming_the_layer():
    layer = layers.Quantize(3, seed=0)
    with pytest.raises(ShapeError, match=r"Quantize: expected input of shape \(N, 3, \?, \?\), got \(2, 4, 5, 5\)"):
        layer.forward(np.zeros((2, 4, 5, 5), np.float32))
    with pytest.raises(ShapeError, match=r"Quantize: expected input of shape \(N, 3\) or a feature map "
                                         r"\(N, 3, \?, \?\), got \(2, 3, 5\)"):
        layer.forward(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ShapeError, match=r"Quantize: expected input of shape \(N, 3, \?, \?\)"):
        layer.symbols(np.zeros((2, 4, 5, 5), np.float32))
    with pytest.raises(ShapeError, match=r"Quantize: expected input of shape \(N, 3, \?, \?\)"):
        layer.bits(np.zeros((2, 2, 5, 5), np.float32))
    with pytest.raises(ShapeError, match=r"Quantize: dequantize expected symbols of shape \(N, 3\) or \(N, 3, \?, \?\)"):
        layer.dequantize(np.zeros((2, 4, 5, 5), np.int64))
    layer.forward(np.zeros((2, 3, 5, 5), np.float32))
    with pytest.raises(ShapeError, match=r"Quantize: backward expected a gradient of the output's shape \(2, 3, 5, 5\)"):
        layer.backward(np.zeros((2, 3, 5, 4), np.float32))
    with pytest.raises(ShapeError, match=r"layer 1 \(Quantize\): expected a code of shape \(N, 5\) or a feature map "
                                         r"\(N, 5, \?, \?\), got \(N, 4, \?, \?\)"):
        layers.Sequential(layers.Conv2d(1, 4, 3), layers.Quantize(5))


# --- the layer in a model: fit, evaluate, files, checkpoints -------------------------------------

def codec(weight, seed=1, code=4, features=16):
    r = np.random.default_rng(seed)
    return Autoencoder(layers.Sequential(layers.Dense(features, code, rng=r), layers.Quantize(code, weight=weight, seed=0)),
                       layers.Sequential(layers.Dense(code, features, rng=r)))


def low_rank_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 4)) @ rng.standard_normal((4, 16))).astype(np.float32)


def test_without_rate_term_encoder_scale_grows_and_with_it_the_code_shrinks_eq_U4():
    """Without λ·R the encoder scales its code up to beat the noise of width Δ; with it, scale and bits fall."""
    x = low_rank_data()
    scales, rates = {}, {}
    for weight in (0.0, 2.0):
        model = codec(weight)
        before = float(np.std(model.encoder[0].forward(x)))
        fit(model, x, loss="mse_per_image", epochs=60, batch_size=64, verbose=0,
            optimizer=optim.Adam(model.parameters(), lr=1e-2))
        scales[weight] = float(np.std(model.encoder[0].forward(x))) / before
        rates[weight] = float(model.encoder[1].bits(model.encoder[0].forward(x)).mean())
    assert scales[0.0] > 1.15, scales                                        # measured 1.30
    assert scales[2.0] < 0.75, scales                                        # measured 0.54
    assert rates[2.0] < rates[0.0] - 4, rates                               # measured 11.3 against 19.8 bits


def test_fit_reports_the_rate_as_the_penalty_apart_from_the_data_term_eq_U4():
    x = np.random.default_rng(3).random((64, 8)).astype(np.float32)
    model = codec(0.1, code=3, features=8)
    history = fit(model, x, loss="mse_per_image", epochs=2, batch_size=16, verbose=0)
    assert history.has_penalty and all(p > 0 for p in history.penalty)
    np.testing.assert_allclose(history.loss, np.add(history.data_loss, history.penalty), rtol=1e-12)
    assert 0.1 * 1 < history.penalty[-1] < 0.1 * 3 * 30                     # λ · (a few bits per dimension)
    parts = evaluate(model, x, loss="mse_per_image", parts=True)
    codes = model.encoder[0].forward(x)                                      # the code before rounding
    assert parts["penalty"] == pytest.approx(0.1 * model.encoder[1].bits(codes).mean(), rel=1e-5)


def test_model_with_quantize_round_trips_through_save_and_load(tmp_path, rng):
    model = codec(0.25)
    q = model.encoder[1]
    for p in q.parameters():
        p.data[...] = p.data + 0.3 * rng.standard_normal(p.shape).astype(p.data.dtype)
    loaded = models.load(models.save(model, tmp_path / "codec.npz"))
    twin = loaded.encoder[1]
    assert isinstance(twin, layers.Quantize) and twin.config() == q.config()
    for name, p in model.named_parameters().items():
        np.testing.assert_array_equal(loaded.named_parameters()[name].data, p.data)
    x = low_rank_data(8)
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))
    np.testing.assert_array_equal(twin.pmf(-5, 5), q.pmf(-5, 5))


def test_resume_restores_the_noise_generator_to_the_bit(tmp_path):
    x = low_rank_data(64)

    def train(epochs, **kwargs):
        model = codec(0.5)
        fit(model, x, loss="mse_per_image", epochs=epochs, batch_size=16, verbose=0,
            optimizer=optim.Adam(model.parameters(), lr=1e-2), **kwargs)
        return model

    straight = train(4)
    train(2, checkpoint=tmp_path / "run.npz")
    resumed = train(4, resume=tmp_path / "run.npz")
    for name, p in straight.named_parameters().items():
        assert np.array_equal(resumed.named_parameters()[name].data, p.data), name


# --- errors at the boundary ---------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"code_size": 0}, "code_size must be a positive int"),
    ({"code_size": 3, "components": 0}, "components must be a positive int"),
    ({"code_size": 3, "step": 0.0}, "step must be a finite number above 0"),
    ({"code_size": 3, "step": float("inf")}, "step must be a finite number above 0"),
    ({"code_size": 3, "weight": -1.0}, r"weight must be a finite number ≥ 0 \(per bit\)"),
])
def test_bad_arguments_are_refused_naming_the_layer(kwargs, match):
    with pytest.raises(ValueError, match="Quantize: " + match):
        layers.Quantize(**kwargs)


def test_wrong_inputs_are_refused_naming_the_layer_and_what_was_expected():
    layer = layers.Quantize(3, seed=0)
    with pytest.raises(ShapeError, match=r"Quantize: expected input of shape \(N, 3\), got \(2, 4\)"):
        layer.forward(np.zeros((2, 4), np.float32))
    with pytest.raises(DTypeError, match="Quantize: expected floating-point input"):
        layer.forward(np.zeros((2, 3), np.int64))
    with pytest.raises(DTypeError, match="Quantize: dequantize expected integer symbols"):
        layer.dequantize(np.zeros((2, 3), np.float32))
    with pytest.raises(ShapeError, match=r"Quantize: dequantize expected symbols of shape \(N, 3\)"):
        layer.dequantize(np.zeros((2, 5), np.int64))
    with pytest.raises(ValueError, match="Quantize: pmf needs lo ≤ hi"):
        layer.pmf(3, 1)
    with pytest.raises(RuntimeError, match="Quantize: backward called before forward"):
        layer.backward(np.zeros((2, 3), np.float32))
    with pytest.raises(ShapeError, match=r"layer 1 \(Quantize\): expected a code of shape \(N, 5\)"):
        layers.Sequential(layers.Dense(8, 4), layers.Quantize(5))
