"""The training loop (tinyae.train): fit, History, evaluate, predict, and the NaN guards.

Training runs use a few hundred generated ``shapes`` images and small models, so
each takes well under a second.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tinyae import History, datasets, evaluate, fit, layers, losses, models, optim, predict
from tinyae.errors import NumericalError, ShapeError


@pytest.fixture(scope="module")
def shapes_data():
    x, _ = datasets.shapes(n=320, seed=0)
    x_val, _ = datasets.shapes(n=64, seed=1)
    return x, x_val


def small_model(seed=0):
    """784 → 32 (ReLU) → 784 (sigmoid): a small dense autoencoder for fast tests."""
    return layers.Sequential(layers.Flatten(), layers.Dense(784, 32, init_name="he_uniform", rng=seed), layers.ReLU(),
                             layers.Dense(32, 784, rng=seed + 1), layers.Sigmoid(), layers.Reshape((1, 28, 28)),
                             input_shape=(1, 28, 28))


def linear_model(seed=0):
    """784 → 784 with no activation: SGD with a huge learning rate makes it diverge."""
    return layers.Sequential(layers.Flatten(), layers.Dense(784, 784, rng=seed), layers.Reshape((1, 28, 28)),
                             input_shape=(1, 28, 28))


# --- learning ---------------------------------------------------------------------------------

def test_fit_reduces_the_loss_on_shapes_in_a_few_epochs(shapes_data):
    x, x_val = shapes_data
    model = small_model()
    before = evaluate(model, x_val)
    history = fit(model, x, epochs=4, batch_size=32, validation_data=x_val, verbose=0)
    assert history.loss[-1] < 0.6 * history.loss[0]
    assert all(b < a for a, b in zip(history.loss, history.loss[1:]))    # every epoch better than the last
    assert history.val_loss[-1] < 0.5 * before


def test_history_records_one_entry_per_epoch(shapes_data):
    x, x_val = shapes_data
    model = small_model()
    opt = optim.Adam(model.parameters(), lr=2e-3)
    history = fit(model, x, epochs=3, batch_size=64, validation_data=x_val, optimizer=opt, verbose=0)
    assert history.loss_name == "MSE"
    assert history.epochs == [1, 2, 3]
    assert len(history.loss) == len(history.val_loss) == len(history.seconds) == 3
    assert all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in history.loss + history.val_loss)
    assert all(s > 0 for s in history.seconds)
    assert history.lr == [2e-3] * 3
    assert "3 epochs" in repr(history)


def test_history_to_dict_from_dict_and_save_round_trip(shapes_data, tmp_path):
    x, x_val = shapes_data
    history = fit(small_model(), x[:64], epochs=2, batch_size=32, validation_data=x_val, loss="bce", verbose=0)
    d = history.to_dict()
    assert set(d) == {"loss_name", "units", "epochs", "loss", "data_loss", "penalty", "val_loss", "val_data_loss",
                      "val_penalty", "seconds", "lr"}
    assert d["units"] == "per pixel" and d["penalty"] == [0.0, 0.0] and d["data_loss"] == d["loss"]
    assert d["loss_name"] == "BCE"
    json.dumps(d)                                                      # JSON-able as it is
    again = History.from_dict(d)
    assert again.to_dict() == d
    history.save(tmp_path / "h.json")
    assert History.from_dict(json.loads((tmp_path / "h.json").read_text())).to_dict() == d


def test_validation_loss_is_recorded_only_when_validation_data_is_given(shapes_data):
    x, x_val = shapes_data
    without = fit(small_model(), x[:64], epochs=2, batch_size=32, verbose=0)
    assert without.val_loss == [] and len(without.loss) == 2
    model = small_model()
    with_val = fit(model, x[:64], epochs=2, batch_size=32, validation_data=x_val, verbose=0)
    assert len(with_val.val_loss) == 2
    assert with_val.val_loss[-1] == pytest.approx(evaluate(model, x_val), rel=1e-6)   # measured after the epoch
    # a (x_val, y_val) pair works too; y_val None means "the input is the target"
    pair = fit(small_model(), x[:64], epochs=1, batch_size=32, validation_data=(x_val, None), verbose=0)
    assert pair.val_loss == pytest.approx(with_val.val_loss[:1], rel=1e-6)


def test_same_seed_gives_bit_identical_parameters(shapes_data):
    x, _ = shapes_data
    runs = []
    for _ in range(2):
        model = models.build("dense", seed=5)
        fit(model, x[:128], epochs=2, batch_size=32, seed=7, verbose=0)
        runs.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*runs):
        assert np.array_equal(a, b)
    other = models.build("dense", seed=5)
    fit(other, x[:128], epochs=2, batch_size=32, seed=8, verbose=0)        # another shuffling order
    assert not all(np.array_equal(a, p.data) for a, p in zip(runs[0], other.parameters()))


def test_verbose_0_prints_nothing(shapes_data, capsys):
    x, x_val = shapes_data
    fit(small_model(), x[:64], epochs=2, batch_size=32, validation_data=x_val, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_1_shows_a_progress_bar_per_epoch(shapes_data, capsys):
    x, _ = shapes_data
    fit(small_model(), x[:64], epochs=2, batch_size=32, verbose=1)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "MSE" in err


def test_fit_rejects_x_and_y_of_different_lengths(shapes_data):
    x, _ = shapes_data
    with pytest.raises(ShapeError, match="x has 10 samples but y has 9"):
        fit(small_model(), x[:10], x[:9], epochs=1, verbose=0)


# --- NaN and infinity ---------------------------------------------------------------------------

def test_nan_in_the_input_is_refused_naming_the_sample(shapes_data):
    x = shapes_data[0][:50].copy()
    x[17, 0, 3, 4] = np.nan
    model = small_model()
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(NumericalError, match=r"x contains NaN or infinity \(first in sample 17\)"):
        fit(model, x, epochs=1, verbose=0)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))   # nothing trained


def test_infinity_in_the_validation_data_is_refused_naming_the_sample(shapes_data):
    x, x_val = shapes_data
    x_val = x_val.copy()
    x_val[5, 0, 0, 0] = np.inf
    with pytest.raises(NumericalError, match=r"validation data contains NaN or infinity \(first in sample 5\)"):
        fit(small_model(), x[:32], epochs=1, validation_data=x_val, verbose=0)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_diverging_loss_stops_training_naming_epoch_and_batch(shapes_data):
    x, _ = shapes_data
    model = linear_model()
    sgd = optim.SGD(model.parameters(), lr=1e12)                # absurd: the weights explode in a step or two
    with pytest.raises(NumericalError, match=r"the loss became (inf|nan) at epoch 1, batch [2-9]\b.*"
                                             r"smaller learning rate"):
        fit(model, x[:256], epochs=2, batch_size=16, optimizer=sgd, verbose=0)   # (measured: inf at batch 3)


def test_nan_in_a_parameter_stops_training_at_the_first_batch(shapes_data):
    x, _ = shapes_data
    model = small_model()
    model.layers[3].W.data[0, 0] = np.nan
    with pytest.raises(NumericalError, match=r"loss became nan at epoch 1, batch 1"):
        fit(model, x[:64], epochs=1, batch_size=32, verbose=0)


class _InfGradient(layers.Layer):
    """Identity forward whose parameter gets an infinite gradient: the loss stays finite."""

    def __init__(self):
        super().__init__()
        self.add_param("w", np.zeros(3, dtype=np.float32))

    def forward(self, x):
        self.w.start_pass()
        return x

    def backward(self, dy, input_grad=True):
        self.w.accumulate(np.full(3, np.inf, dtype=np.float32))
        return dy


def test_a_non_finite_gradient_stops_training_naming_epoch_batch_and_layer(shapes_data):
    x, _ = shapes_data
    model = layers.Sequential(layers.Flatten(), _InfGradient(), layers.Dense(784, 784, rng=0),
                              layers.Reshape((1, 28, 28)))
    with pytest.raises(NumericalError, match=r"gradient became non-finite at epoch 1, batch 1, "
                                             r"first in layer 1 \(_InfGradient\), parameter w"):
        fit(model, x[:32], epochs=1, batch_size=32, verbose=0)


# --- evaluate and predict ----------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_evaluate_is_the_batch_size_weighted_mean_of_batch_losses(shapes_data, loss):
    x, _ = shapes_data
    x = x[:50]
    model = small_model()
    batch_size = 16                                              # 16 + 16 + 16 + 2: a short last batch
    values, sizes = [], []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        values.append(losses.get(loss).forward(model.forward(xb), xb))
        sizes.append(len(xb))
    expected = float(np.dot(values, sizes) / sum(sizes))
    assert evaluate(model, x, loss=loss, batch_size=batch_size) == pytest.approx(expected, rel=1e-6)
    # the per-pixel mean over everything at once is the same figure
    assert evaluate(model, x, loss=loss, batch_size=1000) == pytest.approx(expected, rel=1e-5)
    assert expected != pytest.approx(float(np.mean(values)), rel=1e-6)   # an unweighted mean would differ


def test_evaluate_with_a_separate_target(shapes_data):
    x, _ = shapes_data
    model = small_model()
    target = np.zeros_like(x[:20])
    expected = float(np.mean(predict(model, x[:20]).astype(np.float64) ** 2))
    assert evaluate(model, x[:20], target, batch_size=7) == pytest.approx(expected, rel=1e-5)


def test_predict_returns_numpy_outputs_of_the_model_shape_in_eval_mode(shapes_data):
    x, _ = shapes_data
    model = layers.Sequential(layers.Flatten(), layers.Dense(784, 16, rng=0), layers.Dropout(0.5, seed=0),
                              layers.Dense(16, 784, rng=1), layers.Reshape((1, 28, 28)), input_shape=(1, 28, 28))
    y = predict(model, x[:37], batch_size=10)
    assert isinstance(y, np.ndarray) and y.shape == (37, 1, 28, 28) and y.dtype == np.float32
    # no dropout in eval mode: the batches agree (to float32 rounding: the BLAS may sum a product of 10 rows
    # in another order than one of 37; a dropout mask would change values by a factor 2 or to 0)
    np.testing.assert_allclose(y, predict(model, x[:37], batch_size=37), rtol=1e-5, atol=1e-6)
    assert model.training                                             # the mode is restored afterwards
