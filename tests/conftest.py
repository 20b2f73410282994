"""Shared fixtures.

* ``backend_name``: parametrised over "numpy" and "cupy"; the backend is active for the test's
  duration. The CuPy case is skipped where CuPy or a CUDA device is missing.
* ``xp``: the active array module of ``backend_name`` (numpy or cupy).
* ``float64``: the default dtype is float64 for the test's duration (gradient checks).
* ``data_dir``: the folder that holds ``mnist/`` — ``$TINYAE_DATA_DIR`` if set, else
  ``<repo>/../shared/data`` — as an absolute Path; the test is skipped if the MNIST files are absent
  (``data_dir_or_none`` gives None instead of skipping).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pytest

from tinyae import backend

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ["numpy", "cupy"]
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@functools.lru_cache(maxsize=None)
def available_backends() -> tuple[str, ...]:
    return tuple(backend.available())


@pytest.fixture(params=[pytest.param("numpy"), pytest.param("cupy", marks=pytest.mark.gpu)])
def backend_name(request):
    name = request.param
    if name not in available_backends():
        pytest.skip(f"backend {name!r} is not available here (no CuPy or no CUDA device)")
    with backend.using(name):
        yield name


@pytest.fixture
def xp(backend_name):
    return backend.xp


@pytest.fixture
def float64():
    with backend.default_dtype("float64"):
        yield


def find_data_dir() -> Path | None:
    """The root folder holding ``mnist/`` with the four MNIST files, or None."""
    env = os.environ.get("TINYAE_DATA_DIR")
    if env:
        path = Path(env).expanduser()
        # a relative $TINYAE_DATA_DIR is meant relative to the working directory (what tinyae.datasets
        # does), which is normally the repository root; try both
        candidates = [path] if path.is_absolute() else [Path.cwd() / path, REPO / path]
    else:
        candidates = [REPO.parent / "shared" / "data"]
    for root in candidates:
        folder = root / "mnist"
        if all((folder / f).exists() or (folder / (f + ".gz")).exists() for f in MNIST_FILES):
            return Path(os.path.abspath(root))
    return None


@pytest.fixture
def data_dir_or_none() -> Path | None:
    """Like ``data_dir``, but None instead of a skip when the files are absent."""
    return find_data_dir()


@pytest.fixture
def data_dir() -> Path:
    root = find_data_dir()
    if root is None:
        pytest.skip("MNIST files not found (set TINYAE_DATA_DIR to the folder that holds mnist/)")
    return root


@pytest.fixture
def rng():
    """A NumPy generator seeded with 0: every test draws the same numbers on every run."""
    return np.random.default_rng(0)
