"""``tinyae train``: train a zoo model, write it, its history and its figures, print its test figures."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .. import backend
from .common import (CommandError, check_dataset, check_fits, data_options, dataset_name, formatter, load_images,
                     noise_spec, positive_float, positive_int, use_backend)

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
LOSSES = ("mse", "bce", "mse_per_image", "bce_per_image")
DEFAULT_BATCH_SIZE = {"conv": 64, "conv_rgb": 64, "denoise": 128, "vae": 128, "vae2d": 128, "dae1000": 128}  # else 256
DEFAULT_LR = {"adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "sgd": 10.0}


def units_of(loss) -> str:
    """"nats per image" for a cross-entropy, "per pixel" for a mean squared error, ..."""
    return ("nats " if "BCE" in loss.label else "") + loss.units


def noisy_sets(args, x_train, x_test):
    """(training input, training target, test input, test target): the noisy copies are drawn once, from
    --seed for the training images and --seed + 1 for the test images (as keras-io draws its copies)."""
    from .. import corrupt
    if not args.noise:
        return x_train, None, x_test, None
    x_test_noisy = corrupt.apply(args.noise, x_test, seed=args.seed + 1)
    if args.noise_mode == "fresh":                      # the corruption layer draws new noise every batch
        return x_train, None, x_test_noisy, x_test
    return corrupt.apply(args.noise, x_train, seed=args.seed), x_train, x_test_noisy, x_test


def with_corruption_first(model, spec: str, seed: int):
    """The model with the corruption layer of ``spec`` as the first layer of its encoder (train mode only)."""
    from .. import corrupt, layers
    encoder = layers.Sequential(corrupt.layer(spec, seed=seed), *model.encoder.layers,
                                input_shape=model.encoder.input_shape)
    return type(model)(encoder, model.decoder, loss=model.loss, name=model.name)


def cmd_train(args) -> int:
    from .. import metrics, models, optim, plot
    from ..train import evaluate, fit, objective_of, predict

    if args.model not in models.ZOO:
        raise CommandError(f"unknown model {args.model!r}: choose one of {', '.join(sorted(models.ZOO))} "
                           f"(see 'tinyae models')")
    check_dataset(args.dataset)
    if args.noise_mode == "fresh" and not args.noise:
        raise CommandError("--noise-mode fresh needs --noise KIND:AMOUNT")
    use_backend(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} is a file; give a folder to write the results into")
    say = (lambda *a, **k: None) if args.quiet else print

    x_train = load_images(args.dataset, "train", args.data_dir, not args.no_download)
    x_test = load_images(args.dataset, "test", args.data_dir, not args.no_download)
    if args.limit is not None:
        x_train = x_train[:args.limit]
    model = models.build(args.model, seed=args.seed)
    if args.noise and args.noise_mode == "fresh":
        model = with_corruption_first(model, args.noise, args.seed)
    check_fits(model, x_train, args.dataset)
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    optimizer = optim.OPTIMIZERS[args.optimizer](model.parameters(), lr=lr)
    loss = objective_of(model, args.loss)
    if "BCE" in loss.label and not any(type(layer).__name__ == "Sigmoid" for layer in model.layers[-2:]):
        print(f"tinyae: warning: --loss {args.loss} expects outputs in (0, 1), but {args.model} has no sigmoid "
              f"output; its gradient is zero wherever the output leaves (0, 1)", file=sys.stderr)
    train_in, train_target, test_in, test_target = noisy_sets(args, x_train, x_test)
    clean_test = x_test

    say(f"tinyae train: model {args.model} on {args.dataset} ({len(x_train):,} training images, "
        f"{len(x_test):,} test images of shape {tuple(x_train.shape[1:])}), backend {backend.name}")
    if args.batch_size is None:
        args.batch_size = DEFAULT_BATCH_SIZE.get(args.model, 256)
    say(f"{args.epochs} epochs, batch size {args.batch_size}, {args.optimizer} lr {lr:g}, "
        f"objective {loss.label} {units_of(loss)}{' + the penalties of its layers' if _penalized(model) else ''}, "
        f"seed {args.seed}")
    if args.noise:
        from .. import corrupt
        say(f"denoising: {corrupt.describe(args.noise)}; " +
            ("a new draw for every batch (the corruption layer, train mode only)" if args.noise_mode == "fresh" else
             f"one noisy copy of the training images drawn from seed {args.seed}") +
            f", the test images' from seed {args.seed + 1}; targets: the clean images")
    say(model.summary())
    sys.stdout.flush()

    checkpoint = out / "checkpoint.npz" if args.every else None
    if checkpoint is not None:
        out.mkdir(parents=True, exist_ok=True)
    if args.resume:
        say(f"resuming from {args.resume}")
    history = fit(model, train_in, train_target, loss=loss, optimizer=optimizer, epochs=args.epochs,
                  batch_size=args.batch_size, validation_data=(test_in, test_target), seed=args.seed,
                  verbose=0 if args.quiet else 1, checkpoint=checkpoint, every=args.every or 1, resume=args.resume)
    restored = predict(model, test_in)
    test_mse = float(np.mean((restored.astype(np.float64) - clean_test) ** 2))
    objective = evaluate(model, test_in, test_target, loss=loss, parts=True)
    seconds = float(np.mean(history.seconds))
    run = {"model": args.model, "dataset": args.dataset, "epochs": args.epochs, "batch_size": args.batch_size,
           "optimizer": args.optimizer, "lr": lr, "loss": loss.name, "seed": args.seed, "limit": args.limit,
           "backend": backend.name, "noise": args.noise, "noise_mode": args.noise_mode if args.noise else None,
           "train_images": len(x_train), "test_images": len(x_test), "test_mse_per_pixel": test_mse,
           "test_objective": objective["total"], "test_data_term": objective["data"],
           "test_penalty": objective["penalty"], "objective_units": units_of(loss), "seconds_per_epoch": seconds}
    if args.noise:
        run["test_psnr_noisy_db"] = float(metrics.psnr(test_in, clean_test).mean())
        run["test_psnr_restored_db"] = float(metrics.psnr(restored, clean_test).mean())
    if isinstance(model, models.VAE):
        run["test_objective_z_sampled"] = model.negative_elbo(test_in, samples=1, seed=args.seed)["total"]

    out.mkdir(parents=True, exist_ok=True)
    paths = {"model": models.save(model, out / "model.npz"), "history": out / "history.json"}
    with open(paths["history"], "w") as f:
        json.dump({**history.to_dict(), "run": run}, f, indent=2)
    figures_skipped = None
    try:
        paths["loss curves"] = out / "loss.png"
        plot.loss_curves(history, paths["loss curves"], title=f"{args.model} on {args.dataset}: objective by epoch")
        paths["reconstructions"] = out / "reconstructions.png"
        shown = slice(0, 10)
        if args.noise:
            plot.image_rows([("noisy", test_in[shown]), ("restored", restored[shown]), ("clean", clean_test[shown])],
                            paths["reconstructions"], title=f"{args.model} on {args.dataset}: PSNR "
                            f"{run['test_psnr_noisy_db']:.1f} dB noisy, {run['test_psnr_restored_db']:.1f} dB restored")
        else:
            plot.reconstruction_grid(x_test[shown], restored[shown], paths["reconstructions"], n=10,
                                     title=f"{args.model} on {args.dataset} test images "
                                           f"(test MSE {test_mse:.5f} per pixel)")
        if isinstance(model, models.VAE):
            paths["samples"] = out / "samples.png"
            plot.image_grid(model.sample(64, seed=args.seed), paths["samples"],
                            title=f"{args.model}: 64 samples, z ~ N(0, I)")
    except ImportError as exc:
        for key in ("loss curves", "reconstructions", "samples"):
            paths.pop(key, None)
        figures_skipped = str(exc)

    print(f"test MSE: {test_mse:.5f} per pixel (mean over {len(x_test):,} test images x "
          f"{int(np.prod(x_test.shape[1:]))} pixels{', restored from the noisy copies' if args.noise else ''})")
    if loss.name != "mse" or objective["penalty"]:
        line = f"test objective: {objective['total']:.5g} {units_of(loss)}"
        if objective["penalty"]:
            what = "KL" if isinstance(model, models.VAE) else "penalty"
            line += f" ({loss.label} {objective['data']:.5g} + {what} {objective['penalty']:.4g})"
        if isinstance(model, models.VAE):
            line += f" with z = μ; with z drawn from q: {run['test_objective_z_sampled']:.5g}"
        print(line)
    if args.noise:
        print(f"test PSNR: {run['test_psnr_noisy_db']:.2f} dB noisy -> {run['test_psnr_restored_db']:.2f} dB restored "
              f"(peak 1, mean of per-image values)")
    print(f"time: {seconds:.2f} s per epoch (mean over {args.epochs} epoch{'s' if args.epochs > 1 else ''}, "
          f"validation included)")
    print("wrote:")
    for what, path in paths.items():
        print(f"  {path}  ({what})")
    if figures_skipped:
        print(f"tinyae: warning: figures not drawn: {figures_skipped}", file=sys.stderr)
    return 0


def _penalized(model) -> bool:
    from .info import _has_penalty
    return _has_penalty(model)


def add_parser(sub) -> None:
    from .. import models
    zoo = ", ".join(sorted(models.ZOO))
    p = sub.add_parser(
        "train", formatter_class=formatter, help="train a model and write it, its history and figures",
        description="Train an autoencoder from the model zoo on a data set, validating on the test split\n"
                    "after each epoch, and write into the --out folder:\n\n"
                    "  model.npz            the trained model (load it with tinyae.models.load)\n"
                    "  history.json         objective (data term and penalty apart), seconds and learning rate per epoch\n"
                    "  loss.png             the curves of the objective\n"
                    "  reconstructions.png  10 test images above their reconstructions (with --noise: noisy,\n"
                    "                       restored and clean rows)\n"
                    "  samples.png          64 samples of a VAE (vae, vae2d)\n\n"
                    "Each zoo model trains with its own objective unless --loss is given: MSE per pixel\n"
                    "(the mean over every pixel of every image) for most, BCE per pixel for sparse and\n"
                    "denoise, BCE summed over the pixels + KL in nats per image for the VAEs. The test\n"
                    "MSE per pixel, the test objective in its units and the seconds per epoch are printed\n"
                    "at the end.",
        epilog="examples:\n"
               "  tinyae train --model dense --dataset mnist --epochs 5 --out runs/dense\n"
               "  tinyae train --model vae --epochs 10 --out runs/vae           (prints nats per image)\n"
               "  tinyae train --model denoise --noise gaussian:0.4 --epochs 10 --out runs/denoise\n\n"
               "quick run on 1000 images, no data files needed:\n"
               "  tinyae train --model dense --dataset shapes --epochs 2 --limit 1000 --out runs/try")
    p.add_argument("--model", default="dense", metavar="NAME",
                   help=f"a model of the zoo: {zoo} (default: dense; 'tinyae models' lists them)")
    p.add_argument("--dataset", default="mnist", type=dataset_name, metavar="NAME",
                   help="mnist, fashion_mnist, shapes (generated 28x28 circles, squares and triangles: "
                        "10000 training and 2000 test images, no files needed) or shapes_rgb (the same in "
                        "colour, for the conv_rgb model) (default: mnist)")
    p.add_argument("--epochs", type=positive_int, default=5, metavar="N",
                   help="passes over the training data (default: 5)")
    p.add_argument("--out", required=True, metavar="FOLDER",
                   help="folder to write the results into (created if missing)")
    p.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                   help="images per step (default: 64 for the conv models, 128 for denoise and the VAEs, "
                        "256 for the others)")
    p.add_argument("--lr", type=positive_float, default=None, metavar="RATE",
                   help="learning rate (default: 1e-3 for adam, adamw and rmsprop; 10 for sgd, which needs a "
                        "large rate because the loss is a mean over pixels)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="(default: adam)")
    p.add_argument("--loss", choices=LOSSES, default=None,
                   help="the data term: mean squared error or binary cross-entropy (for sigmoid outputs), a mean "
                        "per pixel or summed per image (default: the model's own objective)")
    p.add_argument("--noise", type=noise_spec, default=None, metavar="KIND:AMOUNT",
                   help="train a denoiser: noisy inputs, clean targets. gaussian:0.4 (σ, clipped to [0, 1]), "
                        "masking:0.5 (fraction of pixels set to 0), salt_pepper:0.2, block:12 (a 12x12 square "
                        "set to 0)")
    p.add_argument("--noise-mode", choices=("fixed", "fresh"), default="fixed",
                   help="fixed: one noisy copy of the training images, drawn once from --seed (keras-io's way); "
                        "fresh: a corruption layer first in the encoder draws new noise for every batch "
                        "(default: fixed)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initial weights, the shuffling and the noisy copies (default: 0)")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="use only the first N training images, for quick runs (the test split stays whole)")
    data_options(p)
    p.add_argument("--every", type=positive_int, default=None, metavar="K",
                   help="write FOLDER/checkpoint.npz every K epochs (and after the last), atomically, so that a "
                        "stopped run can go on with --resume")
    p.add_argument("--resume", default=None, metavar="CHECKPOINT",
                   help="continue the run saved in this checkpoint (same model, optimizer and batch size) up to "
                        "--epochs in total; the result equals an uninterrupted run to the bit on the CPU")
    p.add_argument("--quiet", action="store_true", help="no model summary, no progress bar: only the results")
    p.set_defaults(func=cmd_train)
