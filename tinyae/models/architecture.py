"""A model's architecture as JSON, and the model rebuilt from it (nothing in the JSON is trusted).

Version 2 (written since the models became encoder + decoder) is a tree::

    {"format": "tinyae-model", "version": 2, "name": "dense", "loss": "mse",
     "model": {"type": "Autoencoder",
               "encoder": {"type": "Sequential", "input_shape": [1, 28, 28], "layers": [
                   {"type": "Flatten", "config": {}},
                   {"type": "Dense", "config": {"in_features": 784, "out_features": 256, ...}}, ...]},
               "decoder": {"type": "Sequential", "layers": [...]}}}

Containers are "Sequential" (``layers``), "Autoencoder" and "VAE" (``encoder``,
``decoder``) and "SkipConcat" (``blocks``, ``config``); every other node is a layer of the
registry with its constructor arguments. A layer's *path* is the chain of names from the
root ("encoder.1"): parameters are stored under "<path>.<name>" ("encoder.1.W"), and a
``DenseTied`` names the Dense whose W it reuses by its path, so a tied decoder works
across the two halves.

Version 1 (tinyae 0.1) was one flat list of layers with parameters "<index>.<name>".
``upgrade_v1`` reads it: a file of a zoo model whose layers are the zoo's becomes that
zoo model's Autoencoder (its arrays renamed "3.W" -> "decoder.0.W"); any other file becomes
a Sequential, names unchanged.
"""
from __future__ import annotations

import copy

from .. import layers, losses
from ..errors import ModelFileError
from ..layers import Sequential, SkipConcat, leaves
from .autoencoder import Autoencoder
from .vae import VAE

FORMAT = "tinyae-model"
VERSION = 2
MAX_DEPTH = 16              # containers nested deeper than this in a file are refused
CONTAINERS = {"Sequential": Sequential, "Autoencoder": Autoencoder, "VAE": VAE, "SkipConcat": SkipConcat}


def layer_registry() -> dict[str, type]:
    """Layer class name -> class, for every plain layer a model file may name."""
    return {name: getattr(layers, name) for name in layers.__all__
            if isinstance(getattr(layers, name), type) and name not in ("Layer", *CONTAINERS)}


def join(path: str, name) -> str:
    return f"{path}.{name}" if path else str(name)


# --- writing -----------------------------------------------------------------------------------

def architecture(model) -> dict:
    """The JSON-able description from which ``from_architecture`` rebuilds ``model``."""
    paths = {id(layer): path for path, layer in leaves(model)}
    loss = getattr(model, "loss", None)
    return {"format": FORMAT, "version": VERSION, "name": getattr(model, "name", None),
            "loss": loss.name if isinstance(loss, losses.Loss) else loss, "model": _spec(model, paths)}


def _spec(layer, paths: dict) -> dict:
    if isinstance(layer, Autoencoder):
        return {"type": type(layer).__name__, "encoder": _spec(layer.encoder, paths),
                "decoder": _spec(layer.decoder, paths)}
    if isinstance(layer, Sequential):
        spec = {"type": "Sequential", "layers": [_spec(child, paths) for child in layer.layers]}
        if layer.input_shape is not None:
            spec["input_shape"] = list(layer.input_shape)
        return spec
    if isinstance(layer, SkipConcat):
        return {"type": "SkipConcat", "config": layer.config(), "blocks": [_spec(b, paths) for b in layer.blocks]}
    spec = {"type": type(layer).__name__, "config": layer.config()}
    if isinstance(layer, layers.DenseTied):
        if id(layer.encoder) not in paths:
            raise ValueError(f"{layer.label}: the Dense whose W this DenseTied reuses is not part of the model, "
                             f"so the model cannot be saved on its own")
        spec["config"]["encoder"] = paths[id(layer.encoder)]
    return spec


# --- reading -----------------------------------------------------------------------------------

