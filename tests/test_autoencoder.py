"""Autoencoder(encoder, decoder): every zoo model is one; the halves work apart; tied weights across
the halves; model files of tinyae 0.1 (flat models) still load; History lives outside train.py."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from tinyae import backend, checkpoint, gradcheck, layers, losses, models
from tinyae.errors import ShapeError
from tinyae.models import Autoencoder
from tinyae.train import evaluate, fit, predict

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
ZOO = sorted(models.ZOO)


def images(n=6, channels=1, seed=0, shape=None):
    """n random images of ``shape`` (C, H, W), (channels, 28, 28) when None (a model's ``input_shape``)."""
    return np.random.default_rng(seed).random((n, *(shape or (channels, 28, 28))), dtype=np.float32)


@pytest.mark.parametrize("name", ZOO)
def test_every_zoo_model_is_an_autoencoder_whose_halves_work_apart(name):
    model = models.build(name, seed=0)
    assert isinstance(model, Autoencoder) and model.name == name
    x = images(shape=model.input_shape)
    codes = model.encode(x)
    assert isinstance(codes, np.ndarray) and codes.shape == (len(x), *model.code_shape)
    assert model.code_size == int(np.prod(model.code_shape))
    back = model.decode(codes)
    assert back.shape == x.shape and back.dtype == np.float32
    np.testing.assert_allclose(model.reconstruct(x), back, rtol=1e-5, atol=1e-6)   # one pass = the two halves
    np.testing.assert_allclose(model.reconstruct(x), predict(model, x), rtol=0, atol=0)
    assert model.training                                      # encode/decode restore the mode
    assert all(n.startswith(("encoder.", "decoder.")) for n in model.named_parameters())


def test_summary_shows_both_halves_and_the_code_with_its_size():
    text = models.build("deep").summary()
    assert "encoder" in text and "decoder" in text
    assert "-- code: (N, 32), 32 numbers per image (784 in: 24.5x fewer) --" in text
    assert text.index("encoder.3") < text.index("-- code") < text.index("decoder.0")
    assert "total parameters: 209,968" in text
    assert "x more, an overcomplete code" in models.build("denoise").summary()


def test_the_decoder_must_take_the_encoders_code():
    with pytest.raises(ShapeError, match=r"decoder does not take the encoder's code \(N, 32\)"):
        Autoencoder(layers.Sequential(layers.Flatten(), layers.Dense(784, 32), input_shape=(1, 28, 28)),
                    layers.Sequential(layers.Dense(16, 784)))


def test_layers_of_the_two_halves_are_named_in_messages():
    model = models.build("dense")
    with pytest.raises(ShapeError, match=r"^decoder layer 0 \(Dense\): expected input of shape \(N, 256\)"):
        model.decode(np.zeros((2, 32), np.float32))


def test_backward_runs_the_decoder_then_the_encoder_and_skips_dx_when_asked(rng):
    model = models.build("dense")
    x = images(4)
    y = model.forward(x)
    assert model.backward(np.ones_like(y), input_grad=False) is None
    model.forward(x)
    assert model.backward(np.ones_like(y)).shape == x.shape


def tied_autoencoder(seed=0):
    encoder_dense = layers.Dense(12, 5, rng=seed)
    return Autoencoder(layers.Sequential(layers.Flatten(), encoder_dense, layers.Tanh(), input_shape=(1, 3, 4)),
                       layers.Sequential(layers.DenseTied(encoder_dense), layers.Sigmoid(), layers.Reshape((1, 3, 4))))


def test_a_tied_decoder_across_the_halves_gets_the_sum_of_both_gradients_eq_D6(float64, rng):
    model = tied_autoencoder()
    assert model.decoder[0].W is model.encoder[1].W
    assert list(model.named_parameters()) == ["encoder.1.W", "encoder.1.b", "decoder.0.c"]   # W once
    for p in model.parameters():
        p.data[...] = p.data + 0.05 * rng.standard_normal(p.data.shape)
    x = rng.random((3, 1, 3, 4))
    errors = gradcheck.check_model(model, losses.MSE(), x, x)
    assert max(errors.values()) < 1e-7, errors


def test_a_tied_autoencoder_is_saved_with_w_once_and_loads_still_tied(tmp_path):
    model = tied_autoencoder()
    path = models.save(model, tmp_path / "tied.npz")
    with np.load(path) as data:
        assert sorted(k for k in data.files if k != models.ARCH_KEY) == ["decoder.0.c", "encoder.1.W", "encoder.1.b"]
        arch = models.decode_json(data[models.ARCH_KEY], path, "architecture")
    assert arch["model"]["decoder"]["layers"][0]["config"]["encoder"] == "encoder.1"
    loaded = models.load(path)
    assert loaded.decoder[0].W is loaded.encoder[1].W
    x = np.random.default_rng(1).random((5, 1, 3, 4), dtype=np.float32)
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))


@pytest.mark.parametrize("name", ZOO)
def test_every_zoo_model_saves_and_loads_to_the_same_outputs_and_objective(name, tmp_path):
    model = models.build(name, seed=2)
    path = models.save(model, tmp_path / f"{name}.npz")
    loaded = models.load(path)
    assert type(loaded) is type(model) and loaded.name == name and loaded.loss == model.loss
    x = images(3, shape=model.input_shape)
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))


