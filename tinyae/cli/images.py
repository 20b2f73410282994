"""``tinyae reconstruct`` and ``tinyae denoise``: pass a data set's images through a saved model and draw them."""
from __future__ import annotations

import numpy as np

from .common import (check_dataset, check_fits, data_options, dataset_name, figure, formatter, load_images,
                     load_model, model_name, noise_spec, positive_int, use_backend)


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


def cmd_reconstruct(args) -> int:
    from .. import plot
    from ..train import predict
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


def cmd_denoise(args) -> int:
    from .. import corrupt, metrics, plot
    from ..train import predict
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
    p.add_argument("--dataset", default="mnist", type=dataset_name, metavar="NAME",
                   help="mnist, fashion_mnist, shapes or shapes_rgb (default: mnist)")
    p.add_argument("--out", required=True, metavar="PNG", help=out_help)
    p.add_argument("--n", type=positive_int, default=10, metavar="N", help="images to draw (default: 10)")
    p.add_argument("--split", choices=("test", "train"), default="test", help="(default: test)")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="measure on the first N images only")
    data_options(p)


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "reconstruct", formatter_class=formatter, help="draw a saved model's reconstructions of test images",
        description="Load a model saved by 'tinyae train' (or tinyae.models.save), pass images of a data\n"
                    "set through it, and write a PNG with the first --n images above their reconstructions.\n"
                    "Prints the MSE per pixel over the whole split (or its first --limit images).",
        epilog="example:\n"
               "  tinyae reconstruct --model-file runs/dense/model.npz --dataset mnist --out recon.png")
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
               "--out grid.png")
    _common(p, "where to write the figure")
    p.add_argument("--noise", type=noise_spec, required=True, metavar="KIND:AMOUNT",
                   help="gaussian:0.4, masking:0.5, salt_pepper:0.2 or block:12 (see tinyae train --help)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of the noise (default: 1, the test copy 'tinyae train --seed 0' validates on)")
    p.set_defaults(func=cmd_denoise)
