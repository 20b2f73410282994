"""The model zoo and model files (tinyae.models): building, shapes, save/load, and bad files.

A model file is one .npz holding each parameter once plus the architecture as JSON
bytes; loading must rebuild the same model (same outputs, bit for bit), keep tied
weights tied, never need pickle, and turn every kind of bad file into a
ModelFileError that says what is wrong.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tinyae import layers, models, optim
from tinyae.errors import ModelFileError
from tinyae.train import fit, predict

ZOO = sorted(models.ZOO)


def images(n=8, seed=0, channels=1, shape=None):
    """n random images of ``shape`` (C, H, W), (channels, 28, 28) when None (a model's ``input_shape``)."""
    return np.random.default_rng(seed).random((n, *(shape or (channels, 28, 28))), dtype=np.float32)


def tied_model(seed=0):
    """Flatten → Dense(784, 32) → ReLU → DenseTied(that Dense) → Sigmoid → Reshape: W is used twice."""
    encoder = layers.Dense(784, 32, init_name="he_uniform", rng=seed)
    return layers.Sequential(layers.Flatten(), encoder, layers.ReLU(), layers.DenseTied(encoder), layers.Sigmoid(),
                             layers.Reshape((1, 28, 28)), input_shape=(1, 28, 28))


def arrays_of(path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def architecture_of(arrays) -> dict:
    return json.loads(arrays[models.ARCH_KEY].tobytes().decode("utf-8"))


def with_architecture(arrays, arch) -> dict:
    return {**arrays, models.ARCH_KEY: np.frombuffer(json.dumps(arch).encode("utf-8"), dtype=np.uint8)}


@pytest.fixture
def saved(tmp_path):
    """(path, arrays) of a saved "dense" model."""
    path = models.save(models.build("dense"), tmp_path / "dense.npz")
    return path, arrays_of(path)


# --- the zoo --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ZOO)
def test_every_zoo_model_builds_and_maps_images_to_images(name):
    model = models.build(name)
    channels = 3 if name.endswith("_rgb") else 1
    assert model.name == name
    assert model.input_shape == ((1, 32, 32) if name == "codec_conv" else (channels, 28, 28))  # stride 8: 32×32 patches
    y = model.forward(images(5, shape=model.input_shape))
    assert y.shape == (5, *model.input_shape)
    assert y.dtype == np.float32
    assert np.isfinite(y).all()


@pytest.mark.parametrize("name", ZOO)
def test_same_seed_same_weights_other_seed_other_weights(name):
    a, b, c = models.build(name, seed=3), models.build(name, seed=3), models.build(name, seed=4)
    for (ka, pa), (kb, pb), (kc, pc) in zip(a.named_parameters().items(), b.named_parameters().items(),
                                             c.named_parameters().items()):
        assert np.array_equal(pa.data, pb.data), ka
    assert not all(np.array_equal(pa.data, pc.data) for pa, pc in zip(a.parameters(), c.parameters()))


def test_unknown_model_name_lists_the_zoo():
    with pytest.raises(ValueError, match="unknown model 'nope'.*dense"):
        models.build("nope")


# --- save → load round trip ---------------------------------------------------------------

@pytest.mark.parametrize("name", ZOO)
def test_save_load_round_trip_gives_identical_parameters_and_outputs(name, tmp_path):
    model = models.build(name, seed=1)
    fit(model, images(64, shape=model.input_shape), epochs=1, batch_size=32, verbose=0)   # trained, not just seeded
    path = models.save(model, tmp_path / "m.npz")
    loaded = models.load(path)
    assert loaded.name == name and loaded.input_shape == model.input_shape
    assert [type(l) for l in loaded.layers] == [type(l) for l in model.layers]
    original, restored = model.named_parameters(), loaded.named_parameters()
    assert list(original) == list(restored)
    for key in original:
        assert restored[key].data.dtype == original[key].data.dtype
        assert np.array_equal(restored[key].data, original[key].data), key
    x = images(16, seed=2, shape=model.input_shape)
    assert np.array_equal(predict(loaded, x), predict(model, x))


def test_save_adds_the_npz_suffix_and_leaves_no_temporary_file(tmp_path):
    path = models.save(models.build("dense"), tmp_path / "sub" / "model")
    assert path == tmp_path / "sub" / "model.npz" and path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["model.npz"]


def test_tied_weight_is_stored_once_and_is_still_one_parameter_after_loading(tmp_path):
    model = tied_model()
    assert model.layers[3].W is model.layers[1].W
    path = models.save(model, tmp_path / "tied.npz")
    stored = arrays_of(path)
    assert sorted(k for k in stored if k != models.ARCH_KEY) == ["1.W", "1.b", "3.c"]   # W once

    loaded = models.load(path)
    encoder, decoder = loaded.layers[1], loaded.layers[3]
    assert isinstance(decoder, layers.DenseTied) and decoder.encoder is encoder
    assert decoder.W is encoder.W                                  # one Parameter object, shared
    assert len(loaded.parameters()) == 3
    x = images(8)
    assert np.array_equal(predict(loaded, x), predict(model, x))

    # the tie survives training: one update moves the encoder's and the decoder's W together
    before = encoder.W.data.copy()
    fit(loaded, x, epochs=1, batch_size=8, verbose=0, optimizer=optim.SGD(loaded.parameters(), lr=1.0))
    assert not np.array_equal(encoder.W.data, before)
    assert decoder.W.data is encoder.W.data


def test_model_files_contain_no_pickle(saved):
    path, arrays = saved
    assert all(a.dtype != object for a in arrays.values())         # np.load(allow_pickle=False) read them all
    arch = architecture_of(arrays)
    assert arch["format"] == models.FORMAT and arch["version"] == models.VERSION
    model = arch["model"]
    assert model["type"] == "Autoencoder" and arch["loss"] == "mse"
    assert [spec["type"] for spec in model["encoder"]["layers"]] == ["Flatten", "Dense", "ReLU"]
    assert [spec["type"] for spec in model["decoder"]["layers"]] == ["Dense", "Sigmoid", "Reshape"]


# --- bad files -------------------------------------------------------------------------------

def test_missing_parameter_is_named(saved, tmp_path):
    _, arrays = saved
    del arrays["decoder.0.W"]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"missing parameters \['decoder.0.W'\]"):
        models.load(tmp_path / "bad.npz")


def test_extra_parameter_is_named(saved, tmp_path):
    _, arrays = saved
    arrays["decoder.7.W"] = np.zeros((2, 2), np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"architecture does not have.*decoder.7.W"):
        models.load(tmp_path / "bad.npz")


def test_wrong_shape_names_the_parameter_and_both_shapes(saved, tmp_path):
    _, arrays = saved
    arrays["encoder.1.W"] = arrays["encoder.1.W"][:, :100]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"encoder.1.W has shape \(784, 100\).*needs \(784, 256\)"):
        models.load(tmp_path / "bad.npz")


