"""The `conv` model on MNIST at batch 64, float32: seconds per epoch, peak memory, and
forward/backward time of every layer, beside PyTorch CPU (2 threads) when importable.

    TINYAE_DATA_DIR=../shared/data python benchmarks/conv.py [--rounds 3] [--chunks 20] [--layers-only] [--gpu]

Epochs: each framework trains one epoch in a child process of its own (so that its peak
memory can be read alone). The two children take turns: each trains 1/``--chunks`` of
its epoch (about 47 batches), then waits while the other trains its next part, in the
order tinyae, PyTorch, PyTorch, tinyae, ... (see ``epoch_taking_turns``). This machine's
speed drifts by 20 % and more over tens of seconds; taking turns every second or two
makes both frameworks see the same drift, where whole epochs one after the other did
not. A framework's seconds per epoch are the sum of its turns: the same batches in the
same order as one ``fit`` epoch (tinyae trains with ``fit`` itself, on each part in
turn). ``--rounds`` epochs each; the figure is the median. Peak memory is the child's
peak resident set size during training (the peak is reset once the data are loaded)
minus its resident size just before training, so it counts what the training itself
needs: activations, gradients, optimizer state, buffers.

GPU (``--gpu``): the same turn-taking epochs with tinyae on its CuPy backend and PyTorch
on CUDA, each waiting for its GPU before a turn's clock stops; memory is then the peak
held by each framework's GPU allocator (CuPy's memory pool, PyTorch's caching
allocator). The per-layer table is CPU-only.

Layers: each layer of the model at its input shape, forward then backward (input
gradient only where training needs it), tinyae and PyTorch back to back, minimum over
the repetitions. The sum shows where an epoch's time goes. As in training, a ReLU
directly before a MaxPool2d runs inside the pool (docs/math/pooling.md, eqs. P9–P10): its
row shows 0 ms for tinyae, and the pool's row the pass that does both.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

from common import in_memory_order_of, machine_line, print_table, torch_or_none  # noqa: E402
from turns import Trainer, Turns, child_main, epoch_chunks  # noqa: E402

BATCH = 64


# --- one epoch per child process, the two children taking turns (benchmarks/turns.py) --------------

class TinyaeTrainer(Trainer):
    """fit on each chunk of one shuffled epoch in turn; on the GPU, memory is CuPy's pool high-water mark."""

    def __init__(self, x, parts, gpu: bool):
        from tinyae import backend, models, optim
        if gpu:
            backend.use("cupy")
        self.backend, self.gpu = backend, gpu
        self.model = models.build("conv", seed=0)
        self.opt = optim.Adam(self.model.parameters(), lr=1e-3)
        self.parts = [x[idx] for idx in parts]              # gathered before the clock starts

    def next_chunk(self):                                   # one fit epoch on these samples in this order
        from tinyae import fit
        fit(self.model, self.parts.pop(0), optimizer=self.opt, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
        if self.gpu:
            self.backend.xp.cuda.Device().synchronize()     # CuPy runs asynchronously: wait for the GPU

    def memory(self):                                       # it keeps blocks: its high-water mark
        return self.backend.xp.get_default_memory_pool().total_bytes() / 2**20 if self.gpu else None


def torch_conv_model(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())


class TorchTrainer(Trainer):
    """The same batches in PyTorch, each copied to the device as fit does for tinyae."""

    def __init__(self, x, parts, gpu: bool):
        self.torch = torch = torch_or_none(2)
        self.device, self.gpu = ("cuda" if gpu else "cpu"), gpu
        self.model = torch_conv_model(torch).to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.parts = [torch.from_numpy(x[idx]) for idx in parts]

    def next_chunk(self):
        xs = self.parts.pop(0)
        for start in range(0, len(xs), BATCH):
            xb = xs[start:start + BATCH].to(self.device)
            self.opt.zero_grad(set_to_none=True)
            loss = self.torch.nn.functional.mse_loss(self.model(xb), xb)
            loss.backward()
            self.opt.step()
        if self.gpu:
            self.torch.cuda.synchronize()

    def memory(self):                                       # on the GPU: the caching allocator's high-water mark
        return self.torch.cuda.max_memory_reserved() / 2**20 if self.gpu else None


def make_trainer(framework: str, seed: int, chunks: int, gpu: bool):
    from tinyae import datasets
    x = np.array(datasets.mnist("train")[0])
    parts = epoch_chunks(len(x), BATCH, seed, chunks)
    return (TinyaeTrainer if framework == "tinyae" else TorchTrainer)(x, parts, gpu)


def epoch_taking_turns(frameworks: list[str], seed: int, chunks: int, gpu: bool = False) -> dict:
    """One epoch per framework, each in its own child process, the children running a chunk of batches in turn."""
    turns = Turns(__file__, frameworks, ["--seed", str(seed), "--chunks", str(chunks)] + (["--gpu"] if gpu else []))
    for k in range(chunks):
        turns.step(k)
    peaks = turns.close()
    return {name: {"seconds": turns.seconds[name], "peak_mb": peaks[name]} for name in frameworks}


# --- per-layer times ------------------------------------------------------------------------------

def layer_table(torch, repeats: int):
    from tinyae import layers, models
    from tinyae.layers.container import relus_before_max_pool
    model = models.build("conv", seed=0)
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    tlayers = list(torch_conv_model(torch)) if torch else None
    fused = relus_before_max_pool(model.layers) if layers.Sequential.fuse_relu_max_pool else set()
    rows, totals = [], np.zeros(4)
    relu_input = None
    for i, layer in enumerate(model.layers):
        if i in fused:                                      # as in training: the next MaxPool2d does its work
            relu_input = x
        if i - 1 in fused:                                  # the pool computes max(0, window) (eq. P9)
            x, forward = relu_input, layer.forward_after_relu
        else:
            forward = layer.forward
        y = forward(x)
        dy = in_memory_order_of(y, rng.standard_normal(y.shape, dtype=np.float32))   # as in training
        need_dx = i > 0
        backward = (lambda: layer.backward(dy)) if need_dx or not layer.params else \
            (lambda: layer.backward(dy, input_grad=False))
        ours_f, ours_b, theirs_f, theirs_b = [], [], [], []
        if torch:
            tl = tlayers[i]
            tx = torch.from_numpy(x.copy()).requires_grad_(need_dx)
            tdy = torch.from_numpy(dy)
        for _ in range(repeats):
            start = time.perf_counter(); forward(x); ours_f.append(time.perf_counter() - start)
            start = time.perf_counter(); backward(); ours_b.append(time.perf_counter() - start)
            if i in fused:                                  # not run in training
                ours_f[-1] = ours_b[-1] = 0.0
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
        name = f"{i} {type(layer).__name__}" + (" (in the pool)" if i in fused else
                                                 " (after ReLU)" if i - 1 in fused else "")
        rows.append((name, str(tuple(y.shape)), *ms, ratio))
        x = y
    ratio = f"{(totals[0] + totals[1]) / (totals[2] + totals[3]):.2f}" if torch else "-"
    rows.append(("total per batch", "", *[f"{1e3 * t:.2f}" for t in totals], ratio))
    return rows, totals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="epochs per framework (default 3)")
    parser.add_argument("--repeats", type=int, default=30, help="repetitions per layer (default 30)")
    parser.add_argument("--layers-only", action="store_true", help="only the per-layer table")
    parser.add_argument("--chunks", type=int, default=20,
                        help="turns per epoch: each child trains 1/CHUNKS of its epoch per turn (default 20)")
    parser.add_argument("--gpu", action="store_true",
                        help="whole epochs on the GPU: tinyae's CuPy backend against PyTorch CUDA (needs CuPy and a "
                             "CUDA device; memory is then what each framework's GPU allocator holds at its peak)")
    parser.add_argument("--child", choices=["tinyae", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(lambda: make_trainer(args.child, args.seed, args.chunks, args.gpu))
        return

    torch = torch_or_none(2)
    if args.gpu:
        from tinyae import backend
        if "cupy" not in backend.available():
            sys.exit("--gpu: tinyae's CuPy backend is not available here (install CuPy; a CUDA device is needed)")
        torch = torch if torch is not None and torch.cuda.is_available() else None
        print(f"machine: {machine_line()}; GPU epochs, tinyae on CuPy; PyTorch: "
              f"{torch.__version__ + ' CUDA ' + torch.cuda.get_device_name() if torch else 'CUDA not available'}")
    else:
        print(f"machine: {machine_line()}; PyTorch: "
              f"{torch.__version__ + ' CPU, 2 threads' if torch else 'not importable'}")
        print(f"\nper layer, batch {BATCH}, float32, ms (minimum of {args.repeats}):")
        rows, totals = layer_table(torch, args.repeats)
        print_table(rows, ("layer", "output", "tinyae fwd", "tinyae bwd", "torch fwd", "torch bwd", "tinyae/torch"))
        if args.layers_only:
            return

    results = {"tinyae": [], "torch": []}
    frameworks = ["tinyae", "torch"] if torch else ["tinyae"]
    for round_ in range(args.rounds):
        for name, result in epoch_taking_turns(frameworks, round_, args.chunks, args.gpu).items():
            results[name].append(result)
    print(f"\nwhole epochs (60000 MNIST images, batch {BATCH}, Adam lr 1e-3, MSE), {args.rounds} rounds, "
          f"the two children taking turns every 1/{args.chunks} epoch" + (", on the GPU:" if args.gpu else ":"))
    rows = []
    for name, runs in results.items():
        if runs:
            rows.append((name, " ".join(f"{r['seconds']:.1f}" for r in runs),
                         f"{statistics.median(r['seconds'] for r in runs):.1f}",
                         f"{max(r['peak_mb'] for r in runs):.0f}"))
    print_table(rows, ("framework", "seconds per epoch", "median",
                       "peak GPU memory MB (allocator)" if args.gpu else "peak memory MB (training only)"))
    if results["torch"]:
        t_ours = statistics.median(r["seconds"] for r in results["tinyae"])
        t_theirs = statistics.median(r["seconds"] for r in results["torch"])
        m_ours = max(r["peak_mb"] for r in results["tinyae"])
        m_theirs = max(r["peak_mb"] for r in results["torch"])
        per_round = [a["seconds"] / b["seconds"] for a, b in zip(results["tinyae"], results["torch"])]
        print(f"\ntinyae / PyTorch: time {t_ours / t_theirs:.2f} (per round: "
              + " ".join(f"{r:.2f}" for r in per_round) + f"), peak memory {m_ours / m_theirs:.2f}")


if __name__ == "__main__":
    main()
