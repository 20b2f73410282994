"""The one place that knows NumPy from CuPy.

Every layer asks this module for its array module::

    from tinyae import backend
    xp = backend.xp                 # numpy, or cupy after backend.use("cupy")

or, for an array it was handed, ``backend.get_array_module(x)`` (CuPy's documented
pattern). No layer calls ``numpy`` directly on arrays that may live on the GPU.

The active backend is NumPy unless ``use("cupy")`` is called or the environment
variable ``TINYAE_BACKEND=cupy`` is set when tinyae is imported. CuPy is imported
lazily, so tinyae imports on machines without it; asking for it there raises
`tinyae.errors.BackendError` with the reason.

The default floating dtype is float32; ``set_default_dtype("float64")`` switches it
(the gradient check does this for the duration of a check with ``default_dtype``).
"""
from __future__ import annotations

import contextlib
import os

import numpy

from .errors import BackendError

xp = numpy                   # the active array module: numpy or cupy
name = "numpy"               # its name
_dtype = numpy.dtype(numpy.float32)


def _import_cupy():
    try:
        import cupy
    except Exception as exc:  # ImportError, or a CUDA library that fails to load
        raise BackendError(
            f"the 'cupy' backend was asked for, but CuPy cannot be imported ({exc}). "
            "Install it with `pip install -e \".[gpu]\"` (or the cupy-cudaXXx wheel that "
            "matches your CUDA), or stay on the default: tinyae.backend.use('numpy')."
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        raise BackendError(f"CuPy is installed but no CUDA device can be used ({exc}).") from exc
    if count < 1:
        raise BackendError("CuPy is installed but this machine has no CUDA device.")
    return cupy


def use(backend_name: str) -> None:
    """Make ``backend_name`` ("numpy" or "cupy") the active backend.

    Arrays made before the switch stay where they were: build (or load) the model
    after switching, so that its parameters are made by the new backend.
    """
    global xp, name
    if backend_name == "numpy":
        xp, name = numpy, "numpy"
    elif backend_name == "cupy":
        xp, name = _import_cupy(), "cupy"
    else:
        raise ValueError(f"unknown backend {backend_name!r}: choose 'numpy' or 'cupy'")


def available() -> list[str]:
    """The backends that can be used on this machine."""
    names = ["numpy"]
    try:
        _import_cupy()
        names.append("cupy")
    except BackendError:
        pass
    return names


@contextlib.contextmanager
def using(backend_name: str):
    """Context manager: the backend ``backend_name`` inside the block, the previous one after."""
    previous = name
    use(backend_name)
    try:
        yield xp
    finally:
        use(previous)


def get_array_module(*arrays):
    """numpy or cupy, whichever the arrays live in (numpy for anything not on the GPU)."""
    if name == "cupy":
        import cupy
        return cupy.get_array_module(*arrays)
    return numpy


def to_numpy(array):
    """A NumPy array with the same values (a copy from the GPU, the array itself on the CPU)."""
    if hasattr(array, "get") and not isinstance(array, numpy.ndarray):
        return array.get()
    return numpy.asarray(array)


def asarray(array, dtype=None):
    """``array`` on the active backend, in ``dtype`` (the default dtype when None)."""
    return xp.asarray(array, dtype=_dtype if dtype is None else dtype)


def dtype() -> numpy.dtype:
    """The default floating dtype for parameters and data (float32 unless changed)."""
    return _dtype


def set_default_dtype(new_dtype) -> None:
    """Set the default floating dtype: "float32" or "float64"."""
    global _dtype
    new_dtype = numpy.dtype(new_dtype)
    if new_dtype not in (numpy.float32, numpy.float64):
        raise ValueError(f"default dtype must be float32 or float64, not {new_dtype}")
    _dtype = new_dtype


@contextlib.contextmanager
def default_dtype(new_dtype):
    """Context manager: ``new_dtype`` is the default dtype inside the block."""
    previous = _dtype
    set_default_dtype(new_dtype)
    try:
        yield
    finally:
        set_default_dtype(previous)


def default_rng(seed=None):
    """A seeded random generator of the active backend (numpy.random.Generator or CuPy's)."""
    return xp.random.default_rng(seed)


if os.environ.get("TINYAE_BACKEND", "numpy").lower() not in ("", "numpy"):
    use(os.environ["TINYAE_BACKEND"].lower())
