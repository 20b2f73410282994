"""``tinyae probe`` and ``tinyae anomaly``: what an autoencoder's codes and errors are good for, with baselines."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .common import (CommandError, check_fits, data_options, dataset_name, figure, formatter, load_labelled,
                     load_model, model_name, positive_int, use_backend)


def _label_sizes(text: str) -> list:
    sizes = []
    for part in text.split(","):
        part = part.strip().lower()
        if part == "all":
            sizes.append(None)
        elif part.isdigit() and int(part) > 0:
            sizes.append(int(part))
        else:
            raise CommandError(f"--labels: expected numbers of labels or 'all', comma-separated, got {part!r}")
    return sizes


def cmd_probe(args) -> int:
    from .. import pca
    from ..apps import probe
    use_backend(args)
    sizes = _label_sizes(args.labels)
    model = load_model(args.model_file)
    x, y = load_labelled(args.dataset, "train", args.data_dir, not args.no_download)
    x_test, y_test = load_labelled(args.dataset, "test", args.data_dir, not args.no_download)
    check_fits(model, x, args.dataset)
    name = model_name(model, args.model_file)
    code_size = model.code_size if hasattr(model, "code_size") and model.code_size else None
    k = min(code_size or 32, 784)
    sources = [(f"{name} codes ({code_size or '?'} numbers)", model)]
    if not args.no_baselines:
        sources += [("raw pixels (784)", None), (f"PCA-{k}", pca.PCA(k).fit(x))]
    seeds = tuple(range(args.seeds))
    print(f"linear probes on {args.dataset}: features standardised with the training set's statistics; a softmax "
          f"classifier trained with Adam, its L2 strength chosen on a class-balanced 20 % validation split of the "
          f"training labels; class-balanced label draws, {len(seeds)} seed{'s' if len(seeds) > 1 else ''} "
          f"(one run with all labels); test accuracy on {len(x_test):,} images")
    sys.stdout.flush()
    rows = []
    for label, source in sources:
        train_f, test_f = probe.features(source, x), probe.features(source, x_test)
        result = probe.label_efficiency(train_f, y, test_f, y_test, sizes=sizes, seeds=seeds, steps=args.steps)
        rows.append((label, [result[size] for size in sizes]))
        cells = "  ".join(_cell(result[size]) for size in sizes)
        print(f"  {label}: {cells}", flush=True)
    header = ["features"] + [("all" if s is None else f"{s:,}") + " labels" for s in sizes]
    width = max(len(label) for label, _ in rows)
    print()
    print(f"{header[0]:<{width}}  " + "  ".join(f"{h:>16}" for h in header[1:]))
    for label, cells in rows:
        print(f"{label:<{width}}  " + "  ".join(f"{_cell(c):>16}" for c in cells))
    return 0


def _cell(result) -> str:
    if len(result["runs"]) == 1:
        return f"{100 * result['mean']:.2f} %"
    return f"{100 * result['mean']:.2f} ± {100 * result['std']:.2f} %"


def cmd_anomaly(args) -> int:
    from .. import fit, models, optim, pca, plot
    from ..apps import anomaly
    if args.model not in models.ZOO:
        raise CommandError(f"unknown model {args.model!r}: choose one of {', '.join(sorted(models.ZOO))}")
    use_backend(args)
    x, y = load_labelled(args.dataset, "train", args.data_dir, not args.no_download)
    x_test, y_test = load_labelled(args.dataset, "test", args.data_dir, not args.no_download)
    classes = int(y.max()) + 1
    if not 0 <= args.normal < classes:
        raise CommandError(f"--normal must be a class of {args.dataset}, 0..{classes - 1}, got {args.normal}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} is a file; give a folder to write the figures into")
    normal = x[y == args.normal]
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(normal))
    n_val = max(1, len(normal) // 10)
    x_fit, x_val = normal[order[n_val:]], normal[order[:n_val]]
    model = models.build(args.model, seed=args.seed)
    check_fits(model, x, args.dataset)
    print(f"one-class anomaly detection on {args.dataset}: class {args.normal} is normal; {args.model} trained on "
          f"{len(x_fit):,} of its training images ({n_val:,} held out to set the threshold), no anomaly and no label "
          f"in training; the {len(x_test):,} test images scored by their squared error per image")
    fit(model, x_fit, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, verbose=0 if args.quiet else 1,
        optimizer=optim.Adam(model.parameters(), lr=1e-3))
    baseline = pca.PCA(args.pca).fit(x_fit)
    is_anomaly = y_test != args.normal
    results = {}
    for label, scorer in ((args.model, model), (f"PCA-{args.pca}", baseline)):
        s = anomaly.scores(scorer, x_test)
        threshold = anomaly.threshold_at_fpr(anomaly.scores(scorer, x_val), args.fpr)
        results[label] = {"scores": s, "auc": anomaly.auc(s, is_anomaly), "threshold": threshold,
                          "roc": anomaly.roc_curve(s, is_anomaly)}
    for label, r in results.items():
        flagged = r["scores"] > r["threshold"]
        print(f"{label}: AUC {r['auc']:.4f}; at a threshold set for {args.fpr:.0%} false positives on the held-out "
              f"normal images: {flagged[is_anomaly].mean():.1%} of the anomalies flagged, "
              f"{flagged[~is_anomaly].mean():.1%} of the normal test images")
    ours = results[args.model]
    out.mkdir(parents=True, exist_ok=True)
    order = np.argsort(ours["scores"])
    paths = {"roc.png": "ROC curves", "histograms.png": "score histograms",
             "most_anomalous.png": "the 32 highest-scoring test images", "least_anomalous.png": "the 32 lowest"}
    figure(lambda: plot.roc_curves({k: (r["roc"][0], r["roc"][1], r["auc"]) for k, r in results.items()},
                                   out / "roc.png", title=f"{args.dataset}: class {args.normal} normal"), "roc.png")
    figure(lambda: plot.score_histograms(ours["scores"][~is_anomaly], ours["scores"][is_anomaly],
                                         out / "histograms.png", threshold=ours["threshold"],
                                         title=f"{args.model}: squared error per test image"), "histograms.png")
    figure(lambda: plot.image_grid(x_test[order[::-1][:32]], out / "most_anomalous.png",
                                   title="most anomalous test images"), "most_anomalous.png")
    figure(lambda: plot.image_grid(x_test[order[:32]], out / "least_anomalous.png",
                                   title="least anomalous test images"), "least_anomalous.png")
    print("wrote:")
    for name, what in paths.items():
        print(f"  {out / name}  ({what})")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "probe", formatter_class=formatter, help="linear-probe accuracy of a saved model's codes, beside pixels and PCA",
        description="Encode a data set's training and test images with a saved autoencoder and measure how\n"
                    "well a linear softmax classifier does on the codes, with few or all labels; the same\n"
                    "protocol on the raw pixels and on PCA at the code's size (or 32), for comparison.\n"
                    "Prints the test accuracy: mean ± standard deviation over the seeds of the label draws.",
        epilog="example:\n"
               "  tinyae train --model deep --epochs 10 --out runs/deep\n"
               "  tinyae probe --model-file runs/deep/model.npz --dataset mnist --labels 100,1000,all")
    p.add_argument("--model-file", required=True, metavar="PATH", help="a model file (.npz) written by tinyae train")
    p.add_argument("--dataset", default="mnist", type=dataset_name, metavar="NAME",
                   help="mnist, fashion_mnist or shapes (default: mnist)")
    p.add_argument("--labels", default="100,1000,all", metavar="LIST",
                   help="numbers of labelled training images, comma-separated, 'all' for all (default: 100,1000,all)")
    p.add_argument("--seeds", type=positive_int, default=3, metavar="N",
                   help="label draws per number of labels (default: 3)")
    p.add_argument("--no-baselines", action="store_true", help="only the model's codes, no pixels and PCA rows")
    p.add_argument("--steps", type=positive_int, default=None, metavar="N",
                   help="Adam steps per classifier (default: min(12000, max(2000, 10 x labelled images)); fewer for "
                        "a quick look)")
    data_options(p)
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser(
        "anomaly", formatter_class=formatter, help="train on one class, detect the others by reconstruction error",
        description="One-class anomaly detection: train a zoo model on the training images of one class\n"
                    "only, score every test image by its squared reconstruction error, and print the AUC\n"
                    "of 'other classes' against 'this class', beside PCA fitted on the same images. Writes\n"
                    "the ROC curves, the histograms of the scores, and the most and least anomalous test\n"
                    "images into --out.",
        epilog="example:\n"
               "  tinyae anomaly --model deep --normal 3 --dataset fashion_mnist --out runs/anomaly")
    p.add_argument("--model", default="deep", metavar="NAME", help="a zoo model (default: deep)")
    p.add_argument("--normal", type=int, required=True, metavar="CLASS", help="the class taken as normal")
    p.add_argument("--dataset", default="mnist", type=dataset_name, metavar="NAME",
                   help="mnist, fashion_mnist or shapes (default: mnist)")
    p.add_argument("--out", required=True, metavar="FOLDER", help="folder for the figures")
    p.add_argument("--epochs", type=positive_int, default=30, metavar="N", help="(default: 30)")
    p.add_argument("--batch-size", type=positive_int, default=128, metavar="N", help="(default: 128)")
    p.add_argument("--pca", type=positive_int, default=32, metavar="K", help="PCA baseline components (default: 32)")
    p.add_argument("--fpr", type=float, default=0.05, metavar="RATE",
                   help="false-positive rate the threshold is set for, on held-out normal images (default: 0.05)")
    p.add_argument("--seed", type=int, default=0, help="(default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    data_options(p)
    p.set_defaults(func=cmd_anomaly)
