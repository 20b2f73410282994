"""The command line: ``tinyae train | reconstruct | denoise | sample | probe | anomaly | compress | decompress |
gradcheck | models``.

    tinyae train --model dense --dataset mnist --epochs 5 --out runs/dense
    tinyae reconstruct --model-file runs/dense/model.npz --dataset mnist --out recon.png
    tinyae train --model denoise --noise gaussian:0.4 --out runs/denoise
    tinyae denoise --model-file runs/denoise/model.npz --dataset mnist --noise gaussian:0.4 --out grid.png
    tinyae train --model vae --epochs 10 --out runs/vae
    tinyae sample --model-file runs/vae/model.npz --n 64 --out samples.png
    tinyae probe --model-file runs/deep/model.npz --dataset mnist --labels 100,1000,all
    tinyae anomaly --model deep --normal 3 --dataset fashion_mnist --out runs/anomaly
    tinyae compress --model-file runs/codec/model.npz --dataset mnist --count 100 -o digits.tae
    tinyae decompress digits.tae --model-file runs/codec/model.npz -o decoded/
    tinyae gradcheck
    tinyae models

(also ``python -m tinyae``). One module a family of commands: train.py, images.py (reconstruct, denoise), generate.py
(sample), uses.py (probe, anomaly), compress.py (compress, decompress), info.py (gradcheck, models); common.py
holds what they share. Errors that the
user can fix (unknown model, missing data files, a bad model file, no GPU for
``--backend cupy``) end the program with exit status 2 and one line,
``tinyae: error: <message>``, instead of a traceback. Every command's ``--help`` explains
it and ends with an example.
"""
from __future__ import annotations

import sys

from .. import __version__
from ..errors import DataNotFoundError, DownloadError, TinyAEError
from . import compress, generate, images, info, train, uses
from .common import CommandError, Parser, formatter, load_images
from .info import describe_model

__all__ = ["main", "build_parser", "CommandError", "load_images", "describe_model"]


def build_parser() -> Parser:
    parser = Parser(
        prog="tinyae", formatter_class=formatter,
        description="tinyae: autoencoders written from scratch in NumPy (CPU) and CuPy (GPU).\n\n"
                    "Train a model from the zoo (dense, convolutional, sparse, denoising, variational) on\n"
                    "MNIST, Fashion-MNIST or generated shapes, draw its reconstructions, restore noisy\n"
                    "images, draw samples from a VAE, list the models, or check every backward pass against\n"
                    "finite differences. Run 'tinyae COMMAND --help' for each command's options.",
        epilog="examples:\n"
               "  tinyae models\n"
               "  tinyae train --model dense --dataset mnist --epochs 5 --out runs/dense\n"
               "  tinyae reconstruct --model-file runs/dense/model.npz --dataset mnist --out recon.png\n"
               "  tinyae train --model vae --epochs 10 --out runs/vae\n"
               "  tinyae sample --model-file runs/vae/model.npz --n 64 --out samples.png\n"
               "  tinyae gradcheck\n\n"
               "MNIST is looked for in --data-dir, then $TINYAE_DATA_DIR, then the cache folder,\n"
               "and downloaded there if missing.")
    parser.add_argument("--version", action="version", version=f"tinyae {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    train.add_parser(sub)
    images.add_parsers(sub)
    generate.add_parser(sub)
    uses.add_parsers(sub)
    compress.add_parsers(sub)
    info.add_parsers(sub)
    return parser


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
