"""Anomaly detection by reconstruction error: per-image scores, the ROC curve and its AUC, a threshold.

    s = anomaly.scores(model, x_test)                 # one float per image, higher = more anomalous
    anomaly.auc(s, is_anomaly)                        # the probability that an anomaly outscores a normal image

The model is trained on normal images only (one-class: no anomaly and no label in training).
Any object with ``reconstruct(x)`` scores: an Autoencoder, or a ``tinyae.pca.PCA`` (the baseline
runs through the same code). The AUC is the Mann–Whitney statistic: over every (anomaly,
normal) pair, 1 if the anomaly scores higher, ½ for a tie, 0 otherwise, averaged; computed
from ranks (ties given their average rank) in O(n log n), and checked in the tests against
that pairwise count.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError


def scores(model, x, kind: str = "squared_error", batch_size: int = 256) -> np.ndarray:
    """Each image's reconstruction error: the squared error summed over its pixels (``kind="squared_error"``)
    or its binary cross-entropy summed over its pixels (``kind="bce"``, in nats per image). (N,) float64."""
    x = np.asarray(x)
    reconstruction = np.asarray(model.reconstruct(x, batch_size=batch_size) if _takes_batch(model)
                                else model.reconstruct(x), dtype=np.float64)
    target = x.astype(np.float64).reshape(len(x), -1)
    reconstruction = reconstruction.reshape(len(x), -1)
    if kind == "squared_error":
        return ((reconstruction - target) ** 2).sum(axis=1)
    if kind == "bce":
        p = np.clip(reconstruction, 1e-7, 1 - 1e-7)
        return -(target * np.log(p) + (1 - target) * np.log1p(-p)).sum(axis=1)
    raise ValueError(f"scores: kind must be 'squared_error' or 'bce', got {kind!r}")


def _takes_batch(model) -> bool:
    import inspect
    return "batch_size" in inspect.signature(model.reconstruct).parameters


def _check(scores_, is_anomaly):
    s = np.asarray(scores_, dtype=np.float64).reshape(-1)
    a = np.asarray(is_anomaly).astype(bool).reshape(-1)
    if s.shape != a.shape:
        raise ShapeError(f"{len(s)} scores for {len(a)} labels")
    if not np.all(np.isfinite(s)):
        raise ValueError("the scores hold NaN or infinity")
    if a.all() or not a.any():
        raise ValueError("the AUC needs both anomalies and normal images among the scored ones")
    return s, a


def ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``, ties given their average rank (as scipy.stats.rankdata)."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # the first index of each run of equal values, and the run's average rank
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    average = (starts + 1 + ends) / 2.0                 # ranks starts+1 .. ends, averaged
    out = np.empty(len(values))
    out[order] = np.repeat(average, ends - starts)
    return out


def auc(scores_, is_anomaly) -> float:
    """Area under the ROC curve of "anomaly" against "normal": the Mann–Whitney U / (n_anomalies · n_normal).

    U = R_anomalies − n_a (n_a + 1) / 2, with R the sum of the anomalies' ranks among all scores
    (ties at their average rank, so a tied pair counts ½). 1.0: every anomaly scores above every
    normal image; 0.5: no better than chance.
    """
    s, a = _check(scores_, is_anomaly)
    r = ranks(s)
    n_a, n_n = int(a.sum()), int((~a).sum())
    u = r[a].sum() - n_a * (n_a + 1) / 2.0
    return float(u / (n_a * n_n))


def roc_curve(scores_, is_anomaly) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate, threshold) at every distinct threshold, from (0, 0) to (1, 1).

    An image is flagged when its score is ≥ the threshold. Tied scores move together (a diagonal
    step), so the trapezoid area under this curve equals ``auc``.
    """
    s, a = _check(scores_, is_anomaly)
    order = np.argsort(-s, kind="mergesort")
    s, a = s[order], a[order]
    last_of_run = np.r_[s[1:] != s[:-1], True]        # cut only between different scores
    tp = np.cumsum(a)[last_of_run]
    fp = np.cumsum(~a)[last_of_run]
    tpr = np.r_[0.0, tp / a.sum()]
    fpr = np.r_[0.0, fp / (~a).sum()]
    return fpr, tpr, np.r_[np.inf, s[last_of_run]]


def threshold_at_fpr(normal_scores, fpr: float = 0.05) -> float:
    """The score above which at most a fraction ``fpr`` of these (validation) normal images lie.

    Flag an image when its score is strictly greater (``s > threshold``): the threshold is itself one of
    the validation scores, so ``≥`` would flag one image more than the rate allows.
    """
    normal_scores = np.sort(np.asarray(normal_scores, dtype=np.float64).reshape(-1))
    if not 0 <= fpr < 1 or len(normal_scores) == 0:
        raise ValueError(f"threshold_at_fpr: needs normal scores and 0 ≤ fpr < 1, got {len(normal_scores)} and {fpr}")
    k = int(np.floor(fpr * len(normal_scores)))          # at most k of n normal scores may lie above it
    return float(normal_scores[len(normal_scores) - k - 1])


def one_class(make_model, train, x_train, y_train, x_test, y_test, classes=range(10), kind: str = "squared_error",
              progress=None) -> dict:
    """The one-class protocol: for each class d, a model trained on the training images of d only scores every
    test image; the AUC is that of "not d" (anomaly) against "d" (normal).

    make_model(d) -> a new model; train(model, x_normal) trains it (for PCA: fits it). Returns
    {d: auc}, plus "mean". ``progress(d, auc)`` is called after each class.
    """
    result = {}
    for d in classes:
        model = make_model(d)
        train(model, x_train[y_train == d])
        result[d] = auc(scores(model, x_test, kind), y_test != d)
        if progress is not None:
            progress(d, result[d])
    result["mean"] = float(np.mean([result[d] for d in classes]))
    return result
