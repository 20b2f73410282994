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
FAMILIES = ["dense", "pooling", "conv"]


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
