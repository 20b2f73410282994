"""Compression for real: images in, a .tae file out whose size is the rate, and back.

    codec = ModelCodec(model)                       # a trained model with a Quantize layer ending its encoder
    data = compress(codec, x)                       # the bytes of one .tae file holding every image of x
    files = compress_each(codec, x)                 # one .tae file per image (the model runs in batches)
    x_hat = decompress(codec, data)                 # (N, C, H, W): the decoder applied to the quantised code

A codec is three things the file format needs and nothing else: ``symbols(x)``, the integer
code of each image (N, *code_shape); ``tables``, the integer frequency tables the range coder
uses (one per code dimension or channel); and ``reconstruct_symbols(q)``, the images the
decoder makes of them. Two codecs share this code path:

* ``ModelCodec``: a tinyae model whose encoder ends with ``layers.Quantize``. In eval mode
  the encoder gives ŷ = Δ·round(y/Δ), the symbols are round(ŷ/Δ), and the tables are the
  layer's learned density quantised to integer frequencies (docs/math/rate.md U2,
  docs/math/coding.md H2). A fully convolutional model takes any image size: the image is
  padded (edge values) to a multiple of the encoder's total stride and cropped back after
  decoding (tinyae.images.fitting finds the stride by asking the model).
* ``PCACodec``: the baseline. The coordinates on the top-k principal axes divided by one
  step Δ and rounded, with tables from the histogram of the training images' symbols
  (add-one smoothed): the same quantiser and the same coder, a density that is counted
  rather than learned.

The file records the codec's fingerprint (a model's: sha256 of its architecture and weights;
a PCA codec's: of its axes, mean, step and tables), and ``decompress`` refuses a file that
another codec wrote. Symbols are coded in row-major order, image after image, one range-coder
stream per file (for a conv code, each position's channels are a row, coded with the
channels' tables).
"""
from __future__ import annotations

import hashlib
import math
import struct

import numpy as np

from ..backend import to_numpy
from ..coding import Tables, decode, encode, tae
from ..errors import CompressedFileError, ShapeError
from ..images.fitting import size_multiple
from ..images.geometry import crop, padding_to_multiple
from ..layers import Quantize, chain

TAIL = 2.0 ** -20            # the probability mass a table may leave to the escape at each end


# --- the codecs ----------------------------------------------------------------------------------

class ModelCodec:
    """A trained model whose encoder's last layer is ``layers.Quantize``, as a codec.

    precision: bits of the integer frequencies (docs/math/coding.md H2; 16 by default).
    The tables are computed once from the layer's density (``density_tables``); the model must
    not be trained further while the codec is in use (its fingerprint would change too).
    """

    kind = "model"

    def __init__(self, model, precision: int = 16, batch_size: int = 64):
        self.model, self.batch_size = model, batch_size
        self.quantizer = quantizer_of(model)
        self.step = self.quantizer.step
        self.precision = precision
        self.tables = density_tables(self.quantizer, precision)
        self.fingerprint = tae.model_fingerprint(model)

    def code_shape(self, image_shape: tuple) -> tuple:
        """One image's code shape for an image of ``image_shape`` (C, H, W), after padding."""
        c, h, w = self.padded_shape(image_shape)
        shape = self.model.encoder.output_shape((None, c, h, w))
        return tuple(int(d) for d in shape[1:])

    def padded_shape(self, image_shape: tuple) -> tuple:
        """(C, H', W'): the image padded to a multiple of the model's total stride (its own size for a model
        that takes one size only); ShapeError if the model cannot take it."""
        c, h, w = image_shape
        multiple = size_multiple(self.model, c, h, w)
        if multiple is None:
            takes = getattr(self.model, "input_shape", None)
            raise ShapeError(f"{getattr(self.model, 'name', None) or 'the model'}: cannot compress images of "
                             f"{c}×{h}×{w} (C×H×W)" + (f"; it takes {tuple(takes)} only: resize them first "
                                                        f"(tinyae.images.fit_to)" if takes else ""))
        rows, columns = padding_to_multiple(h, w, multiple)
        return (c, h + rows, w + columns)

    def code(self, x) -> np.ndarray:
        """(N, *code_shape): the quantised code ŷ = Δ·round(y/Δ) of each image (eval mode), padded first."""
        x = _images(x, "ModelCodec")
        c, h, w = self.padded_shape(x.shape[1:])
        padded = np.pad(x, ((0, 0), (0, 0), (0, h - x.shape[2]), (0, w - x.shape[3])), mode="edge")
        return self.model.encode(padded, batch_size=self.batch_size)

    def symbols(self, x) -> np.ndarray:
        """(N, *code_shape) int64: round(ŷ/Δ) of each image's quantised code."""
        return self.quantizer.symbols(self.code(x))

    def estimated_bits(self, x) -> np.ndarray:
        """(N,) the model's −log₂ p of each image's rounded code (eq. U4): what the payload should cost."""
        return self.quantizer.bits(self.code(x))

    def reconstruct_symbols(self, q, image_shape: tuple) -> np.ndarray:
        """(N, C, H, W): the decoder applied to Δ·q, cropped to ``image_shape``."""
        code = to_numpy(self.quantizer.dequantize(q))
        images = self.model.decode(code, batch_size=self.batch_size)
        _, h, w = image_shape
        return crop(images, (h, w))


