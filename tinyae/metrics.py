"""Figures of merit: PSNR and SSIM of images (one value per image), accuracy and the confusion matrix of a classifier.

Both take images (N, C, H, W) (or (N, H, W), or one image (C, H, W) given as a batch of
one) with values in [0, ``peak``] and return a NumPy array of N per-image values; the
figure of a data set is their mean (``psnr(...).mean()``), as the tables of this project
state it. Equations Q1–Q4 are in docs/math/denoising.md.

* PSNR = 10 log10(peak² / MSE) in dB, the MSE over the image's pixels (eq. Q1); an
  image equal to its reference has PSNR = inf.
* SSIM (Wang, Bovik, Sheikh & Simoncelli 2004): local means, variances and covariance
  under an 11×11 Gaussian window (σ = 1.5), combined as
  ((2 μx μy + C1)(2 σxy + C2)) / ((μx² + μy² + C1)(σx² + σy² + C2)), C1 = (0.01·peak)²,
  C2 = (0.03·peak)², averaged over the positions where the window lies inside the image
  (and over channels) (eq. Q2–Q4). This is scikit-image's ``structural_similarity`` with
  ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=peak``,
  which the tests check it against.
"""
from __future__ import annotations

import math

import numpy as np

from . import backend
from .errors import ShapeError


def _pair(x, y, what: str):
    xp = backend.get_array_module(x, y)
    x, y = xp.asarray(x, dtype=xp.float64), xp.asarray(y, dtype=xp.float64)
    if x.shape != y.shape:
        raise ShapeError(f"{what}: the images and their reference must have the same shape, got {x.shape} and {y.shape}")
    if x.ndim == 2:
        raise ShapeError(f"{what}: expected images (N, C, H, W) or (N, H, W), got {x.shape}; flat rows "
                         f"(N, H·W) must be reshaped first")
    if x.ndim == 3:
        x, y = x[:, None], y[:, None]
    if x.ndim != 4 or x.shape[0] == 0:
        raise ShapeError(f"{what}: expected a non-empty batch of images (N, C, H, W), got {x.shape}")
    return xp, x, y


def psnr(images, reference, peak: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio of each image against its reference, in dB (eq. Q1)."""
    xp, x, y = _pair(images, reference, "psnr")
    mse = ((x - y) ** 2).reshape(len(x), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return backend.to_numpy(10.0 * xp.log10(peak * peak / mse))


def psnr_8bit(images, reference) -> np.ndarray:
    """Per-image PSNR (dB, peak 255) of the 8-bit images a file would hold: both arguments (floats in [0, 1],
    or uint8) rounded as ``tinyae.images.to_uint8`` rounds them; an exact image counts as MSE 1e-10 (108 dB),
    so that a mean over images stays finite."""
    from .images.io import to_uint8
    as_bytes = [a if np.asarray(a).dtype == np.uint8 else to_uint8(a) for a in (images, reference)]
    error = as_bytes[0].astype(np.float64) - as_bytes[1].astype(np.float64)
    mse = np.maximum((error.reshape(len(error), -1) ** 2).mean(axis=1), 1e-10)
    return 10 * np.log10(255.0 ** 2 / mse)


def gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    """The normalised 1-D Gaussian of the SSIM window: radius int(truncate·σ + 0.5) = 5, 11 taps for σ = 1.5."""
    radius = int(truncate * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return taps / taps.sum()


def _filter_valid(images, taps, xp):
    """The separable Gaussian filter, at the positions where the window lies inside the image.

    A loop over the 11 taps of each direction (not over pixels): each adds a shifted slice.
    """
    k = len(taps)
    h, w = images.shape[-2] - k + 1, images.shape[-1] - k + 1
    rows = sum(float(t) * images[..., i:i + h, :] for i, t in enumerate(taps))
    return sum(float(t) * rows[..., :, j:j + w] for j, t in enumerate(taps))


def ssim(images, reference, peak: float = 1.0, sigma: float = 1.5) -> np.ndarray:
    """Structural similarity of each image to its reference (Wang et al. 2004), in [−1, 1] (eq. Q2–Q4)."""
    xp, x, y = _pair(images, reference, "ssim")
    taps = gaussian_window(sigma)
    if min(x.shape[-2:]) < len(taps):
        raise ShapeError(f"ssim: images of {x.shape[-2]}×{x.shape[-1]} are smaller than the {len(taps)}×{len(taps)} "
                         f"window")
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mu_x, mu_y = _filter_valid(x, taps, xp), _filter_valid(y, taps, xp)            # eq. Q2
    var_x = _filter_valid(x * x, taps, xp) - mu_x * mu_x                           # eq. Q3
    var_y = _filter_valid(y * y, taps, xp) - mu_y * mu_y
    cov = _filter_valid(x * y, taps, xp) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return backend.to_numpy(ssim_map.reshape(len(x), -1).mean(axis=1))            # eq. Q4


def psnr_of_mse(mse: float, peak: float = 1.0) -> float:
    """The PSNR (dB) that a mean squared error per pixel corresponds to: 10 log10(peak² / mse)."""
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


# --- classification ----------------------------------------------------------------------------

def _predicted_labels(predicted) -> np.ndarray:
    predicted = backend.to_numpy(predicted)
    if predicted.ndim == 2:
        return predicted.argmax(axis=1)                 # scores or logits (N, K): the largest wins
    if predicted.ndim == 1:
        return predicted.astype(np.int64)
    raise ShapeError(f"expected predicted labels (N,) or scores (N, K), got {predicted.shape}")


def accuracy(predicted, labels) -> float:
    """The fraction of samples whose predicted class is their label; ``predicted``: labels (N,) or scores (N, K)."""
    guess, labels = _predicted_labels(predicted), np.asarray(labels).astype(np.int64)
    if guess.shape != labels.shape:
        raise ShapeError(f"accuracy: {guess.shape[0]} predictions for {labels.shape} labels")
    return float(np.mean(guess == labels))


def confusion_matrix(predicted, labels, classes: int | None = None) -> np.ndarray:
    """(K, K) counts: row = the true class, column = the predicted class (rows sum to the class sizes)."""
    guess, labels = _predicted_labels(predicted), np.asarray(labels).astype(np.int64)
    if guess.shape != labels.shape:
        raise ShapeError(f"confusion_matrix: {guess.shape[0]} predictions for {labels.shape} labels")
    k = int(classes if classes is not None else max(guess.max(), labels.max()) + 1)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (labels, guess), 1)
    return counts
