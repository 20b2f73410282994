"""Seconds per training epoch of the `dense` and `deep` models on MNIST, batch 256, float32.

    TINYAE_DATA_DIR=../shared/data python benchmarks/dense.py [--epochs 3] [--chunks 10]

Prints, for each model: tinyae's seconds per epoch (median over the timed epochs),
the share of the epoch that the model's matrix products would take at this
machine's measured float32 GEMM rate, and — when PyTorch is importable — the same
model in PyTorch CPU (2 threads, float32, same batches, Adam lr 1e-3) and the ratio
tinyae / PyTorch (below 1: tinyae is faster).

Epochs take turns as in benchmarks/conv.py (benchmarks/turns.py): each framework trains in
a child process of its own, and the two run 1/``--chunks`` of their epoch at a time, in
the order A B B A A B ...; a framework's epoch is the sum of its turns. An epoch here
lasts about a second, and this machine's speed drifts by 20 % and more within seconds:
whole epochs one after the other gave ratios from 0.86 to 1.30 for the same code.
Each child first trains four batches untimed (first-call costs: thread pools, buffers).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

import tinyae  # noqa: E402
from tinyae import datasets, losses, models, optim  # noqa: E402

from common import (blas_name, gemm_rate, machine_line, matrix_product_times, print_table,  # noqa: E402
                    torch_blas_name, torch_or_none)
from turns import Trainer, Turns, child_main, epoch_chunks  # noqa: E402

SIZES = {"dense": [784, 256, 784], "deep": [784, 128, 32, 128, 784]}


def step_matrix_products(sizes, batch_size: int) -> list[tuple]:
    """(M, K, N, transpose_a, transpose_b) of every matrix product of one training step, as tinyae
    computes them: forward x·W (eq. D1), backward xᵀ·dy (eq. D3) and dy·Wᵀ (eq. D2, none for the first layer)."""
    shapes = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes.append((batch_size, a, b, False, False))
        shapes.append((a, batch_size, b, True, False))
        if i > 0:
            shapes.append((batch_size, b, a, False, True))
    return shapes


def gemm_flops_per_epoch(sizes, n_samples: int, batch_size: int) -> float:
    """Matrix-product FLOPs of one epoch (2·M·K·N for each product of each step)."""
    per_step = sum(2 * m * k * n for m, k, n, _, _ in step_matrix_products(sizes, batch_size))
    return per_step * n_samples / batch_size


class TinyaeTrainer(Trainer):
    """tinyae.fit (its checks included, no progress bar) on each chunk of one shuffled epoch in turn."""

    def __init__(self, name, x, parts, batch_size):
        self.model = models.build(name, seed=0)
        self.opt = optim.Adam(self.model.parameters(), lr=1e-3)
        self.parts, self.batch_size = [x[idx] for idx in parts], batch_size     # gathered before the clock
        self._fit(x[:4 * batch_size])                                         # untimed warm-up

    def _fit(self, xs):
        tinyae.fit(self.model, xs, loss=losses.MSE(), optimizer=self.opt, epochs=1, batch_size=self.batch_size,
                   shuffle=False, verbose=0)

    def next_chunk(self):
        self._fit(self.parts.pop(0))


def torch_model(torch, sizes):
    layers = [torch.nn.Flatten()]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        layers.append(torch.nn.ReLU() if i < len(sizes) - 2 else torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


class TorchTrainer(Trainer):
    """The same batches in PyTorch: the same loop as ``fit``, by hand."""

    def __init__(self, name, x, parts, batch_size):
        self.torch = torch = torch_or_none(2)
        self.model = torch_model(torch, SIZES[name])
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.parts, self.batch_size = [torch.from_numpy(x[idx]) for idx in parts], batch_size
        self._train(torch.from_numpy(x[:4 * batch_size]))                     # untimed warm-up

    def _train(self, xs):
        mse = self.torch.nn.functional.mse_loss
        for start in range(0, len(xs), self.batch_size):
            xb = xs[start:start + self.batch_size]
            self.opt.zero_grad(set_to_none=True)
            loss = mse(self.model(xb), xb.reshape(len(xb), -1))
            loss.backward()
            self.opt.step()

    def next_chunk(self):
        self._train(self.parts.pop(0))


def make_trainer(framework: str, name: str, seed: int, chunks: int, batch_size: int):
    x = np.array(datasets.mnist("train")[0])         # a writable copy (the loader's arrays are read-only)
    parts = epoch_chunks(len(x), batch_size, seed, chunks)
    return (TinyaeTrainer if framework == "tinyae" else TorchTrainer)(name, x, parts, batch_size)


def epoch_taking_turns(frameworks, name, seed, chunks, batch_size) -> dict:
    """One epoch of model ``name`` per framework, the children taking turns (benchmarks/turns.py)."""
    turns = Turns(__file__, frameworks, ["--model", name, "--seed", str(seed), "--chunks", str(chunks),
                                         "--batch-size", str(batch_size)])
    for k in range(chunks):
        turns.step(k)
    turns.close()
    return dict(turns.seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per framework and model (default 3)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--models", nargs="*", default=["dense", "deep"])
    parser.add_argument("--chunks", type=int, default=10,
                        help="turns per epoch: each child trains 1/CHUNKS of its epoch per turn (default 10)")
    parser.add_argument("--child", choices=["tinyae", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(lambda: make_trainer(args.child, args.model, args.seed, args.chunks, args.batch_size))
        return

    torch = torch_or_none(2)
    rate = gemm_rate()
    print(f"machine: {machine_line()}; float32 GEMM rate (1024³): {rate:.0f} GFLOP/s")
    print(f"PyTorch: {torch.__version__ + ' CPU, 2 threads' if torch else 'not importable: tinyae only'}\n")
    frameworks = ["tinyae", "torch"] if torch else ["tinyae"]

    rows, epochs = [], {}
    for name in args.models:
        runs = [epoch_taking_turns(frameworks, name, seed, args.chunks, args.batch_size)
                for seed in range(args.epochs)]
        ours_s = statistics.median(r["tinyae"] for r in runs)
        gemm_s = gemm_flops_per_epoch(SIZES[name], 60000, args.batch_size) / (rate * 1e9)
        row = [name, f"{ours_s:.3f}", f"{gemm_s:.3f} ({100 * gemm_s / ours_s:.0f}%)"]
        if torch:
            torch_s = statistics.median(r["torch"] for r in runs)
            per_epoch = " ".join(f"{r['tinyae'] / r['torch']:.2f}" for r in runs)
            row += [f"{torch_s:.3f}", f"{ours_s / torch_s:.2f} ({per_epoch})"]
            epochs[name] = (ours_s, torch_s)
        rows.append(tuple(row))
    header = ("model", "tinyae s/epoch", "GEMM-only s (share)")
    if torch:
        header += ("PyTorch s/epoch", "tinyae/PyTorch (per epoch)")
    print_table(rows, header)
    print(f"\nbatch {args.batch_size}, float32, Adam lr 1e-3, 60000 MNIST images per epoch, median of "
          f"{args.epochs} epochs, the two frameworks taking turns every 1/{args.chunks} epoch")
    if torch:
        print_blas_share(torch, epochs, args.batch_size)


def print_blas_share(torch, epochs: dict, batch_size: int) -> None:
    """The matrix products alone, NumPy's BLAS against PyTorch's, on the same operands in this process,
    and the rest of a training step: its time (from ``epochs``, {model: (tinyae s, PyTorch s)})
    less the products' time alone.

    The products are the part of the ratio that no code of tinyae's can change: both frameworks
    call a BLAS for them, and the two BLAS differ in speed at these shapes. The rest is an
    estimate (within a step the products see other caches than alone).
    """
    print(f"\nThe matrix products alone (ms per training step, the same operands; medians of 10 blocks of 20 "
          f"passes per framework (of 10 for 1024³), the blocks alternating): NumPy's BLAS ({blas_name()}) "
          f"against PyTorch's ({torch_blas_name(torch)}), 2 threads. The rest: a step's time (the epoch's "
          f"median above / {60000 / batch_size:.1f} steps) less the products")
    rows = []
    for name, (ours_epoch_s, torch_epoch_s) in epochs.items():
        numpy_s, torch_s = matrix_product_times(step_matrix_products(SIZES[name], batch_size), torch, blocks=10)
        ours_rest_s = ours_epoch_s * batch_size / 60000 - numpy_s
        torch_rest_s = torch_epoch_s * batch_size / 60000 - torch_s
        rows.append((name, f"{1e3 * numpy_s:.2f}", f"{1e3 * torch_s:.2f}", f"{numpy_s / torch_s:.2f}",
                     f"{1e3 * ours_rest_s:.2f}", f"{1e3 * torch_rest_s:.2f}", f"{ours_rest_s / torch_rest_s:.2f}"))
    numpy_s, torch_s = matrix_product_times([(1024, 1024, 1024, False, False)], torch, blocks=10, repeats=10)
    rows.append(("1024³", f"{1e3 * numpy_s:.2f}", f"{1e3 * torch_s:.2f}", f"{numpy_s / torch_s:.2f}", "", "", ""))
    print_table(rows, ("products of", "NumPy ms", "PyTorch ms", "NumPy/PyTorch",
                       "rest tinyae ms", "rest PyTorch ms", "tinyae/PyTorch"))


if __name__ == "__main__":
    main()
