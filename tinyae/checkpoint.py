"""Training checkpoints: everything needed to resume a run exactly where it stopped.

    fit(model, x, epochs=20, checkpoint="run.npz", every=1)     # writes run.npz after each epoch
    fit(model, x, epochs=20, resume="run.npz")                  # after a crash: epochs 4..20

A checkpoint is one .npz file, written atomically (a temporary file in the same folder,
fsync, rename: see ``tinyae.models.write_npz_atomically``), so a run killed while writing
leaves the previous checkpoint intact. It holds

* arrays: the model's parameters and buffers (``model.<path>.<name>``, the names of a model
  file: ``model.encoder.1.W``) and the optimizer's per-parameter state
  (``optimizer.<k>.<name>``: Adam's m and v, momentum buffers);
* one JSON text entry (``__checkpoint__``, UTF-8 bytes in a uint8 array): the format and
  version, the epoch just completed, the model's architecture, the optimizer's type, step
  count, learning rate and hyper-parameters, the state of the shuffling generator and of
  every layer's ``_rng`` generator (Dropout, the corruptions, GaussianSample), keyed by the
  layer's path, the learning-rate schedule's
  epoch, the History, and the arguments of ``fit`` that the order of the batches depends on.

No pickle anywhere: the file is read by ``tinyae.models.read_npz`` (object arrays are
refused unread) and the JSON can only name layer classes of the registry. With the same
data, seed and batch size, a run resumed from epoch k gives parameters equal to the bit
(on the CPU) to those of a run that was never interrupted. Checkpoints of version 1
(tinyae 0.1, flat models) are read too: their architecture and names are upgraded as a
model file's are (tinyae/models/architecture.py).
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import backend, layers, models
from .errors import ModelFileError
from .history import FIELDS as HISTORY_FIELDS
from .history import History
from .models.architecture import comparable, flat_specs, rename_arrays

FORMAT = "tinyae-checkpoint"
VERSION = 2
META_KEY = models.CHECKPOINT_KEY          # "__checkpoint__"
MODEL_PREFIX = "model."
OPTIMIZER_PREFIX = "optimizer."


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` read. ``model`` is the model the state was loaded into
    (the one given, or one rebuilt from the file's architecture)."""

    path: Path
    epoch: int
    model: layers.Sequential
    history: History | None = None
    optimizer: dict | None = None             # {"type", "t", "lr", "hyper", "state": [{name: array}]}
    shuffle_rng: dict | None = None           # bit_generator.state of fit's shuffling generator
    layer_rngs: dict = field(default_factory=dict)   # layer path -> bit_generator.state or None
    schedule: dict | None = None              # {"type", "epoch", "base_lr"}
    fit_args: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)  # the whole JSON entry


# --- generators ------------------------------------------------------------------------


def generator_state(rng) -> dict | None:
    """The JSON-able state of a NumPy Generator; None for None; ``{"unsupported": type}`` for a generator
    whose state cannot be read (CuPy's: on resume a warning says its random numbers will differ)."""
    if rng is None:
        return None
    bit_generator = getattr(rng, "bit_generator", None)
    state = getattr(bit_generator, "state", None) if bit_generator is not None else None
    if not isinstance(state, dict):
        return {"unsupported": f"{type(rng).__module__}.{type(rng).__name__}"}
    return _jsonable(state)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    return value


def set_generator_state(rng, state: dict, what: str, path) -> bool:
    """Put ``state`` into ``rng`` (a NumPy Generator); False (with a warning) where that cannot be done."""
    # CuPy's generators keep their state on the device and cannot serialise it (its docs: "Random
    # states cannot be serialized"); NumPy's expose bit_generator.state as a dict.
    if "unsupported" in state or not isinstance(getattr(getattr(rng, "bit_generator", None), "state", None), dict):
        warnings.warn(f"{path}: the random state of {what} could not be saved or restored on this backend "
                      f"({state.get('unsupported', type(rng).__name__)}); the resumed run draws other random "
                      f"numbers than an uninterrupted one would", stacklevel=3)
        return False
    try:
        rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ModelFileError(f"{path}: the saved random state of {what} cannot be restored ({exc})") from None
    return True


