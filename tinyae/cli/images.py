"""``tinyae reconstruct`` and ``tinyae denoise``: pass a data set's images, or image files (--images), through a
saved model and draw them. The image files' part is in image_files.py."""
from __future__ import annotations

import contextlib

import numpy as np

from . import image_files
from .common import (CommandError, check_dataset, check_fits, data_options, dataset_name, figure, formatter,
                     load_images, load_model, model_name, noise_spec, positive_int, use_backend)

DEFAULT_DATASET = "mnist"


def _source(args) -> None:
    """--dataset or --images, never both; --dataset mnist when neither is given."""
    if args.images and args.dataset is not None:
        raise CommandError("give --dataset or --images, not both")
    if args.resize and not args.images:
        raise CommandError("--resize is for --images (the images of a data set have the model's size)")
    if args.out_images and not args.images:
        raise CommandError("--out-images is for --images")
    if not args.images and args.dataset is None:
        args.dataset = DEFAULT_DATASET


@contextlib.contextmanager
def _pillow_needed():
    try:
        yield
    except ImportError as exc:                      # Pillow, an optional extra, is missing
        raise CommandError(str(exc)) from None


def _files(args):
    use_backend(args)
    model = load_model(args.model_file)
    with _pillow_needed():
        items = image_files.read_files(model, args.images[:args.limit], args.resize)
    return model, items


def _images(args):
    check_dataset(args.dataset)
    use_backend(args)
    model = load_model(args.model_file)
    images = load_images(args.dataset, args.split, args.data_dir, not args.no_download)
    if args.limit is not None:
        images = images[:args.limit]
    check_fits(model, images, args.dataset)
    return model, images


def mse_per_pixel(a, b) -> float:
    return float(np.mean((np.asarray(a, np.float64) - b) ** 2))


def _report_line(item, output, clean) -> str:
    from .. import metrics
    psnr = float(metrics.psnr(output, clean)[0])
    return f"{item.path}: {item.note}: PSNR {psnr:.2f} dB, MSE {mse_per_pixel(output, clean):.5f} per pixel"


def reconstruct_files(args) -> int:
    from .. import metrics, plot
    model, items = _files(args)
    outputs = [image_files.run(model, item, item.image) for item in items]
    for item, output in zip(items, outputs):
        print(_report_line(item, output, item.image))
    psnr = np.mean([metrics.psnr(o, item.image)[0] for item, o in zip(items, outputs)])
    print(f"mean PSNR: {psnr:.2f} dB over {len(items)} image file(s) (peak 1; each against the image the model "
          f"was given)")
    name = model_name(model, args.model_file)
    shown = min(args.n, len(items))
    figure(lambda: plot.reconstruction_grid(image_files.canvas([i.image for i in items[:shown]]),
                                            image_files.canvas(outputs[:shown]), args.out, n=args.n,
                                            title=f"{name} on {len(items)} image file(s) (PSNR {psnr:.1f} dB)"),
           args.out)
    print(f"wrote: {args.out}  ({shown} images above their reconstructions)")
    if args.out_images:
        with _pillow_needed():
            written = image_files.write_outputs(args.out_images, zip(image_files.output_names([i.path for i in items]), outputs))
        print(f"wrote: {len(written)} reconstruction(s) as PNG into {args.out_images}")
    return 0


def cmd_reconstruct(args) -> int:
    from .. import plot
    from ..train import predict
    _source(args)
    if args.images:
        return reconstruct_files(args)
    model, images = _images(args)
    outputs = predict(model, images)
    mse = mse_per_pixel(outputs, images)
    name = model_name(model, args.model_file)
    figure(lambda: plot.reconstruction_grid(images[:args.n], outputs[:args.n], args.out, n=args.n,
                                            title=f"{name} on {args.dataset} {args.split} images "
                                                  f"(MSE {mse:.5f} per pixel)"), args.out)
    print(f"{args.split} MSE: {mse:.5f} per pixel (mean over {len(images):,} {args.split} images x "
          f"{int(np.prod(images.shape[1:]))} pixels)")
    print(f"wrote: {args.out}  ({min(args.n, len(images))} {args.split} images above their reconstructions)")
    return 0


def denoise_files(args) -> int:
    from .. import corrupt, metrics, plot
    model, items = _files(args)
    noisy = [corrupt.apply(args.noise, item.image, seed=args.seed + i) for i, item in enumerate(items)]
    restored = [image_files.run(model, item, x) for item, x in zip(items, noisy)]
    print(f"{corrupt.describe(args.noise)}, drawn from seed {args.seed} (+ the file's index), on "
          f"{len(items)} image file(s)")
    for item, x, y in zip(items, noisy, restored):
        before, after = float(metrics.psnr(x, item.image)[0]), float(metrics.psnr(y, item.image)[0])
        print(f"{item.path}: {item.note}: PSNR {before:.2f} dB noisy -> {after:.2f} dB restored")
    before = np.mean([metrics.psnr(x, item.image)[0] for item, x in zip(items, noisy)])
    after = np.mean([metrics.psnr(y, item.image)[0] for item, y in zip(items, restored)])
    print(f"PSNR: {before:.2f} dB noisy -> {after:.2f} dB restored (peak 1, mean of per-image values)")
    name = model_name(model, args.model_file)
    shown = min(args.n, len(items))
    figure(lambda: plot.image_rows([("noisy", image_files.canvas(noisy[:shown])),
                                    ("restored", image_files.canvas(restored[:shown])),
                                    ("clean", image_files.canvas([i.image for i in items[:shown]]))], args.out,
                                   n=args.n, title=f"{name}: {corrupt.describe(args.noise)}; PSNR {before:.1f} → "
                                                   f"{after:.1f} dB"), args.out)
    print(f"wrote: {args.out}  ({shown} images: noisy, restored and clean rows)")
    if args.out_images:
        paths = [item.path for item in items]
        names = image_files.output_names(paths, ".restored") + image_files.output_names(paths, ".noisy")
        with _pillow_needed():
            written = image_files.write_outputs(args.out_images, zip(names, restored + noisy))
        print(f"wrote: {len(written)} images (restored and noisy) as PNG into {args.out_images}")
    return 0


