"""Checkpoints (tinyae.checkpoint, fit(checkpoint=..., every=..., resume=...)).

What is proved here:

* a run stopped after epoch 3 and resumed to epoch 6 ends with parameters equal TO THE
  BIT to those of an uninterrupted 6-epoch run (CPU), with Dropout in the model (so the
  layers' random state matters), shuffling, a learning-rate schedule, and Adam / SGD with
  momentum / RMSprop (so the optimizer's state matters); the History continues too;
* checkpoints are written every k epochs and after the last, atomically: at the moment of
  the rename the final name still holds the previous checkpoint, and a real training
  process killed with SIGKILL in the middle of writing one leaves the previous checkpoint
  loadable and no half-written file under the final name;
* resuming into the wrong model, with the wrong optimizer, or from a model file fails with
  a ModelFileError that says so, and leaves the model untouched.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinyae import checkpoint, layers, models, optim
from tinyae.errors import ModelFileError, NumericalError
from tinyae.train import fit

REPO = Path(__file__).resolve().parent.parent


def data(n=96, d=20, seed=0):
    return np.random.default_rng(seed).random((n, d), dtype=np.float32)


def net(seed=0):
    """20 → 16 (ReLU) → Dropout(0.3) → 20 (sigmoid): small, and random in train mode."""
    return layers.Sequential(layers.Dense(20, 16, init_name="he_uniform", rng=seed), layers.ReLU(),
                             layers.Dropout(0.3, seed=11), layers.Dense(16, 20, rng=seed + 1), layers.Sigmoid(),
                             input_shape=(20,))


OPTIMIZERS = {
    "adam": lambda ps: optim.Adam(ps, lr=1e-2),
    "sgd-momentum": lambda ps: optim.SGD(ps, lr=0.5, momentum=0.9, nesterov=True),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=1e-3, momentum=0.5, centered=True),
}


def run(epochs, opt="adam", seed=0, **kwargs):
    """A fresh model and optimizer (weights from ``seed``) trained by fit; returns (model, optimizer, history)."""
    model = net(seed)
    optimizer = OPTIMIZERS[opt](model.parameters())
    schedule = optim.StepLR(optimizer, step_size=2, gamma=0.5)
    x = data()
    history = fit(model, x, epochs=epochs, batch_size=16, optimizer=optimizer, schedule=schedule, verbose=0,
                  validation_data=x[:24], seed=3, **kwargs)
    return model, optimizer, history


def params_of(model):
    return {name: p.data.copy() for name, p in model.named_parameters().items()}


def assert_bitwise_equal(a: dict, b: dict):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype
        assert np.array_equal(a[name].view(np.uint32), b[name].view(np.uint32)), f"{name} differs"


# --- resume gives the uninterrupted run, to the bit ---------------------------------------------

@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_stopped_after_3_epochs_and_resumed_to_6_equals_uninterrupted_run_to_the_bit(tmp_path, opt):
    straight, straight_opt, straight_history = run(6, opt)
    path = tmp_path / "run.npz"
    run(3, opt, checkpoint=path)
    # a new process would build the model afresh: other initial weights, an untouched Dropout generator
    resumed, resumed_opt, resumed_history = run(6, opt, seed=99, resume=path)
    assert_bitwise_equal(params_of(resumed), params_of(straight))
    assert resumed_opt.t == straight_opt.t and resumed_opt.lr == straight_opt.lr
    for a, b in zip(resumed_opt.state, straight_opt.state):
        assert_bitwise_equal(a, b)
    assert resumed_history.epochs == [1, 2, 3, 4, 5, 6]
    assert resumed_history.loss == straight_history.loss
    assert resumed_history.val_loss == straight_history.val_loss
    assert resumed_history.lr == straight_history.lr


def noisy_bn_net(seed=0):
    """GaussianNoise (a random layer) → Dense → BatchNorm1d (buffers) → ReLU → Dense → Sigmoid."""
    return layers.Sequential(layers.GaussianNoise(0.1, seed=2), layers.Dense(20, 16, rng=seed),
                             layers.BatchNorm1d(16), layers.ReLU(), layers.Dense(16, 20, rng=seed + 1),
                             layers.Sigmoid(), input_shape=(20,))


def test_resume_is_exact_with_batchnorm_buffers_and_gaussian_noise(tmp_path):
    x = data()

    def train(model, epochs, **kwargs):
        fit(model, x, epochs=epochs, batch_size=16, seed=3, verbose=0,
            optimizer=optim.AdamW(model.parameters(), lr=1e-2), **kwargs)
        return model

    straight = train(noisy_bn_net(), 5)
    train(noisy_bn_net(), 2, checkpoint=tmp_path / "run.npz")
    resumed = train(noisy_bn_net(seed=9), 5, resume=tmp_path / "run.npz")
    assert_bitwise_equal(params_of(resumed), params_of(straight))
    for name in ("running_mean", "running_var"):
        assert np.array_equal(resumed[2].buffers[name], straight[2].buffers[name])


def test_the_dropout_state_is_what_makes_resume_exact(tmp_path):
    """Control: resuming with the Dropout generator reset to its seed gives other parameters."""
    straight, _, _ = run(6)
    path = tmp_path / "run.npz"
    run(3, checkpoint=path)
    meta = checkpoint.load_checkpoint(path).meta
    assert meta["rng"]["layers"]["2"]["bit_generator"] == "PCG64"
    arrays = models.read_npz(path)
    meta["rng"]["layers"]["2"] = None                      # as if the layer's random state were not saved
    arrays[checkpoint.META_KEY] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "no_rng.npz", **arrays)
    resumed, _, _ = run(6, resume=tmp_path / "no_rng.npz")
    assert not np.array_equal(resumed[0].W.data, straight[0].W.data)


def test_resume_from_an_every_2_checkpoint_of_a_longer_run(tmp_path):
    """A 5-epoch run with every=2 writes after epochs 2, 4 and 5; the epoch-4 file resumes to the same end."""
    path = tmp_path / "run.npz"
    written = []
    real_save = checkpoint.save_checkpoint

    def spy(*args, **kwargs):
        written.append(kwargs["epoch"])
        if kwargs["epoch"] == 4:
            real_save(tmp_path / "epoch4.npz", *args[1:], **kwargs)
        return real_save(*args, **kwargs)

    checkpoint.save_checkpoint = spy
    try:
        straight, _, history = run(5, checkpoint=path, every=2)
    finally:
        checkpoint.save_checkpoint = real_save
    assert written == [2, 4, 5]
    assert checkpoint.load_checkpoint(path).epoch == 5
    assert checkpoint.load_checkpoint(path).history.loss == history.loss
    resumed, _, _ = run(5, seed=7, resume=tmp_path / "epoch4.npz")
    assert_bitwise_equal(params_of(resumed), params_of(straight))


def test_resume_and_checkpoint_may_be_the_same_file(tmp_path):
    path = tmp_path / "run.npz"
    straight, _, _ = run(4)
    run(2, checkpoint=path)
    resumed, _, history = run(4, seed=5, checkpoint=path, resume=path)
    assert_bitwise_equal(params_of(resumed), params_of(straight))
    assert checkpoint.load_checkpoint(path).epoch == 4 and history.epochs == [1, 2, 3, 4]


def test_a_checkpoint_holds_everything_as_arrays_and_json_only(tmp_path):
    path = tmp_path / "run.npz"
    model, optimizer, history = run(2, checkpoint=path)
    with np.load(path, allow_pickle=False) as f:           # no entry needs pickle
        names = set(f.files)
        assert all(f[n].dtype != object for n in names)
    assert names == ({f"model.{n}" for n in model.named_parameters()}
                     | {f"optimizer.{k}.{key}" for k in range(4) for key in ("m_sum", "v_sum")}
                     | {checkpoint.META_KEY})
    ck = checkpoint.load_checkpoint(path)
    assert ck.epoch == 2 and ck.meta["format"] == "tinyae-checkpoint" and ck.meta["version"] == checkpoint.VERSION == 2
    assert ck.optimizer["type"] == "Adam" and ck.optimizer["t"] == optimizer.t == 12
    assert ck.schedule == {"type": "StepLR", "epoch": 2, "base_lr": 1e-2}
    assert ck.fit_args == {"batch_size": 16, "shuffle": True, "seed": 3, "loss": "MSE", "samples": 96}
    assert ck.history.to_dict() == history.to_dict()
    assert_bitwise_equal(params_of(ck.model), params_of(model))     # the model rebuilt from the file
    assert ck.model[2]._rng.bit_generator.state == model[2]._rng.bit_generator.state


def test_a_failed_run_keeps_the_last_checkpoint_and_it_resumes(tmp_path):
    """NaN appears in epoch 3: the epoch-2 checkpoint is still there, and resuming from it works."""
    path = tmp_path / "run.npz"
    x = data()
    row = x[50].copy()

    def poison(epoch, history):
        if epoch == 2:
            x[50] = np.nan            # after the check before training: found by the loss in epoch 3

    model = net()
    with pytest.raises(NumericalError, match=r"loss became nan at epoch 3, batch \d+ \(of 6\): the input batch"):
        fit(model, x, epochs=4, batch_size=16, verbose=0, seed=3, checkpoint=path, callbacks=[poison])
    assert checkpoint.load_checkpoint(path).epoch == 2
    x[50] = row
    resumed = net(seed=8)
    fit(resumed, x, epochs=4, batch_size=16, verbose=0, seed=3, resume=path)
    straight = net()
    fit(straight, x, epochs=4, batch_size=16, verbose=0, seed=3)
    assert_bitwise_equal(params_of(resumed), params_of(straight))


# --- atomic writes, and a real crash while writing -------------------------------------------------

def test_at_the_rename_the_final_name_still_holds_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        src, dst = Path(src), Path(dst)
        assert src.parent == dst.parent == tmp_path and src.name.startswith(".run.npz.") and src.suffix == ".tmp"
        seen.append((checkpoint.load_checkpoint(dst).epoch if dst.exists() else None,
                     checkpoint.load_checkpoint(src).epoch))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    run(3, checkpoint=path)
    assert seen == [(None, 1), (1, 2), (2, 3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]


CHILD = r"""
import io, os, sys, time
import numpy as np
sys.path.insert(0, os.environ["TINYAE_REPO"])
from tinyae import layers, optim
from tinyae.train import fit