def test_integer_parameter_is_refused(saved, tmp_path):
    _, arrays = saved
    arrays["encoder.1.b"] = arrays["encoder.1.b"].astype(np.int32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"encoder.1.b has dtype int32"):
        models.load(tmp_path / "bad.npz")


def test_unknown_layer_type_is_named_with_the_known_ones(saved, tmp_path):
    _, arrays = saved
    arch = architecture_of(arrays)
    arch["model"]["encoder"]["layers"][2]["type"] = "os.system"
    np.savez(tmp_path / "bad.npz", **with_architecture(arrays, arch))
    with pytest.raises(ModelFileError, match=r"layer encoder.2: unknown layer type 'os.system'; known types: .*Dense"):
        models.load(tmp_path / "bad.npz")


def test_bad_layer_configuration_is_reported(saved, tmp_path):
    _, arrays = saved
    arch = architecture_of(arrays)
    arch["model"]["encoder"]["layers"][1]["config"]["no_such_argument"] = 1
    np.savez(tmp_path / "bad.npz", **with_architecture(arrays, arch))
    with pytest.raises(ModelFileError, match=r"layer encoder.1 \(Dense\): bad configuration"):
        models.load(tmp_path / "bad.npz")


def test_file_without_architecture_says_so(saved, tmp_path):
    _, arrays = saved
    del arrays[models.ARCH_KEY]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match="no architecture entry"):
        models.load(tmp_path / "bad.npz")


def test_architecture_that_is_not_json_says_so(saved, tmp_path):
    _, arrays = saved
    arrays[models.ARCH_KEY] = np.frombuffer(b"{not json", dtype=np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match="not valid JSON"):
        models.load(tmp_path / "bad.npz")


def test_missing_file_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        models.load(tmp_path / "nothere.npz")


def test_file_that_is_not_a_zip_is_reported_as_not_an_npz(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("this is not a model\n")
    with pytest.raises(ModelFileError, match=r"text.npz: not a readable \.npz"):
        models.load(path)


def test_file_that_is_not_a_zip_raises_model_file_error(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("this is not a model\n")
    with pytest.raises(ModelFileError, match="text.npz"):
        models.load(path)


def test_truncated_file_raises_model_file_error(saved, tmp_path):
    path, _ = saved
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"cut.npz: not a readable \.npz"):
        models.load(tmp_path / "cut.npz")


def test_object_array_is_refused_because_it_needs_pickle(saved, tmp_path):
    _, arrays = saved
    arrays["payload"] = np.array([{"any": "object"}], dtype=object)
    np.savez(tmp_path / "bad.npz", **arrays)                        # savez pickles the object array
    with pytest.raises(ModelFileError, match="pickle"):
        models.load(tmp_path / "bad.npz")
