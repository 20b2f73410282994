"""Model files: one .npz holding every parameter (each once) and buffer, plus the architecture as JSON.

``save(model, path)`` writes it atomically; ``load(path)`` rebuilds the model. No pickle
anywhere: the archive is read by ``tinyae.models.npz.read_npz`` and the JSON can name only
layer classes of a fixed registry (tinyae/models/architecture.py). Every bad file (not a
zip, truncated, damaged, object arrays, missing/extra/misshapen parameters, unknown
layers) raises ModelFileError with its own message. Files written by tinyae 0.1 (flat
models, architecture version 1) still load.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import backend
from ..errors import ModelFileError
from ..layers import leaves
from .architecture import architecture, from_architecture, join, rename_arrays, upgrade_v1
from .npz import decode_json, read_npz, write_npz_atomically

ARCH_KEY = "__architecture__"
CHECKPOINT_KEY = "__checkpoint__"      # the JSON entry of a training checkpoint (tinyae.checkpoint)


def state_arrays(model) -> dict[str, np.ndarray]:
    """Every parameter (each once) and buffer as NumPy arrays, keyed by path: "encoder.1.W", "3.running_var"."""
    arrays = {name: backend.to_numpy(p.data) for name, p in model.named_parameters().items()}
    for path, layer in leaves(model):
        for name, buf in layer.buffers.items():
            arrays[join(path, name)] = backend.to_numpy(buf)
    return arrays


def _state_targets(model) -> dict:
    """name -> (Parameter, "param") or ((layer, buffer name), "buffer"), the names of ``state_arrays``."""
    targets = {name: (p, "param") for name, p in model.named_parameters().items()}
    for path, layer in leaves(model):
        for name in layer.buffers:
            targets[join(path, name)] = ((layer, name), "buffer")
    return targets


def check_state_arrays(model, arrays: dict, source: str = "the file") -> None:
    """ModelFileError unless ``arrays`` has exactly the model's parameters and buffers, with their shapes,
    in floating point. Changes nothing."""
    targets = _state_targets(model)
    missing = sorted(set(targets) - set(arrays))
    extra = sorted(set(arrays) - set(targets))
    if missing:
        raise ModelFileError(f"{source}: missing parameters {missing}")
    if extra:
        raise ModelFileError(f"{source}: parameters the architecture does not have: {extra}")
    for name, (target, kind) in targets.items():
        value = arrays[name]
        current = target.data if kind == "param" else target[0].buffers[target[1]]
        if tuple(value.shape) != tuple(current.shape):
            raise ModelFileError(f"{source}: parameter {name} has shape {tuple(value.shape)}, "
                                 f"the architecture needs {tuple(current.shape)}")
        if value.dtype.kind != "f":
            raise ModelFileError(f"{source}: parameter {name} has dtype {value.dtype}, expected floating point")


def load_state_arrays(model, arrays: dict, source: str = "the file") -> None:
    """Copy ``arrays`` into the model's parameters and buffers; everything is checked first
    (``check_state_arrays``), so on error the model is unchanged."""
    check_state_arrays(model, arrays, source)
    for name, (target, kind) in _state_targets(model).items():
        current = target.data if kind == "param" else target[0].buffers[target[1]]
        on_backend = backend.asarray(arrays[name], dtype=current.dtype)
        if kind == "param":
            target.data = on_backend
            target.grad = backend.xp.zeros_like(on_backend)
        else:
            target[0].buffers[target[1]] = on_backend


def save(model, path) -> Path:
    """Write ``model`` to ``path`` (.npz): parameters, buffers and the architecture as JSON.

    The file is written to a temporary name in the same folder and renamed, so an
    interrupted save never leaves a half-written file under ``path``.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = state_arrays(model)
    arrays[ARCH_KEY] = np.frombuffer(json.dumps(architecture(model)).encode("utf-8"), dtype=np.uint8)
    write_npz_atomically(path, arrays)
    return path


def read_architecture(arch, arrays: dict, path) -> tuple[dict, dict]:
    """A file's architecture as version 2 and its arrays under version-2 names (a version-1 file upgraded)."""
    if isinstance(arch, dict) and arch.get("version", 1) == 1:
        try:
            arch, rename = upgrade_v1(arch)
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        arrays = rename_arrays(arrays, rename)
    return arch, arrays


def load(path):
    """Rebuild the model saved at ``path`` by ``save`` (an Autoencoder for every zoo model)."""
    arrays = read_npz(path)
    if ARCH_KEY not in arrays:
        if CHECKPOINT_KEY in arrays:
            raise ModelFileError(f"{path}: this is a training checkpoint, not a model file: "
                                 f"tinyae.checkpoint.load_checkpoint(path).model rebuilds its model")
        raise ModelFileError(f"{path}: no architecture entry ({ARCH_KEY}); was it written by tinyae.models.save?")
    arch = decode_json(arrays.pop(ARCH_KEY), path, "architecture")
    try:
        if not isinstance(arch, dict):
            raise ModelFileError("not a tinyae architecture (format None)")
        arch, arrays = read_architecture(arch, arrays, path)
        model = from_architecture(arch)
    except ModelFileError as exc:
        message = str(exc)
        raise ModelFileError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    load_state_arrays(model, arrays, source=str(path))
    return model