real_savez = np.savez
calls = 0

def savez_that_stalls(file, *args, **kwds):
    # the 2nd checkpoint: write half of its bytes to the temporary file, say so, and hang
    global calls
    calls += 1
    if calls < 2:
        return real_savez(file, *args, **kwds)
    buffer = io.BytesIO()
    real_savez(buffer, *args, **kwds)
    data = buffer.getvalue()
    file.write(data[: len(data) // 2])
    file.flush()
    os.fsync(file.fileno())
    print("HALF-WRITTEN", file.name, flush=True)
    time.sleep(120)

np.savez = savez_that_stalls
model = layers.Sequential(layers.Dense(20, 16, init_name="he_uniform", rng=0), layers.ReLU(),
                          layers.Dropout(0.3, seed=11), layers.Dense(16, 20, rng=1), layers.Sigmoid(),
                          input_shape=(20,))
x = np.random.default_rng(0).random((96, 20), dtype=np.float32)
fit(model, x, epochs=5, batch_size=16, optimizer=optim.Adam(model.parameters(), lr=1e-2), verbose=0, seed=3,
    checkpoint=sys.argv[1], every=1)
print("FINISHED", flush=True)
"""


def read_line(proc, deadline: float) -> str:
    """One line of the child's stdout, or "" when the deadline passes first."""
    line = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, min(0.5, deadline - time.monotonic())))
        if ready:
            char = os.read(proc.stdout.fileno(), 1)
            if not char:
                break
            line += char
            if char == b"\n":
                return line.decode()
        elif proc.poll() is not None:
            break
    return line.decode()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL") or sys.platform == "win32", reason="needs SIGKILL and select on pipes")
