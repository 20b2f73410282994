"""The command line: ``tinyae train | reconstruct | gradcheck | models`` (also ``python -m tinyae``).

    tinyae train --model dense --dataset mnist --epochs 5 --out runs/dense
    tinyae reconstruct --model-file runs/dense/model.npz --dataset mnist --out recon.png
    tinyae gradcheck
    tinyae models

Errors that the user can fix (unknown model, missing data files, a bad model file,
no GPU for ``--backend cupy``) end the program with exit status 2 and one line,
``tinyae: error: <message>``, instead of a traceback. Every command's ``--help``
explains it and ends with an example.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from . import __version__, backend
from .errors import DataNotFoundError, DownloadError, ShapeError, TinyAEError

DATASETS = ("mnist", "fashion_mnist", "shapes", "shapes_rgb")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
LOSSES = ("mse", "bce")
BACKENDS = ("numpy", "cupy")
DEFAULT_BATCH_SIZE = {"conv": 64, "conv_rgb": 64}      # every other model: 256
DEFAULT_LR = {"adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "sgd": 10.0}
# The procedural shapes data set: fixed sizes and seeds, so that every run sees the same images
# and the test images are not the training images.
SHAPES_SPLITS = {"train": {"n": 10000, "seed": 0}, "test": {"n": 2000, "seed": 1}}


class CommandError(TinyAEError):
    """A command-line argument that cannot be used (reported as ``tinyae: error: ...``)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and a pointer to --help), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


# --- argument types ---------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _dataset_name(text: str) -> str:
    return text.replace("-", "_").lower()


# --- data ------------------------------------------------------------------------------------

def load_images(dataset: str, split: str = "train", data_dir=None, download: bool = True) -> np.ndarray:
    """The images (N, C, H, W) float32 in [0, 1] of ``split`` ("train" or "test") of ``dataset``."""
    from . import datasets
    if dataset in ("shapes", "shapes_rgb"):
        images, _ = datasets.shapes(size=28, channels=3 if dataset == "shapes_rgb" else 1, **SHAPES_SPLITS[split])
        return images
    if dataset == "mnist":
        images, _ = datasets.mnist(split, data_dir=data_dir, download=download)
        return images
    if dataset == "fashion_mnist":
        images, _ = datasets.fashion_mnist(split, data_dir=data_dir, download=download)
        return images
    raise CommandError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")


def _check_fits(model, images: np.ndarray, dataset: str) -> None:
    want = getattr(model, "input_shape", None)
    if want is not None and tuple(want) != tuple(images.shape[1:]):
        raise ShapeError(f"the model takes images of shape {tuple(want)}, but {dataset} has {tuple(images.shape[1:])}")


# --- tinyae train ---------------------------------------------------------------------------

