"""Seconds per training epoch of the `dense` and `deep` models on MNIST, batch 256, float32.

    TINYAE_DATA_DIR=../shared/data python benchmarks/dense.py [--epochs 3]

Prints, for each model: tinyae's seconds per epoch (median over the timed epochs),
the share of the epoch that the model's matrix products would take at this
machine's measured float32 GEMM rate, and — when PyTorch is importable — the same
model in PyTorch CPU (2 threads, float32, same batch, Adam lr 1e-3) timed in the
same run, epochs interleaved with tinyae's so that both see the same machine load,
and the ratio tinyae / PyTorch (below 1: tinyae is faster).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

import tinyae  # noqa: E402
from tinyae import datasets, losses, models, optim  # noqa: E402

from common import gemm_rate, machine_line, print_table, torch_or_none  # noqa: E402

SIZES = {"dense": [784, 256, 784], "deep": [784, 128, 32, 128, 784]}


def gemm_flops_per_epoch(sizes, n_samples: int) -> float:
    """Matrix-product FLOPs of one epoch: forward xW, backward xᵀdy and dy Wᵀ (none for the first layer's input)."""
    per_sample = 0
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        per_sample += 2 * a * b * (3 if i > 0 else 2)
    return per_sample * n_samples


def tinyae_epoch(model, x, batch_size, seed):
    """One epoch of the real training loop, tinyae.fit (its checks included), without the progress bar."""
    tinyae.fit(model, x, loss=losses.MSE(), optimizer=model._bench_opt, epochs=1, batch_size=batch_size,
               seed=seed, verbose=0)


def torch_model(torch, sizes):
    layers = [torch.nn.Flatten()]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        layers.append(torch.nn.ReLU() if i < len(sizes) - 2 else torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


def torch_epoch(torch, model, x, batch_size, rng):
    opt, mse = model._bench_opt, torch.nn.functional.mse_loss
    for idx in tinyae.train.batches(len(x), batch_size, rng):
        xb = x[torch.from_numpy(idx)]
        opt.zero_grad(set_to_none=True)
        loss = mse(model(xb), xb.reshape(len(idx), -1))
        loss.backward()
        opt.step()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per framework (after one warm-up)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--models", nargs="*", default=["dense", "deep"])
    args = parser.parse_args(argv)

    x, _ = datasets.mnist("train")
    x = np.array(x)                                   # a writable copy (the loader's arrays are read-only)
    torch = torch_or_none(2)
    rate = gemm_rate()
    print(f"machine: {machine_line()}; float32 GEMM rate (1024³): {rate:.0f} GFLOP/s")
    print(f"PyTorch: {torch.__version__ + ' CPU, 2 threads' if torch else 'not importable: tinyae only'}\n")

    rows = []
    for name in args.models:
        model = models.build(name)
        model._bench_opt = optim.Adam(model.parameters(), lr=1e-3)
        if torch:
            tmodel = torch_model(torch, SIZES[name])
            tmodel._bench_opt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
            tx = torch.from_numpy(x)
        ours, theirs = [], []
        rng = np.random.default_rng(0)
        for epoch in range(args.epochs + 1):          # epoch 0 warms up; interleaved so both see the same load
            start = time.perf_counter()
            tinyae_epoch(model, x, args.batch_size, seed=epoch)
            ours.append(time.perf_counter() - start)
            if torch:
                start = time.perf_counter()
                torch_epoch(torch, tmodel, tx, args.batch_size, rng)
                theirs.append(time.perf_counter() - start)
        ours_s = statistics.median(ours[1:])
        gemm_s = gemm_flops_per_epoch(SIZES[name], len(x)) / (rate * 1e9)
        row = [name, f"{ours_s:.3f}", f"{gemm_s:.3f} ({100 * gemm_s / ours_s:.0f}%)"]
        if torch:
            torch_s = statistics.median(theirs[1:])
            row += [f"{torch_s:.3f}", f"{ours_s / torch_s:.2f}"]
        rows.append(tuple(row))
    header = ("model", "tinyae s/epoch", "GEMM-only s (share)")
    if torch:
        header += ("PyTorch s/epoch", "tinyae/PyTorch")
    print_table(rows, header)
    print(f"\nbatch {args.batch_size}, float32, Adam lr 1e-3, 60000 MNIST images per epoch, "
          f"median of {args.epochs} epochs after a warm-up")


if __name__ == "__main__":
    main()