def test_process_killed_while_writing_a_checkpoint_leaves_the_previous_one_loadable(tmp_path):
    path = tmp_path / "run.npz"
    env = {**os.environ, "TINYAE_REPO": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        line = read_line(proc, time.monotonic() + 60)
        if not line.startswith("HALF-WRITTEN"):
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"the child never reached the middle of its 2nd checkpoint: {line!r} {err.decode()[-2000:]}")
        tmp_file = Path(line.split(" ", 1)[1].strip())
        proc.send_signal(signal.SIGKILL)                    # no cleanup handler can run
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()

    # the half-written temporary file is there, beside the final name, and is refused
    assert tmp_file.parent == tmp_path and tmp_file.name.startswith(".run.npz.") and tmp_file.exists()
    with pytest.raises(ModelFileError, match="not a readable .npz file"):
        checkpoint.load_checkpoint(tmp_file)
    # under the final name: the complete checkpoint of epoch 1
    ck = checkpoint.load_checkpoint(path)
    assert ck.epoch == 1 and ck.history.epochs == [1]
    assert path.stat().st_size > tmp_file.stat().st_size
    # ... and resuming from it gives the uninterrupted run, to the bit
    model = net(seed=42)
    x = data()
    fit(model, x, epochs=3, batch_size=16, optimizer=optim.Adam(model.parameters(), lr=1e-2), verbose=0, seed=3,
        resume=path)
    straight = net()
    fit(straight, x, epochs=3, batch_size=16, optimizer=optim.Adam(straight.parameters(), lr=1e-2), verbose=0,
        seed=3)
    assert_bitwise_equal(params_of(model), params_of(straight))


