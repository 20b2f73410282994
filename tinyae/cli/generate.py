"""``tinyae sample``: new images from a saved variational autoencoder."""
from __future__ import annotations

from .common import CommandError, figure, formatter, load_model, model_name, positive_int, use_backend


def cmd_sample(args) -> int:
    from .. import models, plot
    use_backend(args)
    model = load_model(args.model_file)
    if not isinstance(model, models.VAE):
        raise CommandError(f"{args.model_file}: sampling needs a variational autoencoder (vae, vae2d), but this model "
                           f"is a plain {type(model).__name__}: its decoder was never trained on codes drawn from "
                           f"N(0, I)")
    images = model.sample(args.n, seed=args.seed)
    name = model_name(model, args.model_file)
    figure(lambda: plot.image_grid(images, args.out, columns=args.columns,
                                   title=f"{name}: {args.n} samples, z ~ N(0, I) (seed {args.seed})"), args.out)
    print(f"decoded {args.n} codes z ~ N(0, I) of {model.latent_dim} numbers each (seed {args.seed})")
    print(f"wrote: {args.out}")
    if args.manifold:
        if model.latent_dim != 2:
            raise CommandError(f"--manifold needs a 2-d latent space (train the vae2d model); this one has "
                               f"{model.latent_dim}")
        figure(lambda: plot.image_grid(model.manifold(20), args.manifold, columns=20,
                                       title=f"{name}: the decoder on a 20 × 20 grid of z (Gaussian quantiles)"),
               args.manifold)
        print(f"wrote: {args.manifold}  (the 2-d latent space, decoded on a 20 × 20 grid)")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sample", formatter_class=formatter, help="draw new images from a saved VAE",
        description="Decode --n codes drawn from the prior N(0, I) with a variational autoencoder saved by\n"
                    "'tinyae train --model vae' (or vae2d), and write them as a grid. A plain autoencoder\n"
                    "is refused: nothing made its decoder expect codes from N(0, I).",
        epilog="example:\n"
               "  tinyae train --model vae --epochs 10 --out runs/vae\n"
               "  tinyae sample --model-file runs/vae/model.npz --n 64 --out samples.png")
    p.add_argument("--model-file", required=True, metavar="PATH", help="a VAE model file (.npz)")
    p.add_argument("--n", type=positive_int, default=64, metavar="N", help="images to draw (default: 64)")
    p.add_argument("--out", required=True, metavar="PNG", help="where to write the grid")
    p.add_argument("--columns", type=positive_int, default=8, metavar="K", help="images per row (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the codes (default: 0)")
    p.add_argument("--manifold", default=None, metavar="PNG",
                   help="also draw the decoder over a 20 x 20 grid of a 2-d latent space (vae2d)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default=None,
                   help="numpy (CPU) or cupy (GPU) (default: numpy, or $TINYAE_BACKEND)")
    p.set_defaults(func=cmd_sample)
