"""tinyae: autoencoders from scratch in NumPy (CPU) and CuPy (GPU), no autograd.

Every layer has a hand-written forward and backward pass (see docs/math/), and
every backward pass is checked against finite differences (``python -m tinyae.gradcheck``).
"""
from . import backend, corrupt, errors, init, layers, losses, metrics, models, optim, pca
from .errors import (BackendError, DataError, DataNotFoundError, DownloadError, DTypeError, ModelFileError,
                     NumericalError, ShapeError, TinyAEError)
from .layers import Sequential
from .parameter import Parameter
from .history import History
from .models import VAE, Autoencoder
from .train import evaluate, fit, predict

__version__ = "0.1.0"


def seed(value: int) -> None:
    """Seed the generator that initial weights are drawn from (see tinyae.init)."""
    init.seed(value)


__all__ = ["backend", "corrupt", "errors", "init", "layers", "losses", "metrics", "models", "optim", "pca",
           "Parameter", "Sequential", "Autoencoder", "VAE", "History",
           "fit", "evaluate", "predict", "seed", "TinyAEError", "ShapeError", "DTypeError", "DataError",
           "DataNotFoundError", "DownloadError", "NumericalError", "ModelFileError", "BackendError"]