# --- resuming into the wrong thing ---------------------------------------------------------------

@pytest.fixture
def saved_run(tmp_path):
    path = tmp_path / "run.npz"
    run(2, checkpoint=path)
    return path


def test_resume_into_another_architecture_names_the_layer_and_leaves_the_model_untouched(saved_run):
    other = layers.Sequential(layers.Dense(20, 8, rng=0), layers.ReLU(), layers.Dropout(0.3, seed=11),
                              layers.Dense(8, 20, rng=1), layers.Sigmoid(), input_shape=(20,))
    before = params_of(other)
    with pytest.raises(ModelFileError, match=r"checkpoint is for another architecture: layer 0 is "
                                             r"Dense\(in_features=20, out_features=16.*in the checkpoint but "
                                             r"Dense\(in_features=20, out_features=8.*load_checkpoint\(path\).model"):
        fit(other, data(), epochs=4, verbose=0, resume=saved_run)
    assert_bitwise_equal(params_of(other), before)


def test_resume_into_a_model_with_another_number_of_layers(saved_run):
    other = layers.Sequential(layers.Dense(20, 20, rng=0), layers.Sigmoid(), input_shape=(20,))
    with pytest.raises(ModelFileError, match="it has 5 layers, the model has 2"):
        fit(other, data(), epochs=4, verbose=0, resume=saved_run)


def test_resume_with_another_optimizer_type_says_which_to_pass(saved_run):
    model = net()
    with pytest.raises(ModelFileError, match=r"written with the Adam optimizer, but resume was given SGD; "
                                             r"pass optimizer=Adam\(...\)"):
        fit(model, data(), epochs=4, verbose=0, optimizer=optim.SGD(model.parameters()), resume=saved_run)


def test_a_dropout_seed_that_differs_does_not_block_resume(saved_run):
    """Dropout's seed is in its config, but its generator's state is restored from the file anyway."""
    model = net()
    model.layers[2].seed = 12345
    fit(model, data(), epochs=3, batch_size=16, verbose=0, seed=3, resume=saved_run)
    assert model.layers[2].seed == 11


