"""Shared pieces of the benchmark scripts: timing, the GEMM rate, PyTorch twins of the zoo models."""
from __future__ import annotations

import os
import platform
import statistics
import time

import numpy as np


def torch_or_none(threads: int = 2):
    """PyTorch (CPU, ``threads`` threads) if it is importable, else None."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def median_time(run, repeats: int) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls (after one warm-up call)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_rate(n: int = 1024, repeats: int = 10, dtype=np.float32) -> float:
    """This machine's measured matrix-product rate in GFLOP/s (NumPy's BLAS, n×n×n)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=dtype), rng.random((n, n), dtype=dtype)
    seconds = median_time(lambda: a @ b, repeats)
    return 2 * n ** 3 / seconds / 1e9


def blas_name() -> str:
    """The BLAS NumPy's matrix products run on, as NumPy reports it (e.g. "scipy-openblas 0.3.31")."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:                       # an older NumPy, or one built without this report
        return "unknown BLAS"


def torch_blas_name(torch) -> str:
    return "MKL" if torch.backends.mkl.is_available() else "its bundled BLAS"


def matrix_products(shapes, torch=None):
    """A function that computes the matrix products ``shapes`` [(M, K, N, transpose_a, transpose_b)] once,
    in NumPy, or in PyTorch when ``torch`` is given (float32, random operands, the same for both).

    ``transpose_a``: the left operand is the transpose of a row-major (K, M) array, as xᵀ in a
    weight gradient; ``transpose_b`` the same for the right operand, as Wᵀ in an input gradient.
    """
    rng = np.random.default_rng(0)
    pairs = []
    for m, k, n, transpose_a, transpose_b in shapes:
        a = rng.random((k, m), dtype=np.float32).T if transpose_a else rng.random((m, k), dtype=np.float32)
        b = rng.random((n, k), dtype=np.float32).T if transpose_b else rng.random((k, n), dtype=np.float32)
        if torch is not None:
            a = torch.from_numpy(np.ascontiguousarray(a.T)).T if transpose_a else torch.from_numpy(a)
            b = torch.from_numpy(np.ascontiguousarray(b.T)).T if transpose_b else torch.from_numpy(b)
        pairs.append((a, b))

    def products():
        for a, b in pairs:
            a @ b
    return products


def in_memory_order_of(like, values):
    """``values`` copied into a new array laid out in memory as ``like`` is (as the model hands it on)."""
    out = np.empty_like(like)
    out[...] = values
    return out


def machine_line() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"NumPy {np.__version__}")


def print_table(rows: list[tuple], header: tuple) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
