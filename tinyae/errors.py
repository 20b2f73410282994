"""The exceptions tinyae raises.

Every error says what is wrong and, where it can, how to fix it. They all derive
from `TinyAEError`, and each also derives from the built-in exception a caller
would expect (a wrong shape is a ValueError, a missing file is a FileNotFoundError).
"""


class TinyAEError(Exception):
    """Base class of every error raised by tinyae."""


class ShapeError(TinyAEError, ValueError):
    """An array's shape does not fit the layer, loss or model it was given to.

    The message names the layer (its position and class inside a Sequential),
    the expected shape and the actual one.
    """


class DTypeError(TinyAEError, TypeError):
    """An array's dtype cannot be used (e.g. complex or object input)."""


class DataError(TinyAEError, ValueError):
    """A data file is corrupt, truncated or of the wrong format; the message names the file."""


class DataNotFoundError(TinyAEError, FileNotFoundError):
    """A data set's files were found nowhere; the message lists where it looked."""


class DownloadError(TinyAEError, OSError):
    """A download failed; the message lists every URL that was tried and why."""


class ChecksumError(DataError):
    """A file's sha256 does not match the published one."""


class CompressedFileError(DataError):
    """A .tae compressed-image file is empty, truncated, damaged, crafted, or was written by another model;
    the message names the file and what was expected."""


class ImageFileError(DataError):
    """An image file (or image bytes) is missing, a folder, not an image, truncated, over Pillow's
    decompression-bomb limit, or in a form tinyae cannot use; the message names the file and what was expected."""


class NumericalError(TinyAEError, FloatingPointError):
    """NaN or infinity appeared in the input, the loss or a gradient."""


class ModelFileError(TinyAEError, ValueError):
    """A saved model or checkpoint file is unreadable, unsafe or does not match its architecture."""


class BackendError(TinyAEError, RuntimeError):
    """The requested array backend (e.g. CuPy) is not available here."""