def cmd_train(args) -> int:
    from . import losses, models, optim
    from .train import evaluate, fit, predict

    if args.model not in models.ZOO:
        raise CommandError(f"unknown model {args.model!r}: choose one of {', '.join(sorted(models.ZOO))} "
                         f"(see 'tinyae models')")
    if args.dataset not in DATASETS:
        raise CommandError(f"unknown dataset {args.dataset!r}: choose one of {', '.join(DATASETS)}")
    if args.backend:
        backend.use(args.backend)                 # before the model is built: its arrays are made there
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} is a file; give a folder to write the results into")
    say = (lambda *a, **k: None) if args.quiet else print

    x_train = load_images(args.dataset, "train", args.data_dir, not args.no_download)
    x_test = load_images(args.dataset, "test", args.data_dir, not args.no_download)
    if args.limit is not None:
        x_train = x_train[:args.limit]
    model = models.build(args.model, seed=args.seed)
    _check_fits(model, x_train, args.dataset)
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    optimizer = optim.OPTIMIZERS[args.optimizer](model.parameters(), lr=lr)
    loss = losses.get(args.loss)
    if args.loss == "bce" and not any(type(layer).__name__ == "Sigmoid" for layer in model.layers[-2:]):
        print(f"tinyae: warning: --loss bce expects outputs in (0, 1), but {args.model} has no sigmoid output; "
              f"its gradient is zero wherever the output leaves (0, 1)", file=sys.stderr)

    say(f"tinyae train: model {args.model} on {args.dataset} ({len(x_train):,} training images, "
        f"{len(x_test):,} test images of shape {tuple(x_train.shape[1:])}), backend {backend.name}")
    if args.batch_size is None:
        args.batch_size = DEFAULT_BATCH_SIZE.get(args.model, 256)
    say(f"{args.epochs} epochs, batch size {args.batch_size}, {args.optimizer} lr {lr:g}, "
        f"loss {loss.label} per pixel, seed {args.seed}")
    say(model.summary())
    sys.stdout.flush()

    checkpoint = out / "checkpoint.npz" if args.every else None
    if checkpoint is not None:
        out.mkdir(parents=True, exist_ok=True)
    if args.resume:
        say(f"resuming from {args.resume}")
    history = fit(model, x_train, loss=loss, optimizer=optimizer, epochs=args.epochs,
                  batch_size=args.batch_size, validation_data=x_test, seed=args.seed,
                  verbose=0 if args.quiet else 1, checkpoint=checkpoint, every=args.every or 1,
                  resume=args.resume)
    test_mse = history.val_loss[-1] if args.loss == "mse" else evaluate(model, x_test, loss="mse")
    seconds = float(np.mean(history.seconds))

    out.mkdir(parents=True, exist_ok=True)
    paths = {"model": models.save(model, out / "model.npz"), "history": out / "history.json"}
    record = history.to_dict()
    record["run"] = {"model": args.model, "dataset": args.dataset, "epochs": args.epochs,
                     "batch_size": args.batch_size, "optimizer": args.optimizer, "lr": lr, "loss": args.loss,
                     "seed": args.seed, "limit": args.limit, "backend": backend.name,
                     "train_images": len(x_train), "test_images": len(x_test),
                     "test_mse_per_pixel": test_mse, "seconds_per_epoch": seconds}
    with open(paths["history"], "w") as f:
        json.dump(record, f, indent=2)
    figures_skipped = None
    try:
        from . import plot
        paths["loss curves"] = out / "loss.png"
        plot.loss_curves(history, paths["loss curves"],
                         title=f"{args.model} on {args.dataset}: {loss.label} per pixel by epoch")
        shown = x_test[:10]
        paths["reconstructions"] = out / "reconstructions.png"
        plot.reconstruction_grid(shown, predict(model, shown), paths["reconstructions"], n=10,
                                 title=f"{args.model} on {args.dataset} test images "
                                       f"(test MSE {test_mse:.5f} per pixel)")
    except ImportError as exc:
        paths.pop("loss curves", None)
        paths.pop("reconstructions", None)
        figures_skipped = str(exc)

    print(f"test MSE: {test_mse:.5f} per pixel (mean over {len(x_test):,} test images x "
          f"{int(np.prod(x_test.shape[1:]))} pixels)")
    if args.loss != "mse":
        print(f"test {loss.label}: {history.val_loss[-1]:.5f} per pixel")
    print(f"time: {seconds:.2f} s per epoch (mean over {args.epochs} epoch{'s' if args.epochs > 1 else ''}, "
          f"validation included)")
    print("wrote:")
    for what, path in paths.items():
        print(f"  {path}  ({what})")
    if figures_skipped:
        print(f"tinyae: warning: figures not drawn: {figures_skipped}", file=sys.stderr)
    return 0


# --- tinyae reconstruct ----------------------------------------------------------------------

def cmd_reconstruct(args) -> int:
    from . import models, plot
    from .train import evaluate, predict

    if args.dataset not in DATASETS:
        raise CommandError(f"unknown dataset {args.dataset!r}: choose one of {', '.join(DATASETS)}")
    if args.backend:
        backend.use(args.backend)
    model = models.load(args.model_file)
    images = load_images(args.dataset, args.split, args.data_dir, not args.no_download)
    if args.limit is not None:
        images = images[:args.limit]
    _check_fits(model, images, args.dataset)
    shown = images[:args.n]
    name = getattr(model, "name", None) or Path(args.model_file).stem
    mse = evaluate(model, images, loss="mse")
    try:
        plot.reconstruction_grid(shown, predict(model, shown), args.out, n=args.n,
                                 title=f"{name} on {args.dataset} {args.split} images (MSE {mse:.5f} per pixel)")
    except ImportError as exc:          # no matplotlib: the message says how to install it
        raise CommandError(str(exc)) from None
    print(f"{args.split} MSE: {mse:.5f} per pixel (mean over {len(images):,} {args.split} images x "
          f"{int(np.prod(images.shape[1:]))} pixels)")
    print(f"wrote: {args.out}  ({min(args.n, len(images))} {args.split} images above their reconstructions)")
    return 0


