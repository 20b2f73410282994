"""Models: Autoencoder (encoder + decoder), VAE, the zoo, and model files.

    from tinyae import models
    model = models.build("vae", seed=0)       # the zoo (tinyae/models/zoo.py)
    models.save(model, "vae.npz"); models.load("vae.npz")

One idea a file: autoencoder.py (the two halves as one model), vae.py (sampling and the
ELBO), zoo.py (the named models), architecture.py (the architecture as JSON and back),
files.py (save/load), npz.py (reading archives that come from outside).
"""
from .architecture import (CONTAINERS, FORMAT, VERSION, architecture, flat_specs, from_architecture, layer_registry,
                           upgrade_v1)
from .autoencoder import Autoencoder
from .files import (ARCH_KEY, CHECKPOINT_KEY, check_state_arrays, load, load_state_arrays, read_architecture, save,
                    state_arrays)
from .npz import decode_json, read_npz, write_npz_atomically
from .vae import VAE
from .zoo import ZOO, build, codec, codec_conv, conv, conv_rgb, dae1000, deep, deep16, dense, denoise, linear512, skip, sparse, sparse_kl, vae, vae2d

__all__ = ["Autoencoder", "VAE", "ZOO", "build", "save", "load", "architecture", "from_architecture",
           "layer_registry", "read_npz", "write_npz_atomically", "decode_json", "state_arrays",
           "check_state_arrays", "load_state_arrays", "read_architecture", "upgrade_v1", "flat_specs",
           "FORMAT", "VERSION", "ARCH_KEY", "CHECKPOINT_KEY", "CONTAINERS",
           "dense", "deep", "deep16", "linear512", "conv", "conv_rgb", "sparse", "sparse_kl", "dae1000", "denoise", "vae", "vae2d", "skip", "codec", "codec_conv"]
