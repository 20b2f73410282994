"""The `vae` model against pytorch/examples' VAE, trained side by side: test objective and seconds per epoch.

    TINYAE_DATA_DIR=../shared/data python benchmarks/vae.py [--epochs 10] [--chunks 10]

Protocol (pytorch/examples, vae/main.py, as published): MNIST, pixels / 255, the 60,000
training images, batch 128, shuffled every epoch, Adam lr 1e-3, 10 epochs; the model
784 → 400 (ReLU) → μ, log σ² (20 each) | z (20) → 400 (ReLU) → 784 (sigmoid); the
objective BCE summed over the pixels + KL(q(z|x) ‖ N(0, I)), reported in nats per image.
The test figure is the objective on the 10,000 test images with z drawn from q (one
sample per image, as pytorch/examples' ``test()`` does, which samples even in eval mode):
a single-sample Monte Carlo estimate of the negative ELBO. tinyae prints that estimate
(``VAE.negative_elbo(samples=1)``) beside its deterministic figure with z = μ
(``evaluate``), which is lower for a trained model (by about 8 nats here).

The PyTorch side is pytorch/examples' model and loss, line for line (its own
initialisation, ``torch.manual_seed(1)``, its own ε from ``torch.randn_like``); it trains
on the same shuffled batches as tinyae (the same permutation each epoch), so the two runs
differ only in their initial weights and their draws of ε. Each framework trains in a
child process of its own, the two taking turns every 1/``--chunks`` epoch
(benchmarks/turns.py), so that their seconds per epoch see the same machine; evaluation
is not timed.
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


def data():
    from tinyae import datasets
    return np.array(datasets.mnist("train")[0]), np.array(datasets.mnist("test")[0])


def schedule(n: int, epochs: int, chunks: int) -> list[np.ndarray]:
    """Every chunk of every epoch, in order: epoch e shuffled with seed 1000 + e, the same for both frameworks."""
    return [part for e in range(epochs) for part in epoch_chunks(n, BATCH, 1000 + e, chunks)]


class TinyaeVAE:
    def __init__(self, epochs, chunks):
        from tinyae import models, optim
        self.x, self.x_test = data()
        self.parts = schedule(len(self.x), epochs, chunks)
        self.model = models.build("vae", seed=0)
        self.opt = optim.Adam(self.model.parameters(), lr=1e-3)
        self.seen, self.total = 0, 0.0

    def next_chunk(self):
        from tinyae import fit
        xs = self.x[self.parts.pop(0)]
        history = fit(self.model, xs, optimizer=self.opt, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
        self.total += history.loss[-1] * len(xs)
        self.seen += len(xs)

    def evaluate(self):
        from tinyae import evaluate
        sampled = self.model.negative_elbo(self.x_test, samples=1, seed=0)
        mean_z = evaluate(self.model, self.x_test, parts=True)
        train, self.seen, self.total = self.total / self.seen, 0, 0.0
        return {"train": train, "test_sampled": sampled["total"], "test_bce": sampled["data"],
                "test_kl": sampled["kl"], "test_mean_z": mean_z["total"]}

    def memory(self):
        return None


class TorchVAE:
    """pytorch/examples' vae/main.py: its model, loss and optimiser, on the same batches."""

    def __init__(self, epochs, chunks):
        torch = self.torch = torch_or_none(2)
        nn, F = torch.nn, torch.nn.functional
        torch.manual_seed(1)

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(784, 400)
                self.fc21 = nn.Linear(400, 20)
                self.fc22 = nn.Linear(400, 20)
                self.fc3 = nn.Linear(20, 400)
                self.fc4 = nn.Linear(400, 784)

            def encode(self, x):
                h1 = F.relu(self.fc1(x))
                return self.fc21(h1), self.fc22(h1)

            def reparameterize(self, mu, logvar):
                std = torch.exp(0.5 * logvar)
                eps = torch.randn_like(std)
                return mu + eps * std

            def decode(self, z):
                h3 = F.relu(self.fc3(z))
                return torch.sigmoid(self.fc4(h3))

            def forward(self, x):
                mu, logvar = self.encode(x.view(-1, 784))
                z = self.reparameterize(mu, logvar)
                return self.decode(z), mu, logvar

        def loss_function(recon_x, x, mu, logvar):
            bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            return bce + kld, bce, kld

        self.loss_function = loss_function
        x, x_test = data()
        self.x, self.x_test = torch.from_numpy(x), torch.from_numpy(x_test)
        self.parts = [torch.from_numpy(p) for p in schedule(len(x), epochs, chunks)]
        self.model = VAE()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.seen, self.total = 0, 0.0

    def next_chunk(self):
        idx = self.parts.pop(0)
        self.model.train()
        for start in range(0, len(idx), BATCH):
            data = self.x[idx[start:start + BATCH]]
            self.opt.zero_grad()
            recon, mu, logvar = self.model(data)
            loss, _, _ = self.loss_function(recon, data, mu, logvar)
            loss.backward()
            self.total += loss.item()
            self.opt.step()
        self.seen += len(idx)

    def evaluate(self):
        torch = self.torch
        self.model.eval()
        total = bce = kld = 0.0
        with torch.no_grad():
            for start in range(0, len(self.x_test), BATCH):
                data = self.x_test[start:start + BATCH]
                recon, mu, logvar = self.model(data)
                loss, b, k = self.loss_function(recon, data, mu, logvar)
                total, bce, kld = total + loss.item(), bce + b.item(), kld + k.item()
        n = len(self.x_test)
        train, self.seen, self.total = self.total / self.seen, 0, 0.0
        return {"train": train, "test_sampled": total / n, "test_bce": bce / n, "test_kl": kld / n}

    def memory(self):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10, help="epochs (default 10, as pytorch/examples)")
    parser.add_argument("--chunks", type=int, default=10, help="turns per epoch (default 10)")
    parser.add_argument("--child", choices=["tinyae", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(lambda: (TinyaeVAE if args.child == "tinyae" else TorchVAE)(args.epochs, args.chunks))
        return

    torch = torch_or_none(2)
    frameworks = ["tinyae", "torch"] if torch else ["tinyae"]
    print(f"machine: {machine_line()}; float32 GEMM rate (1024³): {gemm_rate():.0f} GFLOP/s; PyTorch: "
          f"{torch.__version__ + ' CPU, 2 threads' if torch else 'not importable: tinyae only'}")
    print(f"pytorch/examples' VAE protocol: MNIST train 60,000 / test 10,000, batch {BATCH}, Adam 1e-3, "
          f"objective BCE summed over pixels + KL, nats per image; test: one z drawn per image\n")
    turns = Turns(__file__, frameworks, ["--epochs", str(args.epochs), "--chunks", str(args.chunks)])
    rows, seconds = [], {name: [] for name in frameworks}
    k = 0
    for epoch in range(1, args.epochs + 1):
        before = dict(turns.seconds)
        for _ in range(args.chunks):
            turns.step(k)
            k += 1
        for name in frameworks:
            seconds[name].append(turns.seconds[name] - before[name])
        figures = turns.evaluate()
        ours = figures["tinyae"]
        row = [str(epoch), f"{ours['train']:.2f}", f"{ours['test_sampled']:.2f}", f"{ours['test_mean_z']:.2f}",
               f"{seconds['tinyae'][-1]:.2f}"]
        if torch:
            theirs = figures["torch"]
            row += [f"{theirs['train']:.2f}", f"{theirs['test_sampled']:.2f}", f"{seconds['torch'][-1]:.2f}",
                    f"{ours['test_sampled'] / theirs['test_sampled'] - 1:+.2%}"]
        rows.append(tuple(row))
        print(f"epoch {epoch}: " + "  ".join(rows[-1][1:]), flush=True)
    turns.close()
    header = ("epoch", "tinyae train", "tinyae test (z sampled)", "tinyae test (z = μ)", "tinyae s")
    if torch:
        header += ("PyTorch train", "PyTorch test (z sampled)", "PyTorch s", "tinyae vs PyTorch test")
    print()
    print_table(rows, header)
    print(f"\nafter {args.epochs} epochs, test objective in nats per image (z sampled, one draw per image): "
          f"tinyae {ours['test_sampled']:.2f} (BCE {ours['test_bce']:.2f} + KL {ours['test_kl']:.2f}; "
          f"with z = μ: {ours['test_mean_z']:.2f})")
    if torch:
        t_ours, t_theirs = statistics.median(seconds["tinyae"]), statistics.median(seconds["torch"])
        print(f"PyTorch {theirs['test_sampled']:.2f} (BCE {theirs['test_bce']:.2f} + KL {theirs['test_kl']:.2f}); "
              f"tinyae / PyTorch - 1 = {ours['test_sampled'] / theirs['test_sampled'] - 1:+.2%}")
        print(f"seconds per epoch (median of {args.epochs}, training only): tinyae {t_ours:.2f}, PyTorch "
              f"{t_theirs:.2f}: ratio {t_ours / t_theirs:.2f}")


if __name__ == "__main__":
    main()
