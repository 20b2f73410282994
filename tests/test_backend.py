"""The backend module: NumPy by default, a clear error where CuPy is missing, the default dtype,
to_numpy, the using() context, and reproducible initial weights from a seed."""
from __future__ import annotations

import os

import numpy as np
import pytest

import tinyae
from tinyae import backend, init, layers, models
from tinyae.errors import BackendError


@pytest.mark.skipif(os.environ.get("TINYAE_BACKEND", "numpy").lower() not in ("", "numpy"),
                    reason="TINYAE_BACKEND selects another backend for this run")
def test_numpy_and_float32_are_the_defaults():
    assert backend.name == "numpy" and backend.xp is np
    assert backend.dtype() == np.float32
    assert layers.Dense(3, 2).W.data.dtype == np.float32


def test_asking_for_cupy_where_it_cannot_be_used_raises_backend_error_saying_how_to_fix_it():
    if "cupy" in backend.available():
        pytest.skip("CuPy works here")
    before = backend.name
    with pytest.raises(BackendError, match=r"cupy") as info:
        backend.use("cupy")
    message = str(info.value)
    assert "pip install" in message or "CUDA device" in message
    assert backend.name == before                                   # the failed switch changed nothing
    assert isinstance(info.value, RuntimeError)


def test_unknown_backend_name_raises_value_error():
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        backend.use("tpu")


def test_available_lists_numpy_first():
    assert backend.available()[0] == "numpy"


def test_set_default_dtype_changes_new_parameters_and_rejects_other_dtypes():
    previous = backend.dtype()
    try:
        backend.set_default_dtype("float64")
        assert backend.dtype() == np.float64
        assert layers.Dense(3, 2).W.data.dtype == np.float64
        assert backend.asarray([1, 2]).dtype == np.float64
        for bad in ("float16", "int32"):
            with pytest.raises(ValueError, match="float32 or float64"):
                backend.set_default_dtype(bad)
    finally:
        backend.set_default_dtype(previous)


def test_default_dtype_context_restores_the_previous_dtype_even_after_an_error():
    before = backend.dtype()
    with pytest.raises(KeyError):
        with backend.default_dtype("float64"):
            assert backend.dtype() == np.float64
            raise KeyError
    assert backend.dtype() == before


def test_float64_fixture_sets_float64(float64):
    assert backend.dtype() == np.float64


def test_using_context_activates_a_backend_and_restores_the_previous_one(backend_name):
    with backend.using("numpy") as xp:
        assert xp is np and backend.name == "numpy"
    assert backend.name == backend_name
    with pytest.raises(KeyError):
        with backend.using("numpy"):
            raise KeyError
    assert backend.name == backend_name


def test_to_numpy_returns_a_numpy_array_with_the_same_values(backend_name, xp):
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    on_backend = xp.asarray(values)
    out = backend.to_numpy(on_backend)
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, values)
    if backend_name == "numpy":
        assert out is on_backend                                    # no copy on the CPU
    assert backend.get_array_module(on_backend) is xp


def test_asarray_puts_data_on_the_active_backend_in_the_default_dtype(backend_name, xp):
    a = backend.asarray(np.arange(3))
    assert isinstance(a, xp.ndarray) and a.dtype == backend.dtype()


def test_same_seed_gives_bit_identical_parameters_of_a_built_model():
    a, b, c = models.build("dense", seed=7), models.build("dense", seed=7), models.build("dense", seed=8)
    pa, pb, pc = a.named_parameters(), b.named_parameters(), c.named_parameters()
    assert list(pa) == ["encoder.1.W", "encoder.1.b", "decoder.0.W", "decoder.0.b"]
    for name in pa:
        assert pa[name].data.tobytes() == pb[name].data.tobytes()       # bit-identical
    assert pa["encoder.1.W"].data.tobytes() != pc["encoder.1.W"].data.tobytes()


def test_initial_weights_are_the_same_on_every_backend(backend_name):
    # weights are drawn on the CPU with NumPy and then moved, so CuPy gets NumPy's numbers
    with backend.using("numpy"):
        reference = models.build("dense", seed=3).named_parameters()
    model = models.build("dense", seed=3).named_parameters()
    for name, p in model.items():
        assert backend.to_numpy(p.data).tobytes() == reference[name].data.tobytes()


def test_tinyae_seed_makes_layers_built_without_rng_reproducible(monkeypatch):
    monkeypatch.setattr(init, "_generator", init._generator)        # restored after the test
    tinyae.seed(11)
    first = layers.Dense(4, 3).W.data.copy()
    tinyae.seed(11)
    np.testing.assert_array_equal(layers.Dense(4, 3).W.data, first)
    assert not np.array_equal(layers.Dense(4, 3).W.data, first)      # the generator moved on


def test_default_rng_is_reproducible_from_a_seed(backend_name):
    a = backend.to_numpy(backend.default_rng(5).random(4))
    b = backend.to_numpy(backend.default_rng(5).random(4))
    np.testing.assert_array_equal(a, b)
