"""``tinyae compress`` and ``tinyae decompress``: images to a .tae file and back, with a trained codec model."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..metrics import psnr_8bit
from . import image_files
from .common import CommandError, data_options, dataset_name, formatter, load_images, load_model, model_name, \
    positive_int, use_backend


def _codec(path):
    from ..apps import codec
    model = load_model(path)
    return model, codec.ModelCodec(model)


def _inputs(args, model):
    """(images (N, C, H, W), names): the image files, or the first --count images of a data set."""
    if args.images and args.dataset:
        raise CommandError("give image files or --dataset, not both")
    if not args.images and not args.dataset:
        raise CommandError("nothing to compress: give image files (tinyae compress --model-file M a.png b.png "
                           "-o out.tae) or --dataset mnist --count 100")
    if args.dataset:
        images = load_images(args.dataset, args.split, args.data_dir, not args.no_download)[:args.count]
        return images, [f"{args.dataset} {args.split} image {i}" for i in range(len(images))]
    from ..images import fit_to, read_all
    want = getattr(model, "input_shape", None)
    if args.resize:
        if want is None:
            raise CommandError("--resize needs a model with a fixed input size; this one does not declare it")
        images = np.concatenate([fit_to(image_files.read_files(model, [p], resize=True)[0].image, want[1:])
                                 for p in args.images])
    else:
        try:
            images = read_all(args.images, image_files.read_mode(model))
        except ValueError as exc:
            raise CommandError(f"{exc} (one .tae file holds images of one size: compress the others into a "
                               f"file of their own, or pass --resize for a model that takes one size)") from None
    return images, [str(p) for p in args.images]


def _sizes(data: bytes, pixels: int, count: int) -> str:
    from ..coding import tae
    header = tae.from_bytes(data)
    payload = len(header.payload)
    overhead = len(data) - payload
    return (f"{len(data):,} bytes = {overhead} of header and checksums + {payload:,} of payload; "
            f"{len(data) * 8 / (pixels * count):.3f} bits per pixel (whole file), "
            f"{payload * 8 / (pixels * count):.3f} (payload)")


def cmd_compress(args) -> int:
    from ..apps import codec
    use_backend(args)
    model, c = _codec(args.model_file)
    images, _ = _inputs(args, model)
    data = codec.compress(c, images)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    n, channels, height, width = images.shape
    print(f"compressed {n:,} image(s) of {channels}×{height}×{width} with {model_name(model, args.model_file)} "
          f"(step {c.step:g}): {out}")
    print(f"  {_sizes(data, channels * height * width, n)}")
    estimate = c.estimated_bits(images)
    print(f"  the model's estimate of the payload: {estimate.sum() / 8:,.1f} bytes (−log₂ p of the rounded code)")
    decoded = codec.decompress(c, data, source=str(out), codec_source=args.model_file)
    db = psnr_8bit(decoded, images)
    print(f"  PSNR {db.mean():.2f} dB (mean over the images of per-image values, peak 255, of the 8-bit images "
          f"'tinyae decompress' writes; lowest {db.min():.2f})")
    return 0


def cmd_decompress(args) -> int:
    from ..apps import codec
    from ..images import write
    use_backend(args)
    model, c = _codec(args.model_file)
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"{path}: no such .tae file")
    data = path.read_bytes()
    decoded = codec.decompress(c, data, source=str(path), codec_source=args.model_file)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(len(decoded) - 1)))
    written = [write(folder / f"{args.prefix}{i:0{width}d}.png", image[None]) for i, image in enumerate(decoded)]
    n, channels, height, w = decoded.shape
    print(f"decompressed {n:,} image(s) of {channels}×{height}×{w} from {path}")
    print(f"  {_sizes(data, channels * height * w, n)}")
    if args.reference:
        from ..images import read_all
        reference = read_all(args.reference, image_files.read_mode(model))
        if reference.shape != decoded.shape:
            raise CommandError(f"--reference: {len(args.reference)} image(s) of shape {reference.shape[1:]}, but the "
                               f"file holds {n} of {decoded.shape[1:]}")
        db = psnr_8bit(decoded, reference)
        print(f"  PSNR against the reference images: {db.mean():.2f} dB (mean of per-image values, peak 255)")
    print(f"wrote: {len(written)} PNG file(s) into {folder} ({written[0].name} ... {written[-1].name})")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "compress", formatter_class=formatter, help="compress images into a .tae file with a trained codec",
        description="Compress image files (or the first --count images of a data set) with a trained codec model\n"
                    "(the zoo's codec or codec_conv: an encoder ending in a Quantize layer) into one .tae file.\n"
                    "Its size is the rate: the command prints the bytes, the bits per pixel (whole file and\n"
                    "payload alone) and the PSNR of what 'tinyae decompress' will give back. A fully\n"
                    "convolutional model takes any size (padded to its stride, cropped back); a dense one\n"
                    "takes its own size, or --resize.",
        epilog="examples:\n"
               "  tinyae train --model codec --epochs 10 --out runs/codec\n"
               "  tinyae compress --model-file runs/codec/model.npz --dataset mnist --count 100 -o digits.tae\n"
               "  tinyae compress --model-file runs/codec/model.npz a.png b.png --resize -o two.tae")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files (PNG, JPEG, BMP, WebP, ...)")
    p.add_argument("--model-file", required=True, metavar="PATH", help="a codec model file (.npz)")
    p.add_argument("-o", "--out", required=True, metavar="FILE", help="the .tae file to write")
    p.add_argument("--dataset", default=None, type=dataset_name, metavar="NAME",
                   help="compress a data set's images instead: mnist, fashion_mnist, shapes")
    p.add_argument("--split", choices=("train", "test"), default="test", help="(default: test)")
    p.add_argument("--count", type=positive_int, default=100, metavar="N", help="images of --dataset (default: 100)")
    p.add_argument("--resize", action="store_true", help="resize image files to the model's input size (Lanczos)")
    data_options(p)
    p.set_defaults(func=cmd_compress)

    p = sub.add_parser(
        "decompress", formatter_class=formatter, help="decode a .tae file into PNG files",
        description="Decode a .tae file written by 'tinyae compress' with the same model file (a file written by\n"
                    "another model is refused, naming both fingerprints) and write each image as an 8-bit PNG.",
        epilog="example:\n"
               "  tinyae decompress digits.tae --model-file runs/codec/model.npz -o decoded/")
    p.add_argument("file", metavar="FILE", help="a .tae file")
    p.add_argument("--model-file", required=True, metavar="PATH", help="the codec model file it was compressed with")
    p.add_argument("-o", "--out", required=True, metavar="FOLDER", help="folder for the PNG files (created)")
    p.add_argument("--prefix", default="image_", help="file names: PREFIX0000.png, ... (default: image_)")
    p.add_argument("--reference", nargs="+", default=None, metavar="IMAGE",
                   help="the original images, to print the PSNR against them")
    p.add_argument("--backend", choices=("numpy", "cupy"), default=None,
                   help="numpy (CPU) or cupy (GPU) (default: numpy, or $TINYAE_BACKEND)")
    p.set_defaults(func=cmd_decompress)