def from_architecture(arch: dict):
    """Build the model an ``architecture()`` dict describes (weights freshly initialised).

    The dict comes from a file, so nothing in it is trusted: layer types are looked up in
    ``layer_registry()`` and ``CONTAINERS`` (never imported or evaluated by name),
    configurations are passed as keyword arguments, nesting is bounded, and every
    malformed part raises ModelFileError naming the layer's path.
    """
    if not isinstance(arch, dict) or arch.get("format") != FORMAT:
        raise ModelFileError(f"not a tinyae architecture (format {arch.get('format') if isinstance(arch, dict) else None!r})")
    version = arch.get("version", 1)
    if version == 1:
        arch, _ = upgrade_v1(arch)
    elif version != VERSION:
        raise ModelFileError(f"architecture version {version!r}; this tinyae reads versions 1 and {VERSION}")
    model = _build(arch.get("model"), "", {}, 0)
    name = arch.get("name")
    model.name = name if isinstance(name, str) else None
    loss = arch.get("loss")
    if loss is not None:
        try:
            losses.get(loss)
        except (ValueError, TypeError):
            raise ModelFileError(f"the architecture names an unknown loss {loss!r}") from None
        model.loss = loss                  # else: the class's own (a VAE's is bce_per_image)
    return model


def _build(spec, path: str, built: dict, depth: int):
    where = f"layer {path}" if path else "the model"
    if depth > MAX_DEPTH:
        raise ModelFileError(f"{where}: containers nested more than {MAX_DEPTH} deep")
    if not isinstance(spec, dict):
        raise ModelFileError(f"{where}: expected an object with 'type' and 'config', got a {type(spec).__name__}")
    kind = spec.get("type")
    if kind == "Sequential":
        children = _list(spec, "layers", where)
        items = [_build(child, join(path, i), built, depth + 1) for i, child in enumerate(children)]
        input_shape = spec.get("input_shape")
        if input_shape is not None and (not isinstance(input_shape, list) or
                                        not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                                                for s in input_shape)):
            raise ModelFileError(f"the architecture's input_shape {input_shape!r} is not a list of positive sizes")
        return _make(lambda: Sequential(*items, input_shape=input_shape), where)
    if kind in ("Autoencoder", "VAE"):
        encoder = _build(spec.get("encoder"), join(path, "encoder"), built, depth + 1)
        decoder = _build(spec.get("decoder"), join(path, "decoder"), built, depth + 1)
        return _make(lambda: CONTAINERS[kind](encoder, decoder), where)
    if kind == "SkipConcat":
        blocks = [_build(b, join(path, i), built, depth + 1) for i, b in enumerate(_list(spec, "blocks", where))]
        config = _config(spec, where, kind)
        return _make(lambda: SkipConcat(*blocks, **config), where, kind, spec)
    registry = layer_registry()
    if not isinstance(kind, str) or kind not in registry:
        raise ModelFileError(f"{where}: unknown layer type {kind!r}; known types: "
                             f"{', '.join(sorted([*registry, *CONTAINERS]))}")
    config = _config(spec, where, kind)
    if kind == "DenseTied":
        target = config.pop("encoder", None)
        if not isinstance(target, str) or not isinstance(built.get(target), layers.Dense):
            raise ModelFileError(f"{where} (DenseTied): bad configuration {spec.get('config')}: 'encoder' must be "
                                 f"the path of an earlier Dense layer, got {target!r}")
        layer = _make(lambda: layers.DenseTied(built[target], **config), where, kind, spec)
    else:
        layer = _make(lambda: registry[kind](**config), where, kind, spec)
    built[path] = layer
    return layer


def _list(spec: dict, key: str, where: str) -> list:
    value = spec.get(key)
    if not isinstance(value, list):
        raise ModelFileError(f"{where}: the architecture's {key!r} entry is a {type(value).__name__}, not a list")
    return value


def _config(spec: dict, where: str, kind: str) -> dict:
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ModelFileError(f"{where} ({kind}): bad configuration {config!r}: expected an object of arguments")
    return dict(config)


