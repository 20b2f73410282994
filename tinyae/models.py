"""The model zoo and model files.

``build(name, seed=0)`` makes a seed model by name; ``save(model, path)`` writes one
.npz file holding every parameter and buffer plus the architecture as JSON text;
``load(path)`` rebuilds the model from it. No pickle anywhere: ``read_npz`` reads the
archive with ``zipfile`` and inspects each .npy header first, refusing object arrays
unread, and the JSON names only layer classes from a fixed registry. Every bad file
(not a zip, truncated, damaged, object arrays, missing/extra/misshapen parameters,
unknown layers) raises ModelFileError with its own message.
"""
from __future__ import annotations

import json
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from . import atomic, backend, init, layers
from .errors import ModelFileError

FORMAT = "tinyae-model"
VERSION = 1
ARCH_KEY = "__architecture__"
CHECKPOINT_KEY = "__checkpoint__"      # the JSON entry of a training checkpoint (tinyae.checkpoint)

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


def conv(seed: int = 0, channels: int = 1) -> layers.Sequential:
    """The two-stage convolutional autoencoder, sized so that 28×28 comes back as 28×28.

    Conv(C→32, 3, pad 1) + ReLU + MaxPool 2     28 → 28 → 14
    Conv(32→64, 3, pad 1) + ReLU + MaxPool 2    14 → 14 → 7
    ConvTranspose(64→32, 3, stride 2, pad 1, output_padding 1) + ReLU       7 → 14
    ConvTranspose(32→C, 3, stride 2, pad 1, output_padding 1) + Sigmoid     14 → 28
    (ConvTranspose output: (7 − 1)·2 − 2·1 + 3 + 1 = 14, and (14 − 1)·2 − 2 + 3 + 1 = 28.)
    """
    rng = init.generator(seed)
    return layers.Sequential(
        layers.Conv2d(channels, 32, 3, padding=1, rng=rng), layers.ReLU(), layers.MaxPool2d(2),
        layers.Conv2d(32, 64, 3, padding=1, rng=rng), layers.ReLU(), layers.MaxPool2d(2),
        layers.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1, rng=rng), layers.ReLU(),
        layers.ConvTranspose2d(32, channels, 3, stride=2, padding=1, output_padding=1,
                               init_name="glorot_uniform", rng=rng), layers.Sigmoid(),
        input_shape=(channels, 28, 28))


def conv_rgb(seed: int = 0) -> layers.Sequential:
    """``conv`` for RGB images (3 channels in and out), e.g. the built-in RGB shapes."""
    return conv(seed=seed, channels=3)


ZOO = {"dense": dense, "deep": deep, "linear512": linear512, "conv": conv, "conv_rgb": conv_rgb}


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
    """Build the model an ``architecture()`` dict describes (weights freshly initialised).

    The dict comes from a file, so nothing in it is trusted: layer types are looked up
    in ``layer_registry()`` (never imported or evaluated by name), configurations are
    passed as keyword arguments, and every malformed part raises ModelFileError.
    """
    if not isinstance(arch, dict) or arch.get("format") != FORMAT:
        raise ModelFileError(f"not a tinyae architecture (format {arch.get('format') if isinstance(arch, dict) else None!r})")
    specs = arch.get("layers", [])
    if not isinstance(specs, list):
        raise ModelFileError(f"the architecture's 'layers' entry is a {type(specs).__name__}, not a list")
    registry = layer_registry()
    built = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise ModelFileError(f"layer {i}: expected an object with 'type' and 'config', got a {type(spec).__name__}")
        kind = spec.get("type")
        if not isinstance(kind, str) or kind not in registry:
            raise ModelFileError(f"layer {i}: unknown layer type {kind!r}; known types: {', '.join(sorted(registry))}")
        config = spec.get("config", {})
        if not isinstance(config, dict):
            raise ModelFileError(f"layer {i} ({kind}): bad configuration {config!r}: expected an object of arguments")
        config = dict(config)
        try:
            if kind == "DenseTied":
                encoder = config.pop("encoder", None)
                if isinstance(encoder, bool) or not isinstance(encoder, int) or not 0 <= encoder < len(built):
                    raise ValueError(f"'encoder' must be the index of an earlier layer, got {encoder!r}")
                built.append(layers.DenseTied(built[encoder], **config))
            else:
                built.append(registry[kind](**config))
        except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
            raise ModelFileError(f"layer {i} ({kind}): bad configuration {spec.get('config')}: {exc}") from None
    input_shape = arch.get("input_shape")
    if input_shape is not None and (not isinstance(input_shape, list) or
                                    not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                                            for s in input_shape)):
        raise ModelFileError(f"the architecture's input_shape {input_shape!r} is not a list of positive sizes")
    try:
        model = layers.Sequential(*built, input_shape=input_shape)
    except ValueError as exc:        # ShapeError: the layers do not fit together
        raise ModelFileError(f"the architecture is inconsistent: {exc}") from None
    name = arch.get("name")
    model.name = name if isinstance(name, str) else None
    return model


# --- files -------------------------------------------------------------------------------


