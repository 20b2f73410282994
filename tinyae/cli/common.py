"""What every command shares: the one-line error parser, argument types, data sets, model files."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .. import backend
from ..errors import ShapeError, TinyAEError

DATASETS = ("mnist", "fashion_mnist", "shapes", "shapes_rgb")
BACKENDS = ("numpy", "cupy")
# The procedural shapes data set: fixed sizes and seeds, so that every run sees the same images
# and the test images are not the training images.
SHAPES_SPLITS = {"train": {"n": 10000, "seed": 0}, "test": {"n": 2000, "seed": 1}}


class CommandError(TinyAEError):
    """A command-line argument that cannot be used (reported as ``tinyae: error: ...``)."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and a pointer to --help), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


# --- argument types ---------------------------------------------------------------------------

def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def dataset_name(text: str) -> str:
    return text.replace("-", "_").lower()


def noise_spec(text: str) -> str:
    """A noise spec such as gaussian:0.4, checked now so that a typo is a usage error."""
    from .. import corrupt
    try:
        corrupt.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def data_options(p) -> None:
    p.add_argument("--data-dir", default=None, metavar="FOLDER",
                   help="folder holding mnist/ or fashion-mnist/ (default: $TINYAE_DATA_DIR, then the cache folder)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing data files")
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="numpy (CPU) or cupy (GPU) (default: numpy, or $TINYAE_BACKEND)")


def use_backend(args) -> None:
    if getattr(args, "backend", None):
        backend.use(args.backend)                 # before any model is built or loaded: its arrays are made there


# --- data ------------------------------------------------------------------------------------

def check_dataset(name: str) -> None:
    if name not in DATASETS:
        raise CommandError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")


def load_images(dataset: str, split: str = "train", data_dir=None, download: bool = True) -> np.ndarray:
    """The images (N, C, H, W) float32 in [0, 1] of ``split`` ("train" or "test") of ``dataset``."""
    from .. import datasets
    check_dataset(dataset)
    if dataset in ("shapes", "shapes_rgb"):
        images, _ = datasets.shapes(size=28, channels=3 if dataset == "shapes_rgb" else 1, **SHAPES_SPLITS[split])
        return images
    if dataset == "mnist":
        images, _ = datasets.mnist(split, data_dir=data_dir, download=download)
        return images
    images, _ = datasets.fashion_mnist(split, data_dir=data_dir, download=download)
    return images


def load_labelled(dataset: str, split: str = "train", data_dir=None, download: bool = True):
    """(images, labels) of ``split`` of ``dataset``: images (N, C, H, W) float32 in [0, 1], labels uint8 (N,)."""
    from .. import datasets
    check_dataset(dataset)
    if dataset in ("shapes", "shapes_rgb"):
        return datasets.shapes(size=28, channels=3 if dataset == "shapes_rgb" else 1, **SHAPES_SPLITS[split])
    loader = datasets.mnist if dataset == "mnist" else datasets.fashion_mnist
    return loader(split, data_dir=data_dir, download=download)


def check_fits(model, images: np.ndarray, dataset: str) -> None:
    want = getattr(model, "input_shape", None)
    if want is not None and tuple(want) != tuple(images.shape[1:]):
        raise ShapeError(f"the model takes images of shape {tuple(want)}, but {dataset} has {tuple(images.shape[1:])}")


def load_model(path):
    from .. import models
    return models.load(path)


def model_name(model, path) -> str:
    return getattr(model, "name", None) or Path(path).stem


def figure(draw, what: str) -> None:
    """Draw a figure; without matplotlib, a CommandError that says how to install it."""
    try:
        draw()
    except ImportError as exc:
        raise CommandError(f"cannot draw {what}: {exc}") from None
