"""The model zoo and model files.

``build(name, seed=0)`` makes a seed model by name; ``save(model, path)`` writes one
.npz file holding every parameter and buffer plus the architecture as JSON text;
``load(path)`` rebuilds the model from it. No pickle anywhere: files are read with
``allow_pickle=False``, and the JSON names only layer classes from a fixed registry.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from . import backend, init, layers
from .errors import ModelFileError

FORMAT = "tinyae-model"
VERSION = 1
ARCH_KEY = "__architecture__"

# --- the zoo -------------------------------------------------------------------------


def dense(seed: int = 0) -> layers.Sequential:
    """784 → 256 (ReLU) → 784 (sigmoid): the dense autoencoder of the first tutorial."""
    rng = init.generator(seed)
    return layers.Sequential(
        layers.Flatten(),
        layers.Dense(784, 256, init_name="he_uniform", rng=rng), layers.ReLU(),
        layers.Dense(256, 784, rng=rng), layers.Sigmoid(),
        layers.Reshape((1, 28, 28)),
        input_shape=(1, 28, 28))


def deep(seed: int = 0) -> layers.Sequential:
    """784 → 128 → 32 → 128 → 784: ReLU inside, sigmoid output."""
    rng = init.generator(seed)
    return layers.Sequential(
        layers.Flatten(),
        layers.Dense(784, 128, init_name="he_uniform", rng=rng), layers.ReLU(),
        layers.Dense(128, 32, init_name="he_uniform", rng=rng), layers.ReLU(),
        layers.Dense(32, 128, init_name="he_uniform", rng=rng), layers.ReLU(),
        layers.Dense(128, 784, rng=rng), layers.Sigmoid(),
        layers.Reshape((1, 28, 28)),
        input_shape=(1, 28, 28))


def linear512(seed: int = 0) -> layers.Sequential:
    """784 → 512 (ReLU) → 784 with a linear output (no sigmoid)."""
    rng = init.generator(seed)
    return layers.Sequential(
        layers.Flatten(),
        layers.Dense(784, 512, init_name="he_uniform", rng=rng), layers.ReLU(),
        layers.Dense(512, 784, rng=rng),
        layers.Reshape((1, 28, 28)),
        input_shape=(1, 28, 28))


ZOO = {"dense": dense, "deep": deep, "linear512": linear512}


def build(name: str, seed: int = 0) -> layers.Sequential:
    """A seed model by name (see ``ZOO``), its weights drawn from ``seed``."""
    try:
        make = ZOO[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(sorted(ZOO))}") from None
    model = make(seed=seed)
    model.name = name
    return model


# --- architecture as JSON --------------------------------------------------------------


def layer_registry() -> dict[str, type]:
    """Layer class name -> class, for every layer a model file may name."""
    return {name: getattr(layers, name) for name in layers.__all__
            if isinstance(getattr(layers, name), type) and name not in ("Layer", "Sequential")}


def architecture(model: layers.Sequential) -> dict:
    """The JSON-able description from which ``from_architecture`` rebuilds ``model``."""
    specs = []
    for layer in model.layers:
        spec = {"type": type(layer).__name__, "config": layer.config()}
        if isinstance(layer, layers.DenseTied):
            spec["config"]["encoder"] = model.layers.index(layer.encoder)
        specs.append(spec)
    return {"format": FORMAT, "version": VERSION, "name": getattr(model, "name", None),
            "input_shape": list(model.input_shape) if model.input_shape else None, "layers": specs}


def from_architecture(arch: dict) -> layers.Sequential:
    """Build the model an ``architecture()`` dict describes (weights freshly initialised)."""
    if not isinstance(arch, dict) or arch.get("format") != FORMAT:
        raise ModelFileError(f"not a tinyae architecture (format {arch.get('format') if isinstance(arch, dict) else None!r})")
    registry = layer_registry()
    built = []
    for i, spec in enumerate(arch.get("layers", [])):
        kind = spec.get("type")
        if kind not in registry:
            raise ModelFileError(f"layer {i}: unknown layer type {kind!r}; known types: {', '.join(sorted(registry))}")
        config = dict(spec.get("config", {}))
        try:
            if kind == "DenseTied":
                encoder = built[config.pop("encoder")]
                built.append(layers.DenseTied(encoder, **config))
            else:
                built.append(registry[kind](**config))
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise ModelFileError(f"layer {i} ({kind}): bad configuration {spec.get('config')}: {exc}") from None
    model = layers.Sequential(*built, input_shape=arch.get("input_shape"))
    model.name = arch.get("name")
    return model


# --- files -------------------------------------------------------------------------------


def state_arrays(model: layers.Sequential) -> dict[str, np.ndarray]:
    """Every parameter (each once) and buffer as NumPy arrays, keyed "3.W", "5.running_var"."""
    arrays = {name: backend.to_numpy(p.data) for name, p in model.named_parameters().items()}
    for i, layer in enumerate(model.layers):
        for name, buf in layer.buffers.items():
            arrays[f"{i}.{name}"] = backend.to_numpy(buf)
    return arrays


def load_state_arrays(model: layers.Sequential, arrays: dict, source: str = "the file") -> None:
    """Copy ``arrays`` into the model's parameters and buffers, checking names and shapes."""
    targets = {name: (p, "param") for name, p in model.named_parameters().items()}
    for i, layer in enumerate(model.layers):
        for name in layer.buffers:
            targets[f"{i}.{name}"] = ((layer, name), "buffer")
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
        on_backend = backend.asarray(value, dtype=current.dtype)
        if kind == "param":
            target.data = on_backend
            target.grad = backend.xp.zeros_like(on_backend)
        else:
            target[0].buffers[target[1]] = on_backend


def save(model: layers.Sequential, path) -> Path:
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


def write_npz_atomically(path: Path, arrays: dict) -> None:
    """np.savez to a temporary file beside ``path``, fsync, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_npz(path) -> dict[str, np.ndarray]:
    """All arrays of an .npz file, read with allow_pickle=False; ModelFileError if unreadable."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except ValueError as exc:   # object arrays need pickle, which is refused
        raise ModelFileError(f"{path}: holds object arrays, which would need pickle to load; refused ({exc})") from None
    except Exception as exc:    # not a zip, truncated, bad CRC, bad header
        raise ModelFileError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None


def load(path) -> layers.Sequential:
    """Rebuild the model saved at ``path`` by ``save``."""
    arrays = read_npz(path)
    if ARCH_KEY not in arrays:
        raise ModelFileError(f"{path}: no architecture entry ({ARCH_KEY}); was it written by tinyae.models.save?")
    try:
        arch = json.loads(arrays.pop(ARCH_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: the architecture entry is not valid JSON ({exc})") from None
    model = from_architecture(arch)
    load_state_arrays(model, arrays, source=str(path))
    return model