class PCACodec:
    """PCA as a codec: coordinates on the top-k axes / Δ, rounded, with histogram tables.

    pca: a fitted ``tinyae.pca.PCA``; step: Δ; x_train: the images the histograms count
    (add-one smoothed over the symbols seen, ± a margin of one, the rest to the escape).
    """

    kind = "pca"

    def __init__(self, pca, step: float, x_train, precision: int = 16):
        if not (isinstance(step, (int, float)) and math.isfinite(step) and step > 0):
            raise ValueError(f"PCACodec: step must be a finite number above 0, got {step!r}")
        self.pca, self.step, self.precision = pca, float(step), precision
        train_symbols = self.symbols(x_train)
        self.tables = histogram_tables(train_symbols, precision)
        self.fingerprint = self._fingerprint()

    def code_shape(self, image_shape: tuple) -> tuple:
        return (self.pca.k,)

    def symbols(self, x) -> np.ndarray:
        coordinates = self.pca.transform(_images(x, "PCACodec.symbols")).astype(np.float64)
        return np.rint(coordinates / self.step).astype(np.int64)

    def reconstruct_symbols(self, q, image_shape: tuple) -> np.ndarray:
        images = self.pca.inverse_transform(q.astype(np.float64) * self.step)
        return np.clip(images, 0.0, 1.0).astype(np.float32)

    def _fingerprint(self) -> bytes:
        digest = hashlib.sha256(b"tinyae-pca-codec-1")
        for array in (self.pca.mean_, self.pca.components_, self.tables.lo, self.tables.freqs):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(struct.pack("<dB", self.step, self.precision))
        return digest.digest()


# --- tables --------------------------------------------------------------------------------------

def quantizer_of(model) -> Quantize:
    """The Quantize layer that ends the model's encoder, or a clear error."""
    encoder = getattr(model, "encoder", None)
    leaves = chain(encoder) if encoder is not None else []
    if not leaves or not isinstance(leaves[-1], Quantize):
        name = getattr(model, "name", None) or type(model).__name__
        raise ShapeError(f"{name}: a codec needs a model whose encoder ends with a Quantize layer (the zoo's "
                         f"`codec` or `codec_conv`, trained with its rate term); this one's encoder ends with "
                         f"{type(leaves[-1]).__name__ if leaves else 'nothing'}")
    return leaves[-1]


def density_tables(quantizer: Quantize, precision: int = 16) -> Tables:
    """Integer tables from a Quantize layer's density: per dimension the symbols that hold all but
    ``TAIL`` of the mass at either end, a common width S, the rest of the mass to the escape."""
    reach = 64
    while True:                                              # widen until the window holds the mass
        pmf = quantizer.pmf(-reach, reach)                   # (D, 2·reach + 1)
        if pmf.sum(axis=1).min() > 1.0 - TAIL or reach >= 2 ** 14:
            break
        reach *= 4
    return _window_tables(pmf, -reach, precision)


def histogram_tables(symbols: np.ndarray, precision: int = 16) -> Tables:
    """Integer tables from the symbols (N, D) a codec gives its training images: counts + 1 over the
    range seen widened by one on each side, and a count of 1 for the escape."""
    rows = _rows(symbols)
    lo, hi = rows.min(axis=0) - 1, rows.max(axis=0) + 1        # (D,) each
    width = int((hi - lo).max()) + 1
    offset = rows - lo                                          # (N, D), in 0 .. width − 1
    counts = np.zeros((rows.shape[1], width), dtype=np.float64)
    np.add.at(counts, (np.broadcast_to(np.arange(rows.shape[1]), rows.shape), offset), 1.0)
    counts += 1.0                                               # add-one smoothing
    return Tables.from_pmf(counts / counts.sum(axis=1, keepdims=True), lo, escape=1.0 / len(rows), precision=precision)