def _make(construct, where: str, kind: str | None = None, spec: dict | None = None):
    """``construct()``, its errors (a bad argument, layers that do not fit) turned into ModelFileError."""
    try:
        return construct()
    except ModelFileError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        if kind is None:             # a container whose parts do not fit together (a ShapeError is a ValueError)
            raise ModelFileError(f"the architecture is inconsistent: {exc}") from None
        raise ModelFileError(f"{where} ({kind}): bad configuration {spec.get('config')}: {exc}") from None


# --- walking the JSON --------------------------------------------------------------------------

def flat_specs(spec: dict, path: str = "") -> list[tuple[str, dict]]:
    """(path, spec) of every plain layer of a version-2 ``model`` entry, in forward order."""
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "Sequential":
        children = [(join(path, i), child) for i, child in enumerate(spec.get("layers", []))]
    elif kind in ("Autoencoder", "VAE"):
        children = [(join(path, "encoder"), spec.get("encoder")), (join(path, "decoder"), spec.get("decoder"))]
    elif kind == "SkipConcat":
        children = [(join(path, i), block) for i, block in enumerate(spec.get("blocks", []))]
    else:
        return [(path, spec)]
    return [leaf for child_path, child in children for leaf in flat_specs(child, child_path)]


def comparable(spec: dict) -> dict:
    """A layer spec without its ``seed``: a random layer's generator state is restored from the file anyway."""
    config = {k: v for k, v in (spec.get("config") or {}).items() if k != "seed"} \
        if isinstance(spec.get("config"), dict) else spec.get("config")
    return {"type": spec.get("type"), "config": config}


# --- version 1 -----------------------------------------------------------------------------------

def upgrade_v1(arch: dict) -> tuple[dict, dict[str, str]]:
    """A version-1 architecture as version 2, and the renaming of its layer paths ("3" -> "decoder.0").

    A zoo model's file whose layers are exactly the zoo model's (their arguments, a random
    layer's seed aside) becomes that zoo model's Autoencoder; any other becomes a Sequential.
    """
    from . import zoo
    specs = arch.get("layers", [])
    if not isinstance(specs, list):
        raise ModelFileError(f"the architecture's 'layers' entry is a {type(specs).__name__}, not a list")
    converted = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise ModelFileError(f"layer {i}: expected an object with 'type' and 'config', got a {type(spec).__name__}")
        spec = copy.deepcopy(spec)
        if spec.get("type") == "DenseTied" and isinstance(spec.get("config"), dict):
            target = spec["config"].get("encoder")
            if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < i:
                raise ModelFileError(f"layer {i} (DenseTied): bad configuration {spec['config']}: 'encoder' must be "
                                     f"the index of an earlier layer, got {target!r}")
            spec["config"]["encoder"] = str(target)
        converted.append(spec)
    flat = {"type": "Sequential", "layers": converted}
    if arch.get("input_shape") is not None:
        flat["input_shape"] = arch["input_shape"]
    name = arch.get("name")
    upgraded = {"format": FORMAT, "version": VERSION, "name": name, "loss": None, "model": flat}
    rename = {str(i): str(i) for i in range(len(converted))}
    if isinstance(name, str) and name in zoo.ZOO:
        zoo_arch = architecture(zoo.build(name))
        zoo_leaves = flat_specs(zoo_arch["model"])
        same = (len(zoo_leaves) == len(converted)
                and all(comparable(a) == comparable(b) for (_, a), b in zip(zoo_leaves, converted))
                and arch.get("input_shape") == zoo_arch["model"]["encoder"].get("input_shape"))
        if same:
            rename = {str(i): path for i, (path, _) in enumerate(zoo_leaves)}
            for (_, zoo_spec), spec in zip(zoo_leaves, converted):
                zoo_spec["config"] = spec.get("config", {})       # the file's own arguments (a seed)
            upgraded = {**zoo_arch, "name": name}
    return upgraded, rename


def rename_arrays(arrays: dict, rename: dict[str, str]) -> dict:
    """Array names "3.W" -> "decoder.0.W" by the renaming of ``upgrade_v1`` (names it does not cover unchanged)."""
    out = {}
    for key, value in arrays.items():
        head, dot, rest = key.partition(".")
        out[f"{rename[head]}{dot}{rest}" if dot and head in rename else key] = value
    return out