def _check_generator_state(state, what: str, path) -> None:
    """Validate a saved state on a throwaway generator of the same kind, before anything is changed."""
    if state is None:
        return
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}: the saved random state of {what} is not an object")
    if "unsupported" in state:
        return
    kind = state.get("bit_generator")
    if kind not in ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937"):
        raise ModelFileError(f"{path}: the saved random state of {what} names an unknown bit generator {kind!r}")
    try:
        getattr(np.random, kind)().state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{path}: the saved random state of {what} is malformed ({exc})") from None


def _rng_layers(model) -> dict[str, layers.Layer]:
    """The layers that draw random numbers (they have an ``_rng`` attribute), by path ("encoder.4")."""
    return {path: layer for path, layer in layers.leaves(model) if hasattr(layer, "_rng")}


# --- writing ---------------------------------------------------------------------------


def save_checkpoint(path, model, optimizer=None, *, epoch: int, history=None, rng=None, schedule=None,
                    fit_args: dict | None = None) -> Path:
    """Write a checkpoint of a training run to ``path``, atomically; returns ``path``.

    model: the Sequential being trained; optimizer: its Optimizer (state via ``state_dict()``);
    epoch: the number of epochs completed; history: the History so far; rng: fit's shuffling
    Generator (None without shuffling); schedule: the learning-rate Schedule, if any;
    fit_args: the settings the batches depend on (batch_size, seed, shuffle, loss).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {MODEL_PREFIX + name: value for name, value in models.state_arrays(model).items()}
    meta = {"format": FORMAT, "version": VERSION, "epoch": int(epoch),
            "architecture": models.architecture(model), "backend": backend.name}
    if optimizer is not None:
        state = optimizer.state_dict()
        names = {id(p): name for name, p in model.named_parameters().items()}
        for k, entries in enumerate(state["state"]):
            for key, value in entries.items():
                arrays[f"{OPTIMIZER_PREFIX}{k}.{key}"] = backend.to_numpy(value)
        meta["optimizer"] = {"type": type(optimizer).__name__, "t": int(state["t"]), "lr": float(state["lr"]),
                             "params": [names.get(id(p)) for p in optimizer.params],
                             "state_keys": [sorted(entries) for entries in state["state"]],
                             "hyper": _hyper(optimizer)}
    meta["rng"] = {"shuffle": generator_state(rng),
                   "layers": {path: generator_state(layer._rng) for path, layer in _rng_layers(model).items()}}
    meta["schedule"] = None if schedule is None else {
        "type": type(schedule).__name__, "epoch": int(schedule.epoch), "base_lr": float(schedule.base_lr)}
    meta["history"] = None if history is None else history.to_dict()
    meta["fit"] = dict(fit_args or {})
    arrays[META_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    models.write_npz_atomically(path, arrays)
    return path


def _hyper(optimizer) -> dict:
    """The optimizer's scalar settings other than lr (betas, eps, momentum, weight_decay, ...)."""
    return {k: v for k, v in vars(optimizer).items()
            if k not in ("params", "state", "t", "lr") and isinstance(v, (bool, int, float, str))}


# --- reading ---------------------------------------------------------------------------