def state_arrays(model: layers.Sequential) -> dict[str, np.ndarray]:
    """Every parameter (each once) and buffer as NumPy arrays, keyed "3.W", "5.running_var"."""
    arrays = {name: backend.to_numpy(p.data) for name, p in model.named_parameters().items()}
    for i, layer in enumerate(model.layers):
        for name, buf in layer.buffers.items():
            arrays[f"{i}.{name}"] = backend.to_numpy(buf)
    return arrays


def _state_targets(model: layers.Sequential) -> dict:
    """name -> (Parameter, "param") or ((layer, buffer name), "buffer"), the names of ``state_arrays``."""
    targets = {name: (p, "param") for name, p in model.named_parameters().items()}
    for i, layer in enumerate(model.layers):
        for name in layer.buffers:
            targets[f"{i}.{name}"] = ((layer, name), "buffer")
    return targets


def check_state_arrays(model: layers.Sequential, arrays: dict, source: str = "the file") -> None:
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


def load_state_arrays(model: layers.Sequential, arrays: dict, source: str = "the file") -> None:
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
    """np.savez to a temporary file beside ``path``, fsync, rename over ``path``, fsync the folder.

    A crash at any moment leaves either the previous file or the new one under ``path``,
    never a mixture (the temporary file ``.<name>.<pid>.tmp`` may be left behind).
    """
    atomic.write(path, lambda f: np.savez(f, **arrays))


_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")   # a local file header; an empty archive


def read_npz(path) -> dict[str, np.ndarray]:
    """All arrays of an .npz file, without pickle; ModelFileError (a distinct message per fault) if unsafe or unreadable.

    The archive is read with ``zipfile`` and each .npy header is inspected before any
    data is: an object array (which only pickle could rebuild, and unpickling can run
    arbitrary code) is refused without reading it, and a header that promises more
    data than the entry holds is reported as truncated without allocating the array.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such file")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a folder, not a model or checkpoint file")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise ModelFileError(f"{path}: not a readable .npz file: it is empty (0 bytes); was its write interrupted?")
    if head not in _ZIP_SIGNATURES:
        raise ModelFileError(f"{path}: not a readable .npz file: it is not a zip archive (its first bytes are {head!r}; "
                             f"an .npz file starts with b'PK\\x03\\x04'); model and checkpoint files are written by "
                             f"tinyae.models.save and fit(checkpoint=...)")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelFileError(f"{path}: not a readable .npz file: truncated or damaged, its zip directory is missing "
                             f"or unreadable ({exc}); was its write interrupted?") from None
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ModelFileError(f"{path}: not a readable .npz file: entry {info.filename!r} is not a .npy array")
            key = info.filename[:-4]
            if key in arrays:
                raise ModelFileError(f"{path}: not a readable .npz file: entry {key!r} appears twice")
            try:
                arrays[key] = _read_npy_entry(archive, info, key, path)
            except ModelFileError:
                raise
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, TypeError,
                    SyntaxError, NotImplementedError) as exc:
                raise ModelFileError(f"{path}: not a readable .npz file: entry {key!r} is damaged "
                                     f"({type(exc).__name__}: {exc})") from None
    return arrays


def _read_npy_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, path: Path) -> np.ndarray:
    with archive.open(info) as f:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(f)
        else:
            raise ModelFileError(f"{path}: entry {key!r} uses .npy format version {version[0]}.{version[1]}, "
                                 f"which tinyae does not read")
        if dtype.hasobject:
            raise ModelFileError(f"{path}: entry {key!r} is an object array (dtype {dtype}): loading it would need "
                                 f"pickle, which can run arbitrary code; refused (tinyae files hold only numeric arrays)")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        held = info.file_size - f.tell()
        if held != nbytes:
            raise ModelFileError(f"{path}: not a readable .npz file: entry {key!r} is truncated or padded: its header "
                                 f"says {dtype} {tuple(shape)} ({nbytes} bytes), the entry holds {held}")
        data = bytearray(f.read(nbytes))
        if len(data) != nbytes or f.read(1):     # reading to the end also checks the entry's CRC-32
            raise ModelFileError(f"{path}: not a readable .npz file: entry {key!r} is truncated")
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)


def load(path) -> layers.Sequential:
    """Rebuild the model saved at ``path`` by ``save``."""
    arrays = read_npz(path)
    if ARCH_KEY not in arrays:
        if CHECKPOINT_KEY in arrays:
            raise ModelFileError(f"{path}: this is a training checkpoint, not a model file: "
                                 f"tinyae.checkpoint.load_checkpoint(path).model rebuilds its model")
        raise ModelFileError(f"{path}: no architecture entry ({ARCH_KEY}); was it written by tinyae.models.save?")
    arch = decode_json(arrays.pop(ARCH_KEY), path, "architecture")
    try:
        model = from_architecture(arch)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    load_state_arrays(model, arrays, source=str(path))
    return model


def decode_json(entry: np.ndarray, path, what: str):
    """The JSON value stored as UTF-8 bytes in a uint8 array (as ``save`` writes ARCH_KEY)."""
    if entry.dtype != np.uint8 or entry.ndim != 1:
        raise ModelFileError(f"{path}: the {what} entry is not JSON text (dtype {entry.dtype}, shape {entry.shape})")
    try:
        return json.loads(entry.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: the {what} entry is not valid JSON ({exc})") from None
