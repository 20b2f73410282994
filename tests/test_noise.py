"""GaussianNoise (docs/math/batchnorm.md, G1–G2): identity in eval mode, x + std·ε in train mode with noise of
the right statistics, reproducible by seed, gradient passed through unchanged, and its gradient check.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tinyae import backend, checks, layers
from tinyae.errors import DTypeError, ShapeError

NOISE_CASES = {name: run for name, run in checks.all_cases() if name.startswith("GaussianNoise")}


def _np(a):
    return backend.to_numpy(a)


def test_eval_mode_is_the_identity(backend_name, rng):
    x = backend.asarray(rng.standard_normal((4, 5)))
    layer = layers.GaussianNoise(0.5, seed=0).eval()
    y = layer.forward(x)
    np.testing.assert_array_equal(_np(y), _np(x))
    np.testing.assert_array_equal(_np(layer.backward(y)), _np(x))


def test_zero_std_is_the_identity_in_train_mode(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(layers.GaussianNoise(0.0).forward(x), x)


def test_train_mode_adds_noise_of_mean_0_and_standard_deviation_std_eq_G1(backend_name):
    x = backend.xp.full((200, 500), 3.0, dtype=np.float32)
    y = _np(layers.GaussianNoise(0.25, seed=7).forward(x))
    noise = y - 3.0                                                   # 100 000 draws of std·ε
    assert abs(noise.mean()) < 0.25 * 5 / np.sqrt(noise.size)         # 5 standard errors
    assert abs(noise.std() - 0.25) < 0.25 * 0.02
    assert abs(np.mean(np.abs(noise) < 0.25) - 0.6827) < 0.01          # the normal's one-sigma mass


def test_the_same_seed_gives_the_same_noise_and_another_seed_other_noise(backend_name):
    x = backend.xp.zeros((6, 7), dtype=np.float32)
    a, b, c = layers.GaussianNoise(1.0, seed=3), layers.GaussianNoise(1.0, seed=3), layers.GaussianNoise(1.0, seed=4)
    np.testing.assert_array_equal(_np(a.forward(x)), _np(b.forward(x)))
    np.testing.assert_array_equal(_np(a.forward(x)), _np(b.forward(x)))   # and the sequence continues alike
    assert not np.array_equal(_np(a.forward(x)), _np(c.forward(x)))


def test_every_forward_draws_fresh_noise():
    layer = layers.GaussianNoise(1.0, seed=0)
    x = np.zeros((4, 4), dtype=np.float32)
    assert not np.array_equal(layer.forward(x), layer.forward(x))


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_backward_passes_dy_through_unchanged_eq_G2(train, rng):
    layer = layers.GaussianNoise(0.3, seed=0).train(train)
    x = rng.standard_normal((3, 2, 4, 4)).astype(np.float32)
    dy = rng.standard_normal((3, 2, 4, 4)).astype(np.float32)
    before, x_before = dy.copy(), x.copy()
    layer.forward(x)
    dx = layer.backward(dy)
    np.testing.assert_array_equal(dx, before)
    np.testing.assert_array_equal(dy, before)                          # dy not modified
    np.testing.assert_array_equal(x, x_before)                         # x not modified


def test_noise_has_the_input_dtype(rng):
    layer = layers.GaussianNoise(0.1, seed=0)
    assert layer.forward(rng.standard_normal((2, 3)).astype(np.float32)).dtype == np.float32
    assert layer.forward(rng.standard_normal((2, 3))).dtype == np.float64


def test_backward_with_the_wrong_shape_or_before_forward_raises():
    layer = layers.GaussianNoise(0.1, seed=0)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((2, 3)))
    layer.forward(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"GaussianNoise: backward expected .*\(2, 3\), got \(3, 2\)"):
        layer.backward(np.zeros((3, 2)))


def test_integer_input_raises_dtype_error():
    with pytest.raises(DTypeError, match="GaussianNoise"):
        layers.GaussianNoise(0.1).forward(np.zeros((2, 3), dtype=np.uint8))


@pytest.mark.parametrize("bad", [-0.1, "0.1", None, True, float("nan")])
def test_invalid_std_raises_value_error(bad):
    with pytest.raises(ValueError, match="GaussianNoise: std"):
        layers.GaussianNoise(bad)


def test_config_is_json_and_keeps_the_seed_even_when_none_was_given():
    layer = layers.GaussianNoise(0.2)
    config = json.loads(json.dumps(layer.config()))
    assert config["std"] == 0.2 and isinstance(config["seed"], int)
    twin = layers.GaussianNoise(**config)
    x = np.zeros((3, 3), dtype=np.float32)
    np.testing.assert_array_equal(twin.forward(x), layers.GaussianNoise(**config).forward(x))


def test_output_shape_is_the_input_shape():
    assert layers.GaussianNoise(0.1).output_shape((None, 1, 28, 28)) == (None, 1, 28, 28)


def test_gradient_check_with_the_noise_fixed_below_1e_7_eq_G2(float64):
    assert list(NOISE_CASES) == ["GaussianNoise(0.5), noise fixed"]
    errors = NOISE_CASES["GaussianNoise(0.5), noise fixed"]()
    assert max(errors.values()) < 1e-7, errors