def load_checkpoint(path, model=None, optimizer=None, schedule=None) -> Checkpoint:
    """Read the checkpoint at ``path``; with ``model`` (and ``optimizer``, ``schedule``) given, load it into them.

    Everything is checked before anything is changed: the file (no pickle, complete,
    well-formed), the architecture against ``model``'s, every parameter's presence and
    shape, the optimizer's type and state. Any fault raises ModelFileError saying which,
    and leaves ``model`` and ``optimizer`` as they were. Without ``model``, the model is
    rebuilt from the file's architecture (``load_checkpoint(path).model``).
    """
    path = Path(path)
    arrays = models.read_npz(path)
    if META_KEY not in arrays:
        if models.ARCH_KEY in arrays:
            raise ModelFileError(f"{path}: this is a model file (tinyae.models.save), not a training checkpoint: "
                                 f"load it with tinyae.models.load; training resumes only from a file written by "
                                 f"fit(checkpoint=...)")
        raise ModelFileError(f"{path}: no checkpoint entry ({META_KEY}); was it written by fit(checkpoint=...)?")
    meta = models.decode_json(arrays.pop(META_KEY), path, "checkpoint")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a tinyae checkpoint (format "
                             f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("version") not in (1, VERSION):
        raise ModelFileError(f"{path}: checkpoint version {meta.get('version')!r}; this tinyae reads versions 1 "
                             f"and {VERSION}")
    epoch = meta.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ModelFileError(f"{path}: the checkpoint's epoch {epoch!r} is not a count of epochs")

    model_arrays, optimizer_arrays, unexpected = {}, {}, []
    for name, value in arrays.items():
        if name.startswith(MODEL_PREFIX):
            model_arrays[name[len(MODEL_PREFIX):]] = value
        elif name.startswith(OPTIMIZER_PREFIX):
            optimizer_arrays[name[len(OPTIMIZER_PREFIX):]] = value
        else:
            unexpected.append(name)
    if unexpected:
        raise ModelFileError(f"{path}: entries a checkpoint does not have: {sorted(unexpected)}")
    arch = meta.get("architecture")
    opt_meta = meta.get("optimizer")
    rng_meta = meta.get("rng") or {}
    if not isinstance(rng_meta, dict):
        raise ModelFileError(f"{path}: the checkpoint's 'rng' entry is not an object")
    layer_states = rng_meta.get("layers") or {}
    if isinstance(arch, dict) and arch.get("version", 1) == 1:      # tinyae 0.1: flat layers, "3.W"
        try:
            arch, rename = models.upgrade_v1(arch)
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        model_arrays = rename_arrays(model_arrays, rename)
        if isinstance(layer_states, dict):
            layer_states = {rename.get(k, k): v for k, v in layer_states.items()}
        if isinstance(opt_meta, dict) and isinstance(opt_meta.get("params"), list):
            opt_meta = {**opt_meta, "params": [next(iter(rename_arrays({n: 0}, rename))) if isinstance(n, str) else n
                                               for n in opt_meta["params"]]}

    # the model the arrays go into: the one given (its architecture must be the file's), or one
    # rebuilt from the file's architecture; either way every array is checked before any is loaded
    if model is not None:
        _check_same_architecture(arch, models.architecture(model), path)
        reference = model
    else:
        try:
            reference = models.from_architecture(arch)
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
    models.check_state_arrays(reference, model_arrays, source=str(path))

    opt_state = _read_optimizer_state(opt_meta, optimizer_arrays, reference, path)
    if optimizer is not None:
        _check_optimizer(opt_state, optimizer, reference, path)

    shuffle_state = rng_meta.get("shuffle")
    _check_generator_state(shuffle_state, "the shuffling generator", path)
    rng_layers = _rng_layers(reference)
    if not isinstance(layer_states, dict) or set(layer_states) != set(rng_layers):
        raise ModelFileError(f"{path}: the checkpoint holds random states for layers "
                             f"{sorted(layer_states) if isinstance(layer_states, dict) else layer_states!r}, "
                             f"the architecture's random layers are {sorted(rng_layers)}")
    for key, state in layer_states.items():
        _check_generator_state(state, rng_layers[key].label, path)

    history = meta.get("history")
    if history is not None:
        if not isinstance(history, dict) or not all(isinstance(history.get(k, []), list) for k in HISTORY_FIELDS):
            raise ModelFileError(f"{path}: the checkpoint's history is malformed")
        history = History.from_dict(history)
    sched = meta.get("schedule")
    if sched is not None and not (isinstance(sched, dict) and isinstance(sched.get("epoch"), int)
                                  and isinstance(sched.get("base_lr"), (int, float))):
        raise ModelFileError(f"{path}: the checkpoint's schedule entry is malformed")
    fit_args = meta.get("fit") if isinstance(meta.get("fit"), dict) else {}

    # --- everything checked: now change the caller's objects ---------------------------------
    models.load_state_arrays(reference, model_arrays, source=str(path))
    specs = dict(flat_specs(arch["model"]))
    for key, layer in rng_layers.items():
        saved_seed = (specs.get(key, {}).get("config") or {}).get("seed")
        if hasattr(layer, "seed") and saved_seed is not None:
            layer.seed = saved_seed
        state = layer_states[key]
        layer._rng = None
        if state is not None:
            rng = backend.default_rng(getattr(layer, "seed", 0))
            if set_generator_state(rng, state, layer.label, path):
                layer._rng = rng
    if optimizer is not None:
        if opt_state["hyper"] != _hyper(optimizer):
            warnings.warn(f"{path}: the checkpoint's {opt_state['type']} settings {opt_state['hyper']} differ from "
                          f"the optimizer's {_hyper(optimizer)}; training goes on with the optimizer's",
                          stacklevel=2)
        optimizer.load_state_dict(opt_state)
    if schedule is not None and sched is not None:
        if sched.get("type") != type(schedule).__name__:
            warnings.warn(f"{path}: the checkpoint was written with a {sched.get('type')} schedule, "
                          f"resuming with a {type(schedule).__name__}", stacklevel=2)
        schedule.epoch, schedule.base_lr = int(sched["epoch"]), float(sched["base_lr"])
    return Checkpoint(path=path, epoch=epoch, model=reference, history=history, optimizer=opt_state,
                      shuffle_rng=shuffle_state, layer_rngs=dict(layer_states),
                      schedule=sched, fit_args=fit_args, meta=meta)


def _describe(spec: dict) -> str:
    config = ", ".join(f"{k}={v}" for k, v in (spec.get("config") or {}).items())
    return f"{spec.get('type')}({config})"


def _input_shape(spec):
    """The input_shape of the first Sequential (in preorder) that declares one."""
    if not isinstance(spec, dict):
        return None
    if spec.get("input_shape") is not None:
        return spec["input_shape"]
    children = [spec.get("encoder"), spec.get("decoder")] + list(spec.get("layers") or []) + list(spec.get("blocks") or [])
    return next((shape for shape in map(_input_shape, children) if shape is not None), None)


def _containers(spec, path: str = "") -> list[tuple[str, str]]:
    """(path, type) of every container of a version-2 ``model`` entry."""
    if not isinstance(spec, dict) or spec.get("type") not in models.CONTAINERS:
        return []
    found = [(path, spec["type"])]
    named = [("encoder", spec.get("encoder")), ("decoder", spec.get("decoder"))] if "encoder" in spec else \
        list(enumerate(spec.get("layers") or spec.get("blocks") or []))
    for name, child in named:
        found += _containers(child, f"{path}.{name}" if path else str(name))
    return found


def _check_same_architecture(saved, current: dict, path) -> None:
    """ModelFileError unless the file's architecture is the model's (a random layer's seed aside)."""
    if not isinstance(saved, dict) or saved.get("format") != models.FORMAT or not isinstance(saved.get("model"), dict):
        raise ModelFileError(f"{path}: the checkpoint's architecture entry is not a tinyae architecture")
    saved, current = json.loads(json.dumps(saved)), json.loads(json.dumps(current))   # tuples -> lists
    fix = (" Resume with the model the checkpoint was written for (load_checkpoint(path).model rebuilds it), "
           "or start a new run without resume=.")
    a, b = flat_specs(saved["model"]), flat_specs(current["model"])
    if len(a) != len(b):
        raise ModelFileError(f"{path}: the checkpoint is for another architecture: it has {len(a)} layers, "
                             f"the model has {len(b)}.{fix}")
    for (path_a, sa), (path_b, sb) in zip(a, b):
        if not isinstance(sa, dict) or path_a != path_b or comparable(sa) != comparable(sb):
            where = "" if path_a == path_b else f" (at {path_a})"
            was = _describe(sa) if isinstance(sa, dict) else repr(sa)
            raise ModelFileError(f"{path}: the checkpoint is for another architecture: layer {path_b} is "
                                 f"{was}{where} in the checkpoint but {_describe(sb)} in the model.{fix}")
    if _containers(saved["model"]) != _containers(current["model"]):
        raise ModelFileError(f"{path}: the checkpoint is for another architecture: its containers are "
                             f"{_containers(saved['model'])}, the model's {_containers(current['model'])}.{fix}")
    if _input_shape(saved["model"]) != _input_shape(current["model"]):
        raise ModelFileError(f"{path}: the checkpoint is for another architecture: input shape "
                             f"{_input_shape(saved['model'])} in the checkpoint, {_input_shape(current['model'])} "
                             f"in the model.{fix}")


def _read_optimizer_state(opt_meta, arrays: dict, model, path) -> dict | None:
    """The optimizer's state_dict() from the JSON entry and the ``optimizer.*`` arrays, checked against ``model``."""
    if opt_meta is None:
        if arrays:
            raise ModelFileError(f"{path}: optimizer arrays {sorted(arrays)} but no optimizer entry")
        return None
    if not isinstance(opt_meta, dict):
        raise ModelFileError(f"{path}: the checkpoint's optimizer entry is not an object")
    names, keys = opt_meta.get("params"), opt_meta.get("state_keys")
    if not (isinstance(names, list) and isinstance(keys, list) and len(names) == len(keys)
            and all(isinstance(k, list) for k in keys)):
        raise ModelFileError(f"{path}: the checkpoint's optimizer entry is malformed")
    if not isinstance(opt_meta.get("t"), int) or not isinstance(opt_meta.get("lr"), (int, float)):
        raise ModelFileError(f"{path}: the optimizer's step count or learning rate is missing")
    params = model.named_parameters()
    expected = {f"{k}.{key}" for k, entry_keys in enumerate(keys) for key in entry_keys}
    missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
    if missing:
        raise ModelFileError(f"{path}: missing optimizer state {[OPTIMIZER_PREFIX + m for m in missing]}")
    if extra:
        raise ModelFileError(f"{path}: optimizer state the checkpoint does not describe: "
                             f"{[OPTIMIZER_PREFIX + e for e in extra]}")
    state = []
    for k, (name, entry_keys) in enumerate(zip(names, keys)):
        entry = {}
        for key in entry_keys:
            value = arrays[f"{k}.{key}"]
            if value.dtype.kind != "f":
                raise ModelFileError(f"{path}: optimizer state {OPTIMIZER_PREFIX}{k}.{key} has dtype {value.dtype}, "
                                     f"expected floating point")
            if name in params and tuple(value.shape) != tuple(params[name].shape):
                raise ModelFileError(f"{path}: optimizer state {OPTIMIZER_PREFIX}{k}.{key} has shape "
                                     f"{tuple(value.shape)}, its parameter {name} has {tuple(params[name].shape)}")
            entry[key] = value
        state.append(entry)
    return {"type": opt_meta.get("type"), "t": opt_meta["t"], "lr": float(opt_meta["lr"]),
            "hyper": opt_meta.get("hyper", {}), "params": names, "state": state}


def _check_optimizer(opt_state, optimizer, model, path) -> None:
    if opt_state is None:
        raise ModelFileError(f"{path}: the checkpoint holds no optimizer state, so training cannot resume exactly")
    if opt_state["type"] != type(optimizer).__name__:
        raise ModelFileError(f"{path}: the checkpoint was written with the {opt_state['type']} optimizer, but "
                             f"resume was given {type(optimizer).__name__}; pass optimizer={opt_state['type']}(...)")
    names = {id(p): name for name, p in model.named_parameters().items()}
    current = [names.get(id(p)) for p in optimizer.params]
    if current != opt_state["params"]:
        raise ModelFileError(f"{path}: the checkpoint's optimizer updates parameters {opt_state['params']}, "
                             f"this optimizer updates {current}")