def test_resume_from_a_model_file_says_to_use_models_load(tmp_path):
    path = models.save(net(), tmp_path / "model.npz")
    with pytest.raises(ModelFileError, match=r"model file \(tinyae.models.save\), not a training checkpoint"):
        fit(net(), data(), epochs=2, verbose=0, resume=path)


def test_models_load_of_a_checkpoint_says_how_to_get_its_model(saved_run):
    with pytest.raises(ModelFileError, match=r"training checkpoint, not a model file: "
                                             r"tinyae.checkpoint.load_checkpoint\(path\).model"):
        models.load(saved_run)


def test_resume_from_a_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        fit(net(), data(), epochs=2, verbose=0, resume=tmp_path / "none.npz")


def test_resume_with_another_batch_size_warns_that_the_run_will_differ(saved_run):
    with pytest.warns(UserWarning, match=r"batch_size 16 -> 32.*will not match an uninterrupted one"):
        fit(net(), data(), epochs=3, batch_size=32, seed=3, verbose=0, resume=saved_run)


def test_resume_of_a_finished_run_trains_nothing(saved_run):
    model = net(seed=5)
    with pytest.warns(UserWarning, match="already completed 2 epochs"):
        history = fit(model, data(), epochs=2, batch_size=16, seed=3, verbose=0, resume=saved_run)
    assert history.epochs == [1, 2]
    assert_bitwise_equal(params_of(model), params_of(checkpoint.load_checkpoint(saved_run).model))


def test_every_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="every must be a positive number of epochs"):
        fit(net(), data(), epochs=1, verbose=0, checkpoint="x.npz", every=0)


def test_a_generator_whose_state_cannot_be_saved_is_marked_and_resume_warns(tmp_path):
    """CuPy's generators cannot serialise their state: the checkpoint says so, and resuming warns."""

    class DeviceGenerator:                       # like cupy.random.Generator: no bit_generator.state dict
        def random(self, shape, dtype):
            return np.random.default_rng(0).random(shape, dtype=dtype)

    path = tmp_path / "run.npz"
    model = net()
    model.layers[2]._rng = DeviceGenerator()
    fit(model, data(), epochs=1, batch_size=16, verbose=0, checkpoint=path)
    with pytest.warns(UserWarning, match="could not be saved or restored"):
        assert checkpoint.load_checkpoint(path).layer_rngs == {"2": {"unsupported": f"{__name__}.DeviceGenerator"}}
    with pytest.warns(UserWarning, match=r"random state of layer 2 \(Dropout\) could not be saved or restored"):
        fit(net(), data(), epochs=2, batch_size=16, verbose=0, resume=path)


class Scale(layers.Layer):
    """A user's own layer (not in tinyae's registry): y = x · s, one parameter s of shape (1,)."""

    def __init__(self):
        super().__init__()
        self.add_param("s", np.ones((1,), np.float32))
        self._x = None

    def forward(self, x):
        self._x = x
        self.s.start_pass()
        return x * self.s.data

    def backward(self, dy):
        self.s.accumulate((dy * self._x).sum(keepdims=True).reshape(1))
        return dy * self.s.data


def test_a_model_with_a_layer_of_its_own_can_checkpoint_and_resume(tmp_path):
    def custom(seed=0):
        return layers.Sequential(layers.Dense(20, 20, rng=seed), Scale(), layers.Sigmoid(), input_shape=(20,))

    x = data()
    straight = custom()
    fit(straight, x, epochs=4, batch_size=16, verbose=0)
    fit(custom(), x, epochs=2, batch_size=16, verbose=0, checkpoint=tmp_path / "run.npz")
    resumed = custom(seed=3)
    fit(resumed, x, epochs=4, batch_size=16, verbose=0, resume=tmp_path / "run.npz")
    assert_bitwise_equal(params_of(resumed), params_of(straight))
    # without the model, the file alone cannot be rebuilt: tinyae does not know the layer
    with pytest.raises(ModelFileError, match=r"layer 1: unknown layer type 'Scale'; known types"):
        checkpoint.load_checkpoint(tmp_path / "run.npz")
