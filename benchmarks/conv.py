"""The `conv` model on MNIST at batch 64, float32: seconds per epoch, peak memory, and
forward/backward time of every layer, beside PyTorch CPU (2 threads) when importable.

    TINYAE_DATA_DIR=../shared/data python benchmarks/conv.py [--rounds 2] [--layers-only]

Epochs: each framework trains in a child process of its own (so that its peak memory
can be read alone), one epoch per child, the children alternating tinyae, PyTorch,
tinyae, PyTorch, ... for ``--rounds`` rounds so both see the same machine load. The
figure is the median seconds per epoch. Peak memory is the child's peak resident set
size minus its resident size just before training (data already loaded), so it counts
what the training itself needs: activations, gradients, optimizer state, buffers.

Layers: each layer of the model at its input shape, forward then backward (input
gradient only where training needs it), tinyae and PyTorch back to back, minimum over
the repetitions. The sum shows where an epoch's time goes.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

from common import machine_line, print_table, torch_or_none  # noqa: E402

BATCH = 64


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- one epoch in a child process -------------------------------------------------------------

def child_tinyae(seed: int) -> dict:
    from tinyae import datasets, fit, models, optim
    x = np.array(datasets.mnist("train")[0])
    model = models.build("conv", seed=0)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    base = rss_mb()
    start = time.perf_counter()
    fit(model, x, optimizer=opt, epochs=1, batch_size=BATCH, seed=seed, verbose=0)
    return {"seconds": time.perf_counter() - start, "peak_mb": peak_rss_mb() - base}


def torch_conv_model(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())


def child_torch(seed: int) -> dict:
    from tinyae import datasets
    from tinyae.train import batches
    torch = torch_or_none(2)
    x = torch.from_numpy(np.array(datasets.mnist("train")[0]))
    model = torch_conv_model(torch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    base = rss_mb()
    start = time.perf_counter()
    for idx in batches(len(x), BATCH, np.random.default_rng(seed)):
        xb = x[torch.from_numpy(idx)]
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(xb), xb)
        loss.backward()
        opt.step()
    return {"seconds": time.perf_counter() - start, "peak_mb": peak_rss_mb() - base}


def run_child(framework: str, seed: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", framework, "--seed", str(seed)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- per-layer times ------------------------------------------------------------------------------

def layer_table(torch, repeats: int):
    from tinyae import models
    model = models.build("conv", seed=0)
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    tlayers = list(torch_conv_model(torch)) if torch else None
    rows, totals = [], np.zeros(4)
    for i, layer in enumerate(model.layers):
        y = layer.forward(x)
        dy = np.empty_like(y)                                   # in the memory order of y, as in training
        dy[...] = rng.standard_normal(y.shape, dtype=np.float32)
        need_dx = i > 0
        backward = (lambda: layer.backward(dy)) if need_dx or not layer.params else \
            (lambda: layer.backward(dy, input_grad=False))
        ours_f, ours_b, theirs_f, theirs_b = [], [], [], []
        if torch:
            tl = tlayers[i]
            tx = torch.from_numpy(x.copy()).requires_grad_(need_dx)
            tdy = torch.from_numpy(dy)
        for _ in range(repeats):
            start = time.perf_counter(); layer.forward(x); ours_f.append(time.perf_counter() - start)
            start = time.perf_counter(); backward(); ours_b.append(time.perf_counter() - start)
            if torch:
                start = time.perf_counter(); ty = tl(tx); theirs_f.append(time.perf_counter() - start)
                if ty.requires_grad:
                    start = time.perf_counter(); ty.backward(tdy); theirs_b.append(time.perf_counter() - start)
                    tx.grad = None
                    for p in tl.parameters():
                        p.grad = None
                else:
                    theirs_b.append(0.0)
        times = [min(ours_f), min(ours_b)] + ([min(theirs_f), min(theirs_b)] if torch else [np.nan, np.nan])
        totals += np.nan_to_num(times)
        ms = [f"{1e3 * t:.2f}" for t in times]
        ratio = f"{(times[0] + times[1]) / (times[2] + times[3]):.2f}" if torch else "-"
        rows.append((f"{i} {type(layer).__name__}", str(tuple(y.shape)), *ms, ratio))
        x = y
    ratio = f"{(totals[0] + totals[1]) / (totals[2] + totals[3]):.2f}" if torch else "-"
    rows.append(("total per batch", "", *[f"{1e3 * t:.2f}" for t in totals], ratio))
    return rows, totals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="epochs per framework, alternating (default 2)")
    parser.add_argument("--repeats", type=int, default=30, help="repetitions per layer (default 30)")
    parser.add_argument("--layers-only", action="store_true", help="only the per-layer table")
    parser.add_argument("--child", choices=["tinyae", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child_tinyae(args.seed) if args.child == "tinyae" else child_torch(args.seed)))
        return

    torch = torch_or_none(2)
    print(f"machine: {machine_line()}; PyTorch: {torch.__version__ + ' CPU, 2 threads' if torch else 'not importable'}")
    print(f"\nper layer, batch {BATCH}, float32, ms (minimum of {args.repeats}):")
    rows, totals = layer_table(torch, args.repeats)
    print_table(rows, ("layer", "output", "tinyae fwd", "tinyae bwd", "torch fwd", "torch bwd", "tinyae/torch"))
    if args.layers_only:
        return

    results = {"tinyae": [], "torch": []}
    for round_ in range(args.rounds):
        results["tinyae"].append(run_child("tinyae", round_))
        if torch:
            results["torch"].append(run_child("torch", round_))
    print(f"\nwhole epochs (60000 MNIST images, batch {BATCH}, Adam lr 1e-3, MSE), {args.rounds} alternating rounds:")
    rows = []
    for name, runs in results.items():
        if runs:
            rows.append((name, " ".join(f"{r['seconds']:.1f}" for r in runs),
                         f"{statistics.median(r['seconds'] for r in runs):.1f}",
                         f"{max(r['peak_mb'] for r in runs):.0f}"))
    print_table(rows, ("framework", "seconds per epoch", "median", "peak memory MB (training only)"))
    if results["torch"]:
        t_ours = statistics.median(r["seconds"] for r in results["tinyae"])
        t_theirs = statistics.median(r["seconds"] for r in results["torch"])
        m_ours = max(r["peak_mb"] for r in results["tinyae"])
        m_theirs = max(r["peak_mb"] for r in results["torch"])
        print(f"\ntinyae / PyTorch: time {t_ours / t_theirs:.2f}, peak memory {m_ours / m_theirs:.2f}")


if __name__ == "__main__":
    main()