def _window_tables(pmf: np.ndarray, first: int, precision: int) -> Tables:
    """Tables over one window per dimension of a pmf (D, M) whose column 0 is symbol ``first``."""
    cdf = np.cumsum(pmf, axis=1)                                # (D, M)
    start = (cdf < TAIL).sum(axis=1)                            # first column past the lower tail
    stop = pmf.shape[1] - (cdf[:, -1:] - cdf >= TAIL)[:, ::-1].argmin(axis=1)   # last column before the upper tail
    stop = np.maximum(stop, start + 1)
    width = int((stop - start).max())
    start = np.minimum(start, pmf.shape[1] - width)            # every window of the same width, inside the pmf
    columns = start[:, None] + np.arange(width)                 # (D, S)
    window = np.take_along_axis(pmf, columns, axis=1)
    escape = np.clip(1.0 - window.sum(axis=1), 0.0, None)
    return Tables.from_pmf(window, first + start, escape=escape, precision=precision)


# --- files ---------------------------------------------------------------------------------------

def compress(codec, x) -> bytes:
    """One .tae file (bytes) holding every image of ``x`` (N, C, H, W)."""
    x = _images(x, "compress")
    return _file(codec, codec.symbols(x), x.shape[1:])


def compress_each(codec, x) -> list[bytes]:
    """One .tae file per image of ``x``; the codec's model runs over all of them in batches."""
    x = _images(x, "compress_each")
    symbols = codec.symbols(x)
    return [_file(codec, symbols[i:i + 1], x.shape[1:]) for i in range(len(x))]


def decompress(codec, data: bytes, source: str = "the .tae data", codec_source: str = "the model given") -> np.ndarray:
    """The images of a .tae file: (N, C, H, W) float32, the decoder applied to the quantised code."""
    header = tae.from_bytes(data, source)
    if header.fingerprint != codec.fingerprint:
        raise CompressedFileError(
            f"{source}: was compressed by another {'model' if codec.kind == 'model' else 'codec'}: its fingerprint "
            f"is {header.fingerprint.hex()[:16]}…, {codec_source} has {codec.fingerprint.hex()[:16]}…; pass the "
            f"model file it was compressed with (training a model further changes its fingerprint)")
    code_shape = codec.code_shape(header.image_shape)
    if tuple(header.code_shape) != code_shape or header.precision != codec.precision or header.step != codec.step:
        raise CompressedFileError(f"{source}: its code shape {header.code_shape}, step {header.step} or precision "
                                  f"{header.precision} do not match the codec's ({code_shape}, {codec.step}, "
                                  f"{codec.precision}) although its fingerprint does: the file was crafted")
    rows_per_image = math.prod(code_shape[1:]) if len(code_shape) > 1 else 1
    rows = decode(header.payload, codec.tables, header.count * rows_per_image)
    return codec.reconstruct_symbols(_unrows(rows, header.count, code_shape), header.image_shape)


def payload_bits(codec, symbols: np.ndarray) -> float:
    """The ideal size in bits of the symbols (N, *code_shape) under the codec's integer tables (eq. H1)."""
    return codec.tables.bits(_rows(symbols))


def _file(codec, symbols: np.ndarray, image_shape: tuple) -> bytes:
    payload = encode(_rows(symbols), codec.tables)
    header = tae.TaeFile(codec.fingerprint, count=len(symbols), image_shape=tuple(image_shape),
                         code_shape=tuple(symbols.shape[1:]), step=codec.step, precision=codec.precision,
                         payload=payload)
    return tae.to_bytes(header)


# --- shapes --------------------------------------------------------------------------------------

def _rows(symbols: np.ndarray) -> np.ndarray:
    """(N, D) as it is; (N, C, h, w) -> (N·h·w, C): each position's channels a row, images in order."""
    if symbols.ndim == 2:
        return symbols
    return np.moveaxis(symbols, 1, -1).reshape(-1, symbols.shape[1])


def _unrows(rows: np.ndarray, n: int, code_shape: tuple) -> np.ndarray:
    """The inverse of ``_rows``."""
    if len(code_shape) == 1:
        return rows.reshape(n, *code_shape)
    c, *spatial = code_shape
    return np.moveaxis(rows.reshape(n, *spatial, c), -1, 1)


def _images(x, what: str) -> np.ndarray:
    x = np.asarray(to_numpy(x))
    if x.ndim != 4 or x.shape[1] not in (1, 3) or len(x) == 0:
        raise ShapeError(f"{what}: expected images (N, C, H, W) with C = 1 or 3 and N ≥ 1, got shape {x.shape}")
    return x
