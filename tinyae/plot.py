"""Figures: a grid of images above their reconstructions, and loss curves.

    from tinyae import plot
    plot.reconstruction_grid(x_test[:10], predict(model, x_test[:10]), path="recon.png")
    plot.loss_curves(history, path="loss.png")

matplotlib is imported inside the functions, so ``import tinyae`` works without it;
without it these functions raise ImportError saying how to install it
(``pip install -e ".[plot]"``).

Figures that are saved (``path`` given) are made with matplotlib's object-oriented
``Figure`` and its Agg canvas: no display is needed, pyplot's list of open figures is
not touched, and nothing is left open when these functions run in a loop. Without
``path`` the figure is made with pyplot, so that ``plt.show()`` (or a notebook) can
display it; close it with ``plt.close(fig)`` when done. Library code never calls
``plt.show()``.
"""
from __future__ import annotations

import math

import numpy as np

from . import backend
from .errors import ShapeError

INSTALL_HINT = 'pip install -e ".[plot]"'


def _matplotlib():
    """The matplotlib package, or ImportError saying how to install it."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(f"tinyae.plot needs matplotlib, which is not installed: {INSTALL_HINT} "
                          f"(or pip install matplotlib)") from exc
    return matplotlib


def tutorial_setup(out: str = "tutorial_outputs"):
    """What every tutorial starts with: ``(quick, show, out)``. Call it before importing matplotlib.pyplot.

    ``quick`` is True when ``TINYAE_QUICK=1`` (small subsets, few epochs: what the tests run).
    Without a display (no ``DISPLAY``/``WAYLAND_DISPLAY`` on Linux, no ``MPLBACKEND`` and not in
    a notebook), and always in quick mode, matplotlib is switched to its Agg backend, so figures
    are only saved; ``show`` says whether ``plt.show()`` would open a window or a cell's output.
    ``out`` is the folder the figures are written to, created if missing.
    """
    import os
    import sys
    from pathlib import Path

    matplotlib = _matplotlib()
    quick = os.environ.get("TINYAE_QUICK", "") == "1"
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("darwin", "win32")
    if quick or not (has_display or os.environ.get("MPLBACKEND") or "ipykernel" in sys.modules):
        matplotlib.use("Agg")                   # no window: figures are only saved
    folder = Path(out)
    folder.mkdir(exist_ok=True)
    return quick, matplotlib.get_backend().lower() != "agg", folder


def _new_figure(figsize, for_saving: bool):
    """A Figure: off-screen (Agg canvas, not registered with pyplot) when it is to be saved."""
    _matplotlib()
    if for_saving:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        fig = Figure(figsize=figsize)
        FigureCanvasAgg(fig)
        return fig
    import matplotlib.pyplot as plt
    return plt.figure(figsize=figsize)


def _save(fig, path) -> None:
    """Write ``fig`` as PNG to ``path`` (folders created), then release pyplot's hold on it, if any."""
    from pathlib import Path
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100, bbox_inches="tight", pad_inches=0.1)   # nothing clipped
    if fig.canvas.manager is not None:          # made by pyplot after all: do not leak it
        import matplotlib.pyplot as plt
        plt.close(fig)


