"""The `denoise` model (keras-io's convolutional denoiser) against the same model in PyTorch: test BCE and PSNR.

    TINYAE_DATA_DIR=../shared/data python benchmarks/denoise.py [--epochs 10] [--chunks 10]

Protocol: MNIST, pixels / 255; the noisy training copy drawn once, x + 0.4·N(0, 1) clipped to
[0, 1] with a fixed seed (as keras-io's ``noise()`` does; keras-io itself first trains 50
epochs on clean images, then 100 on noisy ones: here 10 epochs from scratch on the noisy
copy); the 10,000 test images with their own fixed noisy copy; batch 128, shuffled every
epoch (the same permutation for both frameworks), Adam lr 1e-3 (Keras's default), BCE per
pixel between the restored noisy input and the clean target. Figures on the test set:
that BCE (a mean per pixel), and the PSNR of the restored images against the clean ones
(dB, peak 1, the mean of per-image values), beside the noisy input's own PSNR.

The PyTorch twin is the same model layer for layer, with Keras's 'same' alignment of the
stride-2 transposed convolutions (ConvTranspose2d without padding, then the last row and
column dropped: tinyae's ConvTranspose2d + Crop2d), started from tinyae's initial weights
(copied), trained on the same noisy arrays in the same order. Each framework trains in a
child process of its own, the two taking turns every 1/``--chunks`` epoch
(benchmarks/turns.py); evaluation is not timed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

from common import gemm_rate, machine_line, print_table, torch_or_none  # noqa: E402
from turns import Turns, child_main, epoch_chunks  # noqa: E402

BATCH = 128
NOISE = 0.4
TRAIN_NOISE_SEED, TEST_NOISE_SEED = 1, 2


def data():
    """Clean and noisy training and test images: the same arrays in both children."""
    from tinyae import corrupt, datasets
    x, x_test = np.array(datasets.mnist("train")[0]), np.array(datasets.mnist("test")[0])
    return (x, corrupt.gaussian(x, NOISE, seed=TRAIN_NOISE_SEED),
            x_test, corrupt.gaussian(x_test, NOISE, seed=TEST_NOISE_SEED))


def schedule(n: int, epochs: int, chunks: int) -> list[np.ndarray]:
    return [part for e in range(epochs) for part in epoch_chunks(n, BATCH, 1000 + e, chunks)]


def quality(restored, clean) -> dict:
    from tinyae import metrics
    return {"psnr": float(metrics.psnr(restored, clean).mean())}


class TinyaeDenoiser:
    def __init__(self, epochs, chunks):
        from tinyae import models, optim
        self.x, self.x_noisy, self.x_test, self.x_test_noisy = data()
        self.parts = schedule(len(self.x), epochs, chunks)
        self.model = models.build("denoise", seed=0)
        self.opt = optim.Adam(self.model.parameters(), lr=1e-3)

    def next_chunk(self):
        from tinyae import fit
        idx = self.parts.pop(0)
        fit(self.model, self.x_noisy[idx], self.x[idx], optimizer=self.opt, epochs=1, batch_size=BATCH,
            shuffle=False, verbose=0)

    def evaluate(self):
        from tinyae import evaluate
        bce = evaluate(self.model, self.x_test_noisy, self.x_test)
        return {"bce": bce, **quality(self.model.reconstruct(self.x_test_noisy), self.x_test),
                "noisy_psnr": quality(self.x_test_noisy, self.x_test)["psnr"]}

    def memory(self):
        return None


def torch_denoiser(torch):
    """keras-io's model in PyTorch, with Keras's 'same' alignment: ConvTranspose2d(padding=0), last row/col dropped."""
    nn = torch.nn

    class CropBottomRight(nn.Module):
        def forward(self, x):
            return x[:, :, :-1, :-1]

    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.ConvTranspose2d(32, 32, 3, stride=2), CropBottomRight(), nn.ReLU(),
        nn.ConvTranspose2d(32, 32, 3, stride=2), CropBottomRight(), nn.ReLU(),
        nn.Conv2d(32, 1, 3, padding=1), nn.Sigmoid())


class TorchDenoiser:
    def __init__(self, epochs, chunks):
        from tinyae import models
        torch = self.torch = torch_or_none(2)
        x, x_noisy, x_test, x_test_noisy = data()
        self.x, self.x_noisy = torch.from_numpy(x), torch.from_numpy(x_noisy)
        self.x_test, self.x_test_noisy = x_test, x_test_noisy
        self.parts = [torch.from_numpy(p) for p in schedule(len(x), epochs, chunks)]
        self.model = torch_denoiser(torch)
        ours = [layer for layer in models.build("denoise", seed=0).layers if layer.params]
        theirs = [module for module in self.model if list(module.parameters())]
        with torch.no_grad():                               # the same initial weights (PyTorch's layouts)
            for a, b in zip(ours, theirs):
                b.weight.copy_(torch.from_numpy(np.array(a.W.data)))
                b.bias.copy_(torch.from_numpy(np.array(a.b.data)))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def next_chunk(self):
        idx = self.parts.pop(0)
        self.model.train()
        for start in range(0, len(idx), BATCH):
            batch = idx[start:start + BATCH]
            self.opt.zero_grad(set_to_none=True)
            loss = self.torch.nn.functional.binary_cross_entropy(self.model(self.x_noisy[batch]), self.x[batch])
            loss.backward()
            self.opt.step()

    def evaluate(self):
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            restored = np.concatenate([self.model(torch.from_numpy(self.x_test_noisy[i:i + 1000])).numpy()
                                       for i in range(0, len(self.x_test), 1000)])
            bce = float(torch.nn.functional.binary_cross_entropy(torch.from_numpy(restored),
                                                                 torch.from_numpy(self.x_test)))
        return {"bce": bce, **quality(restored, self.x_test)}

    def memory(self):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10, help="epochs (default 10)")
    parser.add_argument("--chunks", type=int, default=10, help="turns per epoch (default 10)")
    parser.add_argument("--child", choices=["tinyae", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(lambda: (TinyaeDenoiser if args.child == "tinyae" else TorchDenoiser)(args.epochs, args.chunks))
        return

    torch = torch_or_none(2)
    frameworks = ["tinyae", "torch"] if torch else ["tinyae"]
    print(f"machine: {machine_line()}; float32 GEMM rate (1024³): {gemm_rate():.0f} GFLOP/s; PyTorch: "
          f"{torch.__version__ + ' CPU, 2 threads' if torch else 'not importable: tinyae only'}")
    print(f"protocol: MNIST, noise {NOISE}·N(0, 1) clipped, drawn once (seeds {TRAIN_NOISE_SEED} train, "
          f"{TEST_NOISE_SEED} test); batch {BATCH}, Adam 1e-3, BCE per pixel (noisy input, clean target); "
          f"same initial weights\n")
    turns = Turns(__file__, frameworks, ["--epochs", str(args.epochs), "--chunks", str(args.chunks)])
    rows, seconds, k = [], {name: [] for name in frameworks}, 0
    for epoch in range(1, args.epochs + 1):
        before = dict(turns.seconds)
        for _ in range(args.chunks):
            turns.step(k)
            k += 1
        for name in frameworks:
            seconds[name].append(turns.seconds[name] - before[name])
        figures = turns.evaluate()
        ours = figures["tinyae"]
        row = [str(epoch), f"{ours['bce']:.4f}", f"{ours['psnr']:.2f}", f"{seconds['tinyae'][-1]:.1f}"]
        if torch:
            theirs = figures["torch"]
            row += [f"{theirs['bce']:.4f}", f"{theirs['psnr']:.2f}", f"{seconds['torch'][-1]:.1f}",
                    f"{ours['bce'] / theirs['bce'] - 1:+.2%}"]
        rows.append(tuple(row))
        print(f"epoch {epoch}: " + "  ".join(row[1:]), flush=True)
    turns.close()
    header = ("epoch", "tinyae test BCE", "tinyae PSNR dB", "tinyae s")
    if torch:
        header += ("PyTorch test BCE", "PyTorch PSNR dB", "PyTorch s", "tinyae vs PyTorch BCE")
    print()
    print_table(rows, header)
    print(f"\nafter {args.epochs} epochs: noisy test input {ours['noisy_psnr']:.2f} dB; tinyae restores it to "
          f"{ours['psnr']:.2f} dB (test BCE {ours['bce']:.4f} per pixel)")
    if torch:
        t_ours, t_theirs = statistics.median(seconds["tinyae"]), statistics.median(seconds["torch"])
        print(f"PyTorch: {theirs['psnr']:.2f} dB (test BCE {theirs['bce']:.4f}); tinyae / PyTorch - 1 = "
              f"{ours['bce'] / theirs['bce'] - 1:+.2%}")
        print(f"seconds per epoch (median, training only): tinyae {t_ours:.1f}, PyTorch {t_theirs:.1f}: "
              f"ratio {t_ours / t_theirs:.2f}")


if __name__ == "__main__":
    main()
