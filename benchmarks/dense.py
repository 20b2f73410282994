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

Then, with PyTorch: the step's matrix products alone in each framework (NumPy's BLAS against
PyTorch's, the same shapes, each child timing them right after each of its turns) and the rest of
a step (its seconds less the products): which part of the ratio is the BLAS and which tinyae's code.
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

from common import (blas_name, gemm_rate, machine_line, matrix_products, median_time, print_table,  # noqa: E402
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


class ProductsTimed(Trainer):
    """After each turn, in the same turn: the training step's matrix products alone, and a 1024³ one, in
    this framework (medians of 10 and of 3 passes), so that they see the machine the turn saw."""

    def time_products(self, name, batch_size, torch=None):
        self._products = matrix_products(step_matrix_products(SIZES[name], batch_size), torch)
        self._product_1024 = matrix_products([(1024, 1024, 1024, False, False)], torch)

    def measure(self):
        return {"products_s": median_time(self._products, 10), "product_1024_s": median_time(self._product_1024, 3)}


class TinyaeTrainer(ProductsTimed):
    """tinyae.fit (its checks included, no progress bar) on each chunk of one shuffled epoch in turn."""

    def __init__(self, name, x, parts, batch_size):
        self.time_products(name, batch_size)
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


class TorchTrainer(ProductsTimed):
    """The same batches in PyTorch: the same loop as ``fit``, by hand."""

    def __init__(self, name, x, parts, batch_size):
        self.torch = torch = torch_or_none(2)
        self.time_products(name, batch_size, torch)
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


def epoch_taking_turns(frameworks, name, seed, chunks, batch_size) -> tuple[dict, dict]:
    """One epoch of model ``name`` per framework, the children taking turns (benchmarks/turns.py): the
    seconds of each, and the medians over the turns of what ``ProductsTimed.measure`` timed."""
    turns = Turns(__file__, frameworks, ["--model", name, "--seed", str(seed), "--chunks", str(chunks),
                                         "--batch-size", str(batch_size)])
    for k in range(chunks):
        turns.step(k, measure=True)
    turns.close()
    products = {framework: {key: statistics.median(m[key] for m in measured) for key in measured[0]}
                for framework, measured in turns.measured.items()}
    return dict(turns.seconds), products


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

    rows, products = [], {}
    for name in args.models:
        runs = [epoch_taking_turns(frameworks, name, seed, args.chunks, args.batch_size)
                for seed in range(args.epochs)]
        ours_s = statistics.median(seconds["tinyae"] for seconds, _ in runs)
        gemm_s = gemm_flops_per_epoch(SIZES[name], 60000, args.batch_size) / (rate * 1e9)
        row = [name, f"{ours_s:.3f}", f"{gemm_s:.3f} ({100 * gemm_s / ours_s:.0f}%)"]
        if torch:
            torch_s = statistics.median(seconds["torch"] for seconds, _ in runs)
            per_epoch = " ".join(f"{seconds['tinyae'] / seconds['torch']:.2f}" for seconds, _ in runs)
            row += [f"{torch_s:.3f}", f"{ours_s / torch_s:.2f} ({per_epoch})"]
            products[name] = runs
        rows.append(tuple(row))
    header = ("model", "tinyae s/epoch", "GEMM-only s (share)")
    if torch:
        header += ("PyTorch s/epoch", "tinyae/PyTorch (per epoch)")
    print_table(rows, header)
    print(f"\nbatch {args.batch_size}, float32, Adam lr 1e-3, 60000 MNIST images per epoch, median of "
          f"{args.epochs} epochs, the two frameworks taking turns every 1/{args.chunks} epoch")
    if torch:
        print_blas_share(torch, products, args.batch_size)


def print_blas_share(torch, runs_of: dict, batch_size: int) -> None:
    """The matrix products alone, NumPy's BLAS against PyTorch's, and the rest of a training step.

    ``runs_of``: {model: [(seconds, products) of each epoch_taking_turns]}. Each child timed the
    products in every turn, right after its chunk, so they saw the machine that turn saw (its speed
    drifts by 20 % and more within minutes). The products are the part of the ratio that no code of
    tinyae's can change: both frameworks call a BLAS for them, and the two BLAS differ in speed at
    these shapes. The rest, a step's time less the products alone, is an estimate: within a step
    the products meet other caches than alone.
    """
    steps = 60000 / batch_size
    print(f"\nThe matrix products alone, ms per training step (the same shapes; each child times them after "
          f"every turn, medians of 10 passes, then over the turns and the epochs): NumPy's BLAS ({blas_name()}) "
          f"against PyTorch's ({torch_blas_name(torch)}), 2 threads. The rest: a step's time (the epoch / "
          f"{steps:.1f} steps) less the products")
    rows = []
    for name, runs in runs_of.items():
        numpy_s, torch_s = _median(runs, "tinyae", "products_s"), _median(runs, "torch", "products_s")
        ours_rest_s, torch_rest_s = _rest(runs, "tinyae", steps), _rest(runs, "torch", steps)
        rows.append((name, f"{1e3 * numpy_s:.2f}", f"{1e3 * torch_s:.2f}", f"{numpy_s / torch_s:.2f}",
                     f"{1e3 * ours_rest_s:.2f}", f"{1e3 * torch_rest_s:.2f}", f"{ours_rest_s / torch_rest_s:.2f}"))
    runs = [run for runs in runs_of.values() for run in runs]
    numpy_s, torch_s = _median(runs, "tinyae", "product_1024_s"), _median(runs, "torch", "product_1024_s")
    rows.append(("1024³", f"{1e3 * numpy_s:.2f}", f"{1e3 * torch_s:.2f}", f"{numpy_s / torch_s:.2f}", "", "", ""))
    print_table(rows, ("products of", "NumPy ms", "PyTorch ms", "NumPy/PyTorch",
                       "rest tinyae ms", "rest PyTorch ms", "tinyae/PyTorch"))


def _median(runs, framework: str, key: str) -> float:
    return statistics.median(products[framework][key] for _, products in runs)


def _rest(runs, framework: str, steps: float) -> float:
    """Median over the epochs of a step's seconds less its matrix products' seconds alone."""
    return statistics.median(seconds[framework] / steps - products[framework]["products_s"]
                             for seconds, products in runs)


if __name__ == "__main__":
    main()