def as_images(array, what: str = "images") -> np.ndarray:
    """``array`` as a NumPy array of shape (N, C, H, W), C in {1, 3}.

    Accepts (N, C, H, W) with C = 1 (grey) or 3 (RGB), (N, H, W) (grey), and flat
    (N, D) rows when D is a square number (grey) or three times one (RGB). CuPy
    arrays are copied to the host.
    """
    x = backend.to_numpy(array)
    if x.ndim == 4 and x.shape[1] in (1, 3):
        return x
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 2:
        for channels in (1, 3):
            side = math.isqrt(x.shape[1] // channels)
            if channels * side * side == x.shape[1] and side > 0:
                return x.reshape(len(x), channels, side, side)
    raise ShapeError(f"plot: {what} must have shape (N, 1, H, W), (N, 3, H, W), (N, H, W) or flat (N, H·W); "
                     f"got {tuple(x.shape)}")


def _to_display(image: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W) for grey or (H, W, 3) for RGB, clipped to [0, 1] for display."""
    image = np.clip(image.astype(np.float32, copy=False), 0.0, 1.0)
    return image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)


def reconstruction_grid(originals, reconstructions, path=None, n: int = 10, title: str | None = None,
                        rows_extra=None):
    """A figure with a row of images above a row of their reconstructions.

    Parameters
    ----------
    originals, reconstructions : arrays of shape (N, 1, H, W) (grey) or (N, 3, H, W) (RGB)
        (or (N, H, W), or flat (N, H·W)); the first ``n`` of each are shown, column by column.
        Values are shown on a fixed scale, clipped to [0, 1] (0 black, 1 white), so that a
        model whose output leaves [0, 1] is not flattered by per-image rescaling.
    path : path-like, optional
        Where to save the figure as PNG (folders are created).
    n : int
        Number of columns (fewer if fewer images are given).
    title : str, optional
        A title above the grid.
    rows_extra : dict label -> array, or list of (label, array), optional
        More rows under the reconstructions, e.g. ``{"PCA, 32 components": x_pca}``.

    Returns
    -------
    matplotlib.figure.Figure
        Rows labelled "input", "reconstruction", then the extra rows' labels.
    """
    rows = [("input", originals), ("reconstruction", reconstructions)]
    if rows_extra is not None:
        rows += list(rows_extra.items() if isinstance(rows_extra, dict) else rows_extra)
    return image_rows(rows, path, n=n, title=title)


def image_rows(rows, path=None, n: int = 10, title: str | None = None):
    """A figure of labelled rows of images, the same column in every row: [("noisy", x), ("restored", y), ...].

    Each array is (N, 1, H, W), (N, 3, H, W), (N, H, W) or flat (N, H·W); all rows have images of one
    shape; the first ``n`` of each are shown, on the fixed scale [0, 1]. Returns the Figure.
    """
    rows = [(str(label), as_images(images, f"row {label!r}")) for label, images in rows]
    first = rows[0][1]
    for label, images in rows[1:]:
        if images.shape[1:] != first.shape[1:]:
            raise ShapeError(f"plot: row {label!r} has images of shape {images.shape[1:]}, "
                             f"the first row {first.shape[1:]}")
    n = min(int(n), *(len(images) for _, images in rows))
    if n < 1:
        raise ValueError("plot: no images to show (n < 1 or an empty array)")

    height, width = first.shape[2:]
    cell = 1.0                                             # inches per image
    label_room = 0.3 + 0.085 * max(len(label) for label, _ in rows)   # inches for the row labels (10 pt)
    fig = _new_figure((label_room + cell * n * width / max(height, width),
                       cell * len(rows) + (0.45 if title else 0.1)), for_saving=path is not None)
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(n):
            _show(axes[r][c], images[c])
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(left=label_room / fig.get_figwidth(), right=0.99, bottom=0.02,
                        top=1.0 - (0.45 if title else 0.05) / fig.get_figheight(), wspace=0.05, hspace=0.08)
    if path is not None:
        _save(fig, path)
    return fig


def _show(ax, image) -> None:
    image = _to_display(image)
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def image_grid(images, path=None, columns: int = 8, title: str | None = None):
    """Images in a grid of ``columns`` columns, row after row (samples of a generator, a decoder's manifold).

    images: (N, C, H, W) (or (N, H, W), flat (N, H·W)); shown on the fixed scale [0, 1], separated by a
    one-pixel white line. The grid is one mosaic image (one imshow), so that hundreds of images draw fast.
    Returns the Figure.
    """
    images = as_images(images)
    if len(images) == 0:
        raise ValueError("plot: no images to show (an empty array)")
    columns = max(1, min(int(columns), len(images)))
    rows = math.ceil(len(images) / columns)
    channels, height, width = images.shape[1:]
    gap = 1
    mosaic = np.ones((rows * (height + gap) - gap, columns * (width + gap) - gap, channels), np.float32)
    for k, image in enumerate(images):                      # one slice copy per image
        r, c = divmod(k, columns)
        top, left = r * (height + gap), c * (width + gap)
        mosaic[top:top + height, left:left + width] = np.clip(image.transpose(1, 2, 0), 0.0, 1.0)
    title_room = 0.45 if title else 0.05                    # inches above the mosaic
    scale = 0.75 / max(height, width)                       # inches per pixel: 0.75 in an image
    fig = _new_figure((scale * mosaic.shape[1] + 0.1, scale * mosaic.shape[0] + title_room + 0.05),
                      for_saving=path is not None)
    ax = fig.add_axes([0.05 / fig.get_figwidth(), 0.05 / fig.get_figheight(),
                       1 - 0.1 / fig.get_figwidth(), 1 - (title_room + 0.05) / fig.get_figheight()])
    ax.imshow(mosaic[..., 0] if channels == 1 else mosaic, cmap="gray" if channels == 1 else None,
              vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.1 / fig.get_figheight(), va="top")
    if path is not None:
        _save(fig, path)
    return fig


def scatter_codes(codes, labels, path=None, title: str | None = None, xlabel: str = "code 1",
                  ylabel: str = "code 2"):
    """2-D codes (N, 2) as points coloured by their label (0–9): the latent space of a 2-d VAE, or a
    2-d view of any codes. Returns the Figure."""
    codes = backend.to_numpy(codes)
    labels = np.asarray(labels)
    if codes.ndim != 2 or codes.shape[1] != 2 or len(labels) != len(codes):
        raise ShapeError(f"plot.scatter_codes: expected codes (N, 2) and N labels, got {codes.shape} and "
                         f"{labels.shape}")
    fig = _new_figure((6.2, 5.2), for_saving=path is not None)
    ax = fig.add_subplot(1, 1, 1)
    points = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=3, alpha=0.6,
                        vmin=-0.5, vmax=9.5)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "codes coloured by digit")
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    return fig


def loss_curves(history, path=None, title: str | None = None):
    """Training (and validation) loss per epoch.

    Parameters
    ----------
    history : tinyae.History, or its ``to_dict()`` (e.g. read back from history.json)
    path : path-like, optional
        Where to save the figure as PNG.
    title : str, optional

    The training loss of an epoch is the mean over its batches, taken while the weights
    were still changing; the validation loss is measured after the epoch, so it can be
    lower than the training loss, especially in the first epochs.

    Returns
    -------
    matplotlib.figure.Figure
        The y axis is the objective named in the history, in its units (e.g. "MSE per pixel": the mean
        over every pixel of every image, as tinyae's losses define it).
    """
    d = history.to_dict() if hasattr(history, "to_dict") else dict(history)
    epochs = list(d.get("epochs", []))
    loss = list(d.get("loss", []))
    val = list(d.get("val_loss", []))
    if not loss:
        raise ValueError("plot.loss_curves: the history has no epochs")
    if len(epochs) != len(loss):
        epochs = list(range(1, len(loss) + 1))
    name = d.get("loss_name") or "loss"
    units = d.get("units") or "per pixel"
    if any(d.get("penalty") or []):                # the objective: data term + the layers' penalties
        name = f"{name} + penalty"

    fig = _new_figure((6.0, 4.0), for_saving=path is not None)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(epochs, loss, marker="o", label="training (mean over the epoch)")
    if val:
        ax.plot(epochs[-len(val):], val, marker="s", label="validation (end of the epoch)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{name} {units}")
    ax.set_title(title or f"{name} {units} by epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    return fig


def roc_curves(curves, path=None, title: str | None = None):
    """ROC curves: ``curves`` maps a label to (false-positive rates, true-positive rates, AUC). Returns the Figure."""
    fig = _new_figure((5.2, 5.0), for_saving=path is not None)
    ax = fig.add_subplot(1, 1, 1)
    for label, (fpr, tpr, area) in curves.items():
        ax.plot(fpr, tpr, label=f"{label} (AUC {area:.3f})")
    ax.plot([0, 1], [0, 1], color="gray", linestyle=":", label="chance (AUC 0.5)")
    ax.set_xlabel("false-positive rate (normal images flagged)")
    ax.set_ylabel("true-positive rate (anomalies flagged)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title or "ROC curves")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    return fig


def score_histograms(normal, anomalous, path=None, threshold: float | None = None, title: str | None = None,
                     xlabel: str = "squared error per image"):
    """Histograms of the anomaly scores of normal and anomalous images (density, log x axis), and a threshold."""
    normal, anomalous = np.asarray(normal, np.float64), np.asarray(anomalous, np.float64)
    fig = _new_figure((6.4, 3.8), for_saving=path is not None)
    ax = fig.add_subplot(1, 1, 1)
    both = np.concatenate([normal, anomalous])
    low = max(both[both > 0].min(), 1e-12) if np.any(both > 0) else 1e-3
    bins = np.geomspace(low, both.max() * 1.01 + 1e-12, 60)
    ax.hist(normal, bins=bins, alpha=0.6, density=True, label=f"normal ({len(normal):,} images)")
    ax.hist(anomalous, bins=bins, alpha=0.6, density=True, label=f"anomalous ({len(anomalous):,} images)")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title or "anomaly scores")
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    return fig