# --- tinyae gradcheck, tinyae models ---------------------------------------------------------

def cmd_gradcheck(args) -> int:
    from . import gradcheck
    return gradcheck.main(args.names)


def describe_model(model) -> str:
    """'(1, 28, 28) -> 784 -> 256 -> 784 -> (1, 28, 28)': the shapes data take through ``model``."""
    from .layers.base import format_shape
    shapes = [(None, *model.input_shape)] if model.input_shape else []
    for shape in model.shapes():
        if not shapes or shape != shapes[-1]:
            shapes.append(shape)
    return " -> ".join(str(s[1]) if len(s) == 2 else format_shape(s[1:]) for s in shapes)


def cmd_models(args) -> int:
    from . import models
    names = sorted(models.ZOO)
    width = max(len(n) for n in names)
    for name in names:
        model = models.build(name)
        doc = (models.ZOO[name].__doc__ or "").strip().splitlines()
        print(f"{name:<{width}}  {model.num_parameters():>9,} parameters  {describe_model(model)}")
        if args.verbose and doc:
            print(f"{'':<{width}}  {doc[0]}")
    return 0


# --- the parser ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from . import models
    zoo = ", ".join(sorted(models.ZOO))

    parser = _Parser(
        prog="tinyae", formatter_class=_formatter,
        description="tinyae: autoencoders written from scratch in NumPy (CPU) and CuPy (GPU).\n\n"
                    "Train a model from the zoo on MNIST, Fashion-MNIST or generated shapes, draw its\n"
                    "reconstructions, list the models, or check every backward pass against finite\n"
                    "differences. Run 'tinyae COMMAND --help' for each command's options.",
        epilog="examples:\n"
               "  tinyae models\n"
               "  tinyae train --model dense --dataset mnist --epochs 5 --out runs/dense\n"
               "  tinyae reconstruct --model-file runs/dense/model.npz --dataset mnist --out recon.png\n"
               "  tinyae gradcheck\n\n"
               "MNIST is looked for in --data-dir, then $TINYAE_DATA_DIR, then the cache folder,\n"
               "and downloaded there if missing.")
    parser.add_argument("--version", action="version", version=f"tinyae {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # train
    p = sub.add_parser(
        "train", formatter_class=_formatter, help="train a model and write it, its history and figures",
        description="Train an autoencoder from the model zoo on a data set, validating on the test split\n"
                    "after each epoch, and write into the --out folder:\n\n"
                    "  model.npz            the trained model (load it with tinyae.models.load)\n"
                    "  history.json         training and validation loss, seconds and learning rate per epoch\n"
                    "  loss.png             the loss curves\n"
                    "  reconstructions.png  10 test images above their reconstructions\n\n"
                    "Losses are means over every pixel of every image (\"per pixel\"). The final test MSE\n"
                    "per pixel and the seconds per epoch are printed at the end.",
        epilog="example:\n"
               "  tinyae train --model dense --dataset mnist --epochs 5 --out runs/dense\n\n"
               "quick run on 1000 images, no data files needed:\n"
               "  tinyae train --model dense --dataset shapes --epochs 2 --limit 1000 --out runs/try")
    p.add_argument("--model", default="dense", metavar="NAME",
                   help=f"a model of the zoo: {zoo} (default: dense; 'tinyae models' lists them)")
    p.add_argument("--dataset", default="mnist", type=_dataset_name, metavar="NAME",
                   help="mnist, fashion_mnist, shapes (generated 28x28 circles, squares and triangles: "
                        "10000 training and 2000 test images, no files needed) or shapes_rgb (the same in "
                        "colour, for the conv_rgb model) (default: mnist)")
    p.add_argument("--epochs", type=_positive_int, default=5, metavar="N",
                   help="passes over the training data (default: 5)")
    p.add_argument("--out", required=True, metavar="FOLDER",
                   help="folder to write the results into (created if missing)")
    p.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                   help="images per step (default: 64 for the conv models, 256 for the others)")
    p.add_argument("--lr", type=_positive_float, default=None, metavar="RATE",
                   help="learning rate (default: 1e-3 for adam, adamw and rmsprop; 10 for sgd, which needs a "
                        "large rate because the loss is a mean over pixels)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="(default: adam)")
    p.add_argument("--loss", choices=LOSSES, default="mse",
                   help="mean squared error, or binary cross-entropy (for sigmoid outputs) (default: mse)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the shuffling (default: 0)")
    p.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                   help="use only the first N training images, for quick runs (the test split stays whole)")
    _data_options(p)
    p.add_argument("--every", type=_positive_int, default=None, metavar="K",
                   help="write FOLDER/checkpoint.npz every K epochs (and after the last), atomically, so that a "
                        "stopped run can go on with --resume")
    p.add_argument("--resume", default=None, metavar="CHECKPOINT",
                   help="continue the run saved in this checkpoint (same model, optimizer and batch size) up to "
                        "--epochs in total; the result equals an uninterrupted run to the bit on the CPU")
    p.add_argument("--quiet", action="store_true", help="no model summary, no progress bar: only the results")
    p.set_defaults(func=cmd_train)

    # reconstruct
    p = sub.add_parser(
        "reconstruct", formatter_class=_formatter, help="draw a saved model's reconstructions of test images",
        description="Load a model saved by 'tinyae train' (or tinyae.models.save), pass images of a data\n"
                    "set through it, and write a PNG with the first --n images above their reconstructions.\n"
                    "Prints the MSE per pixel over the whole split (or its first --limit images).",
        epilog="example:\n"
               "  tinyae reconstruct --model-file runs/dense/model.npz --dataset mnist --out recon.png")
    p.add_argument("--model-file", required=True, metavar="PATH", help="a model file (.npz) written by tinyae train")
    p.add_argument("--dataset", default="mnist", type=_dataset_name, metavar="NAME",
                   help="mnist, fashion_mnist, shapes or shapes_rgb (default: mnist)")
    p.add_argument("--out", required=True, metavar="PNG", help="where to write the figure")
    p.add_argument("--n", type=_positive_int, default=10, metavar="N", help="images to draw (default: 10)")
    p.add_argument("--split", choices=("test", "train"), default="test", help="(default: test)")
    p.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                   help="measure the MSE on the first N images only")
    _data_options(p)
    p.set_defaults(func=cmd_reconstruct)

    # gradcheck
    p = sub.add_parser(
        "gradcheck", formatter_class=_formatter, help="check every backward pass against finite differences",
        description="Compare the hand-written gradient of every layer, loss and zoo model with central\n"
                    "finite differences in float64, and print the largest relative error of each.\n"
                    "Every error should be below 1e-7; the exit status is 1 if one is not.",
        epilog="examples:\n"
               "  tinyae gradcheck\n"
               "  tinyae gradcheck Dense Sigmoid     (only the checks whose name contains a word)")
    p.add_argument("names", nargs="*", metavar="WORD", help="only the checks whose name contains one of these words")
    p.set_defaults(func=cmd_gradcheck)

    # models
    p = sub.add_parser(
        "models", formatter_class=_formatter, help="list the zoo's models with their sizes",
        description="List the models that 'tinyae train --model NAME' can build: their parameter counts\n"
                    "and the shapes an image takes through them, one model a line.",
        epilog="example:\n"
               "  tinyae models\n"
               "  tinyae models -v      (with a one-line description of each)")
    p.add_argument("-v", "--verbose", action="store_true", help="add each model's one-line description")
    p.set_defaults(func=cmd_models)
    return parser


def _data_options(p) -> None:
    p.add_argument("--data-dir", default=None, metavar="FOLDER",
                   help="folder holding mnist/ or fashion-mnist/ (default: $TINYAE_DATA_DIR, then the cache folder)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing data files")
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="numpy (CPU) or cupy (GPU) (default: numpy, or $TINYAE_BACKEND)")


def main(argv=None) -> int:
    """Run the command line; returns the exit status (2 for an error the user can fix)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except TinyAEError as exc:
        print(f"tinyae: error: {exc}", file=sys.stderr)
        if isinstance(exc, (DataNotFoundError, DownloadError)):
            print("tinyae: on the command line, give the folder that holds mnist/ (or fashion-mnist/) with "
                  "--data-dir FOLDER or TINYAE_DATA_DIR=FOLDER", file=sys.stderr)
        return 2
    except OSError as exc:                      # a folder that cannot be written, a full disk
        print(f"tinyae: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tinyae: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
