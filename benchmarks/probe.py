"""Codes for recognition: linear probes of autoencoder codes against raw pixels and PCA, and fine-tuning.

    TINYAE_DATA_DIR=../shared/data python benchmarks/probe.py [--seeds 3] [--skip-finetune]

Protocol (tinyae.apps.probe): MNIST, pixels / 255, the standard split (60,000 training, 10,000
test images). Features: the raw pixels (784), PCA-32 fitted on the training images, and the
codes of zoo models trained on the training images without labels — `deep` (32 numbers, 10
epochs), `vae` (μ, 20 numbers, 10 epochs), `dae1000` (1000 numbers, 10 epochs). Each feature
set is standardised with the training set's mean and standard deviation; a linear softmax
classifier is trained with Adam (12,000 steps of 256 at most, the rate annealed from 3e-3 on a
cosine); its L2 strength is chosen from {0, 1e-4, 1e-3, 1e-2} on a class-balanced 20 %
validation split of the labelled training images (never on the test set), then it is trained
on all of them; test accuracy on the 10,000 test images. Labels: 100, 1,000, 10,000 (class-
balanced draws, ``--seeds`` seeds, mean ± standard deviation) and all 60,000 (one run).

Fine-tuning: the encoder of `deep` and of `dae1000`, each plus a Dense head to 10 classes,
trained end to end with softmax cross-entropy (Adam 1e-3, batch 128, 10 epochs), against the
same network from a fresh initialisation, and against the pretrained one with its head trained
alone for 2 epochs first; test accuracy after each epoch, and the RMS of the encoder's weights.

Reference runs quoted by the project's issue (standard PyTorch autoencoders, scikit-learn's
logistic regression): raw pixels 92.6 / 74.0 / 87.5 % (all / 100 / 1000 labels), PCA-32 90.1 /
69.6 / 86.0 %, a 784-128-32 AE's ReLU code 89.3 / 72.1 / 85.7 %, VAE μ 88.6 / 72.7 / 86.2 %.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

from common import machine_line, print_table  # noqa: E402

MODELS = {"deep": (10, 256), "vae": (10, 128), "dae1000": (10, 128)}     # epochs, batch size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--skip-finetune", action="store_true")
    args = parser.parse_args(argv)

    from tinyae import datasets, fit, models, pca
    from tinyae.apps import probe
    x, y = datasets.mnist("train")
    x_test, y_test = datasets.mnist("test")
    print(f"machine: {machine_line()}")
    print("linear probes on MNIST: standardised features, softmax classifier (Adam, cosine-annealed), L2 chosen on a "
          "20 % validation split of the training labels; test accuracy on 10,000 images\n", flush=True)
    sources = {"raw pixels (784)": None, "PCA-32": pca.PCA(32).fit(x)}
    trained = {}
    for name, (epochs, batch) in MODELS.items():
        model = models.build(name, seed=0)
        start = time.perf_counter()
        fit(model, x, epochs=epochs, batch_size=batch, seed=0, verbose=0)
        trained[name] = model
        code = "μ" if name == "vae" else "code"
        sources[f"{name} {code} ({model.code_size})"] = model
        print(f"trained {name} without labels: {epochs} epochs in {time.perf_counter() - start:.0f} s", flush=True)
    sizes = (100, 1000, 10000, None)
    rows = []
    for label, source in sources.items():
        f, f_test = probe.features(source, x), probe.features(source, x_test)
        result = probe.label_efficiency(f, y, f_test, y_test, sizes=sizes, seeds=tuple(range(args.seeds)))
        cells = [f"{100 * result[s]['mean']:.2f}" + (f" ± {100 * result[s]['std']:.2f}" if s is not None else "")
                 for s in sizes]
        rows.append((label, *cells))
        print(f"  {label}: " + "  ".join(cells), flush=True)
    print(f"\ntest accuracy (%), mean ± standard deviation over {args.seeds} class-balanced draws of the labels:")
    print_table(rows, ("features", "100 labels", "1,000 labels", "10,000 labels", "all 60,000"))

    if args.skip_finetune:
        return
    print("\nfine-tuning: encoder + Dense head, end to end, Adam 1e-3, batch 128, 10 epochs; test accuracy (%) after "
          "each epoch")
    rows = []
    for name in ("deep", "dae1000"):
        ae, fresh = trained[name], models.build(name, seed=1)
        k = ae.code_size
        runs = {"pretrained": (probe.classifier(ae.encoder, k, seed=5), 0),
                "from scratch": (probe.classifier(fresh.encoder, k, seed=5), 0),
                "pretrained, head first (2 epochs)": (probe.classifier(ae.encoder, k, seed=5), 2)}
        for label, (net, head_epochs) in runs.items():
            scale = probe.weight_scale(net.layers[0])
            start = time.perf_counter()
            result = probe.fine_tune(net, x, y, x_test, y_test, epochs=10, head_epochs=head_epochs)
            curve = [f"{100 * acc:.2f}" for _, _, acc in result["history"]]
            rows.append((name, label, f"{scale:.4f}", " ".join(curve), f"{100 * result['accuracy']:.2f}"))
            print(f"  {name}, {label}: {' '.join(curve)} ({time.perf_counter() - start:.0f} s)", flush=True)
    print_table(rows, ("encoder", "start", "encoder weight RMS", "test accuracy by epoch", "final"))


if __name__ == "__main__":
    main()
