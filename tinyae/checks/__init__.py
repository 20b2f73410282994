"""The standard gradient checks, one module per layer family.

Each case builds a layer (or loss, or small model) in float64 with inputs chosen so
that finite differences are meaningful, and returns {gradient name: max relative
error}. The tests and ``python -m tinyae.gradcheck`` run the same cases. A new
family registers its cases with ``@case(name)`` in its own module and is added to
``FAMILIES`` below.
"""
from __future__ import annotations

import importlib

import numpy as np

CASES: list[tuple[str, callable]] = []
FAMILIES = ["dense", "pooling", "conv", "penalties", "variational", "skip", "corruption", "quantize"]


def case(name):
    """Register a function returning {gradient name: max relative error} under ``name``."""
    def register(run):
        CASES.append((name, run))
        return run
    return register


def away_from_zero(rng, shape, margin=0.1):
    """Normal values with |x| ≥ margin (keeps ReLU-like kinks out of reach of the finite difference)."""
    x = rng.standard_normal(shape)
    return np.sign(x) * (np.abs(x) + margin)


def all_cases() -> list[tuple[str, callable]]:
    """Every registered case, importing each family's module once."""
    for family in FAMILIES:
        importlib.import_module(f"{__name__}.{family}")
    return CASES


class Replay:
    """A stand-in random generator: its first draw of each kind comes from a seeded NumPy generator,
    and every later call with the same arguments returns the same numbers.

    A layer that draws noise (Dropout, the corruptions, GaussianSample's ε) is checked with
    its randomness held fixed this way: the finite difference then sees the same function
    at θ + h and θ − h. Put it in the layer's ``_rng``.
    """

    def __init__(self, seed: int = 0):
        self._rng = np.random.default_rng(seed)
        self._drawn = {}

    def _replay(self, name, *args, **kwargs):
        key = (name, repr(args), repr(sorted(kwargs.items())))
        if key not in self._drawn:
            self._drawn[key] = getattr(self._rng, name)(*args, **kwargs)
        return self._drawn[key].copy()

    def random(self, shape, dtype=np.float64):
        return self._replay("random", shape, dtype=dtype)

    def standard_normal(self, shape, dtype=np.float64):
        return self._replay("standard_normal", shape, dtype=dtype)

    def integers(self, low, high=None, size=None):
        return self._replay("integers", low, high, size=size)