# --- files of tinyae 0.1 ------------------------------------------------------------------------

def test_a_flat_conv_model_file_of_version_0_1_loads_as_the_conv_autoencoder():
    """tests/data/v0.1_conv.npz was written by tinyae 0.1's models.save(models.build('conv', seed=1))."""
    with np.load(DATA / "v0.1_conv.npz") as old:
        arrays = {k: old[k] for k in old.files}
    arch = models.decode_json(arrays[models.ARCH_KEY], "v0.1_conv.npz", "architecture")
    assert arch["version"] == 1 and "0.W" in arrays and "6.W" in arrays      # flat: layer index . name
    model = models.load(DATA / "v0.1_conv.npz")
    assert isinstance(model, Autoencoder) and model.name == "conv" and model.loss == "mse"
    for i, layer in enumerate(model.layers):                                   # the same layers, in order
        for name, p in layer.params.items():
            np.testing.assert_array_equal(p.data, arrays[f"{i}.{name}"])
    np.testing.assert_array_equal(model.reconstruct(images(2)), predict(models.build("conv", seed=1), images(2)))
    assert model.code_shape == (64, 7, 7)


def test_a_flat_tied_model_of_version_0_1_loads_as_a_sequential_still_tied():
    """tests/data/v0.1_tied.npz: Flatten, Dense(6, 3), Tanh, DenseTied(that Dense), Dropout, Reshape, saved by 0.1."""
    model = models.load(DATA / "v0.1_tied.npz")
    assert isinstance(model, layers.Sequential) and not isinstance(model, Autoencoder)
    assert model[3].W is model[1].W and list(model.named_parameters()) == ["1.W", "1.b", "3.c"]
    assert model[4].seed == 5


def test_a_checkpoint_of_version_0_1_loads_and_resumes_its_adam_moments_as_running_sums_eq_O5():
    """tests/data/v0.1_tied_checkpoint.npz: fit(that model, 16 images, epochs=2, batch_size=8), tinyae 0.1."""
    ck = checkpoint.load_checkpoint(DATA / "v0.1_tied_checkpoint.npz")
    assert ck.epoch == 2 and ck.history.epochs == [1, 2] and ck.history.data_loss == ck.history.loss
    assert set(ck.layer_rngs) == {"4"} and ck.model[4]._rng is not None
    x = np.random.default_rng(0).random((16, 1, 2, 3), dtype=np.float32)
    from tinyae import optim
    model = ck.model
    adam = optim.Adam(model.parameters())
    adam.load_state_dict(ck.optimizer)                      # 0.1 wrote Adam's m and v (O1, O2) ...
    for saved, state in zip(ck.optimizer["state"], adam.state):
        np.testing.assert_allclose(state["m_sum"] * (1 - 0.9), saved["m"], rtol=1e-6)      # ... kept as O5's sums
        np.testing.assert_allclose(state["v_sum"] * (1 - 0.999), saved["v"], rtol=1e-6)
    fit(model, x, epochs=3, batch_size=8, verbose=0, optimizer=optim.Adam(model.parameters()),
        resume=DATA / "v0.1_tied_checkpoint.npz")


def test_history_has_its_own_module_and_checkpoint_and_train_do_not_import_each_other():
    def imports(path):
        tree = ast.parse(path.read_text())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names.add(node.module or "")
                names.update(alias.name for alias in node.names if node.module is None)
        return names
    assert "train" not in imports(REPO / "tinyae" / "checkpoint.py")
    assert "history" in imports(REPO / "tinyae" / "checkpoint.py")
    import tinyae
    assert tinyae.History.__module__ == "tinyae.history"


# --- interpolation ---------------------------------------------------------------------------------

def test_interpolate_goes_from_the_decoding_of_one_code_to_the_other():
    model = models.build("deep", seed=0)
    x = images(2)
    path = model.interpolate(x[0], x[1], steps=5)
    assert path.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(path[0], model.reconstruct(x[:1])[0], atol=1e-5)
    np.testing.assert_allclose(path[-1], model.reconstruct(x[1:])[0], atol=1e-5)
    with pytest.raises(ShapeError, match="interpolate: x_a must be one image of shape"):
        model.interpolate(x, x[1], steps=5)


def test_fit_and_evaluate_use_the_zoo_models_own_objective():
    model = models.build("sparse", seed=0)                 # BCE per pixel + L1 activity
    x = images(16)
    history = fit(model, x, epochs=1, batch_size=8, verbose=0)
    assert history.loss_name == "BCE" and history.units == "per pixel"
    parts = evaluate(model, x, parts=True)
    bce = losses.BCE().forward(backend.asarray(predict(model, x)), backend.asarray(x))
    assert parts["data"] == pytest.approx(bce, rel=1e-5)
    assert parts["total"] == pytest.approx(parts["data"] + parts["penalty"]) and parts["penalty"] > 0
    assert evaluate(model, x) == pytest.approx(parts["total"])


def test_halves_reused_in_a_new_autoencoder_keep_one_label_each():
    model = models.build("dense")
    again = Autoencoder(layers.Sequential(layers.BlockMask(4, seed=0), *model.encoder.layers, input_shape=(1, 28, 28)),
                        model.decoder, loss=model.loss)
    assert again.decoder[0].label == "decoder layer 0 (Dense)"
    assert again.encoder[2].label == "encoder layer 2 (Dense)"
