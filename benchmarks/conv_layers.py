"""Forward and backward time of each conv layer of the `conv` model, beside PyTorch.

    python benchmarks/conv_layers.py [--repeats 40] [--batch 64] [--batch-last auto|yes|no]

The four layers of the target model at its shapes (MNIST 28×28, batch 64, float32):

    conv1   Conv2d(1→32, 3, pad 1)                         (64, 1, 28, 28) -> (64, 32, 28, 28)
    conv2   Conv2d(32→64, 3, pad 1)                        (64, 32, 14, 14) -> (64, 64, 14, 14)
    convT1  ConvTranspose2d(64→32, 3, s 2, pad 1, op 1)    (64, 64, 7, 7)  -> (64, 32, 14, 14)
    convT2  ConvTranspose2d(32→1, 3, s 2, pad 1, op 1)     (64, 32, 14, 14) -> (64, 1, 28, 28)

"backward" is what training runs: the weight and bias gradients, plus the input
gradient except for conv1 (the model's first layer: `Sequential.backward(..., input_grad=False)`
skips it; PyTorch skips it too since the images do not require a gradient). PyTorch
runs on the CPU with 2 threads, its backward timed alone after an untimed forward.

Timing: every repetition runs tinyae's and PyTorch's call back to back, so both see the
same machine load; the table shows the minimum over the repetitions (the least
disturbed run; other processes only ever add time) and the ratio tinyae / PyTorch
(below 1: tinyae is faster). ``--batch-last`` forces the columns' memory order
(see tinyae/im2col.py), to compare the two orders. The inputs and gradients are laid
out in memory as inside the model: batch-last after a batch-last layer.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from tinyae import backend, layers  # noqa: E402

from common import in_memory_order_of, machine_line, torch_or_none  # noqa: E402

LAYERS = [
    # name, class, (in, out, kernel), keyword arguments, input (C, H, W), input gradient needed
    ("conv1", "Conv2d", (1, 32, 3), {"padding": 1}, (1, 28, 28), False),
    ("conv2", "Conv2d", (32, 64, 3), {"padding": 1}, (32, 14, 14), True),
    ("convT1", "ConvTranspose2d", (64, 32, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (64, 7, 7), True),
    ("convT2", "ConvTranspose2d", (32, 1, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (32, 14, 14), True),
]


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def bench_layer(name, cls, args, kwargs, in_shape, input_grad, batch, repeats, torch):
    rng = np.random.default_rng(0)
    layer = getattr(layers, cls)(*args, **kwargs, rng=rng)
    x = rng.random((batch, *in_shape), dtype=np.float32)
    if name != "conv1" and layer.batch_last is not False:
        # inside the model, a layer after a batch-last conv gets its input batch-last in memory
        x = in_memory_order_of(np.empty(in_shape + (batch,), np.float32).transpose(3, 0, 1, 2), x)
    y = layer.forward(x)
    dy = in_memory_order_of(y, rng.standard_normal(y.shape, dtype=np.float32))   # as the next layer gives it

    def ours_backward():
        layer.forward(x)                                      # untimed: the backward needs a fresh forward
        return timed(lambda: layer.backward(dy, input_grad=input_grad))

    ours_f, ours_b, torch_f, torch_b = [], [], [], []
    if torch is not None:
        twin = getattr(torch.nn, cls)(*args, **kwargs)
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(layer.W.data))
            twin.bias.copy_(torch.from_numpy(layer.b.data))
        tx = torch.from_numpy(x).requires_grad_(input_grad)
        tdy = torch.from_numpy(dy)

        def torch_backward():
            twin.zero_grad(set_to_none=True)
            tx.grad = None
            ty = twin(tx)                                     # untimed forward (with the graph, as in training)
            return timed(lambda: ty.backward(tdy))

        assert np.allclose(twin(tx).detach().numpy(), y, atol=1e-4), f"{name}: tinyae and PyTorch disagree"
    for _ in range(2):                                        # warm-up
        layer.forward(x), ours_backward()
        if torch is not None:
            twin(tx), torch_backward()
    for _ in range(repeats):
        ours_f.append(timed(lambda: layer.forward(x)))
        ours_b.append(ours_backward())
        if torch is not None:
            torch_f.append(timed(lambda: twin(tx)))
            torch_b.append(torch_backward())
    best = lambda ts: min(ts) * 1e3 if ts else float("nan")   # noqa: E731
    return best(ours_f), best(ours_b), best(torch_f), best(torch_b), layer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batch-last", choices=["auto", "yes", "no"], default="auto",
                        help="memory order of the columns (default: what the layers choose)")
    args = parser.parse_args(argv)
    if args.batch_last != "auto":
        layers.Conv2d.batch_last = layers.ConvTranspose2d.batch_last = args.batch_last == "yes"
    backend.set_default_dtype("float32")
    torch = torch_or_none(threads=2)
    print(f"conv layers of the `conv` model, batch {args.batch}, float32, min of {args.repeats} runs (ms); "
          f"{machine_line()}" + ("" if torch is None else f", PyTorch {torch.__version__} (2 threads)"))
    header = ("layer", "columns", "fwd tinyae", "fwd torch", "ratio", "bwd tinyae", "bwd torch", "ratio")
    rows, totals = [], np.zeros(4)
    for spec in LAYERS:
        of, ob, tf, tb, layer = bench_layer(*spec, args.batch, args.repeats, torch)
        totals += (of, ob, tf, tb)
        order = "batch last" if layer._batch_last else "batch first"
        rows.append((spec[0], order, f"{of:.2f}", f"{tf:.2f}", f"{of / tf:.2f}", f"{ob:.2f}", f"{tb:.2f}",
                     f"{ob / tb:.2f}"))
    of, ob, tf, tb = totals
    rows.append(("total", "", f"{of:.2f}", f"{tf:.2f}", f"{of / tf:.2f}", f"{ob:.2f}", f"{tb:.2f}", f"{ob / tb:.2f}"))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).rjust(w) if i > 1 else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(f"forward + backward: tinyae {of + ob:.2f} ms, PyTorch {tf + tb:.2f} ms, ratio {(of + ob) / (tf + tb):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