def cmd_denoise(args) -> int:
    from .. import corrupt, metrics, plot
    from ..train import predict
    _source(args)
    if args.images:
        return denoise_files(args)
    model, clean = _images(args)
    noisy = corrupt.apply(args.noise, clean, seed=args.seed)
    restored = predict(model, noisy)
    before, after = metrics.psnr(noisy, clean), metrics.psnr(restored, clean)
    ssim_before, ssim_after = metrics.ssim(noisy, clean), metrics.ssim(restored, clean)
    name = model_name(model, args.model_file)
    figure(lambda: plot.image_rows([("noisy", noisy), ("restored", restored), ("clean", clean)], args.out, n=args.n,
                                   title=f"{name}: {corrupt.describe(args.noise)}; PSNR {before.mean():.1f} → "
                                         f"{after.mean():.1f} dB"), args.out)
    print(f"{corrupt.describe(args.noise)}, drawn from seed {args.seed}, on {len(clean):,} {args.dataset} "
          f"{args.split} images")
    print(f"PSNR: {before.mean():.2f} dB noisy -> {after.mean():.2f} dB restored (peak 1, mean of per-image values)")
    print(f"SSIM: {ssim_before.mean():.3f} noisy -> {ssim_after.mean():.3f} restored (Gaussian window, σ = 1.5)")
    print(f"MSE:  {mse_per_pixel(noisy, clean):.5f} noisy -> {mse_per_pixel(restored, clean):.5f} restored per pixel")
    print(f"wrote: {args.out}  ({min(args.n, len(clean))} images: noisy, restored and clean rows)")
    return 0


def _common(p, out_help: str) -> None:
    p.add_argument("--model-file", required=True, metavar="PATH", help="a model file (.npz) written by tinyae train")
    p.add_argument("--dataset", default=None, type=dataset_name, metavar="NAME",
                   help="mnist, fashion_mnist, shapes or shapes_rgb (default: mnist, unless --images is given)")
    p.add_argument("--images", nargs="+", default=None, metavar="IMAGE",
                   help="image files (PNG, JPEG, WebP, BMP, ...) instead of a data set; read as grey or RGB as the "
                        "model takes; a fully convolutional model takes any size (padded to its stride and "
                        "cropped back); prints the PSNR of each (needs Pillow: pip install -e \".[images]\")")
    p.add_argument("--resize", action="store_true",
                   help="with --images: resize each image to the model's input size (Lanczos); needed for a "
                        "model that takes one size only, e.g. a dense 28×28 one")
    p.add_argument("--out-images", default=None, metavar="FOLDER",
                   help="with --images: also write each output as an 8-bit PNG into FOLDER")
    p.add_argument("--out", required=True, metavar="PNG", help=out_help)
    p.add_argument("--n", type=positive_int, default=10, metavar="N", help="images to draw (default: 10)")
    p.add_argument("--split", choices=("test", "train"), default="test", help="(default: test; data sets only)")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="measure on the first N images only")
    data_options(p)


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "reconstruct", formatter_class=formatter, help="draw a saved model's reconstructions of test images",
        description="Load a model saved by 'tinyae train' (or tinyae.models.save), pass images of a data\n"
                    "set through it, and write a PNG with the first --n images above their reconstructions.\n"
                    "Prints the MSE per pixel over the whole split (or its first --limit images).\n"
                    "With --images, image files instead: the PSNR of each is printed.",
        epilog="example:\n"
               "  tinyae reconstruct --model-file runs/dense/model.npz --dataset mnist --out recon.png\n"
               "  tinyae reconstruct --model-file runs/conv/model.npz --images a.png b.jpg --out recon.png\n"
               "  tinyae reconstruct --model-file runs/dense/model.npz --images a.png --resize --out recon.png")
    _common(p, "where to write the figure")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser(
        "denoise", formatter_class=formatter, help="restore noisy test images with a saved model; PSNR before and after",
        description="Corrupt the images of a data set with a noise drawn once from --seed, pass the noisy\n"
                    "images through a saved model (a denoiser trained with 'tinyae train --noise'), and\n"
                    "write a PNG with noisy, restored and clean rows. Prints PSNR (dB, peak 1, the mean of\n"
                    "per-image values), SSIM and MSE per pixel of the noisy and the restored images.",
        epilog="example:\n"
               "  tinyae train --model denoise --noise gaussian:0.4 --epochs 10 --out runs/denoise\n"
               "  tinyae denoise --model-file runs/denoise/model.npz --dataset mnist --noise gaussian:0.4 "
               "--out grid.png\n"
               "  tinyae denoise --model-file runs/denoise/model.npz --images scan.png --noise gaussian:0.4 "
               "--out grid.png --out-images restored/")
    _common(p, "where to write the figure")
    p.add_argument("--noise", type=noise_spec, required=True, metavar="KIND:AMOUNT",
                   help="gaussian:0.4, masking:0.5, salt_pepper:0.2 or block:12 (see tinyae train --help)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of the noise (default: 1, the test copy 'tinyae train --seed 0' validates on)")
    p.set_defaults(func=cmd_denoise)
