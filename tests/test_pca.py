"""PCA (tinyae.pca, docs/math/pca.md K1–K5) against a plain SVD and scikit-learn, and Baldi & Hornik's result:
a linear autoencoder trained with MSE spans the top-k principal subspace, but its decoder's rows are not the axes."""
from __future__ import annotations

import numpy as np
import pytest

from tinyae import backend, datasets, fit, layers, optim, pca
from tinyae.errors import ShapeError
from tinyae.models import Autoencoder


def data(n=300, d=12, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + 3.0).astype(np.float64)


def principal_angles(a, b) -> np.ndarray:
    """Degrees between the subspaces spanned by the rows of ``a`` and of ``b`` (k × D each): arccos of the
    singular values of Q_aᵀ Q_b, the Q's orthonormal bases (eq. K5)."""
    qa, _ = np.linalg.qr(np.asarray(a, np.float64).T)
    qb, _ = np.linalg.qr(np.asarray(b, np.float64).T)
    s = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.degrees(np.arccos(np.clip(s, -1.0, 1.0)))


@pytest.mark.parametrize("n", [300, 8])               # N > D: SVD of the scatter matrix; N ≤ D: of the data
def test_components_are_the_right_singular_vectors_of_the_centred_data_eq_K1_K2(n, backend_name):
    x = data(n=n)
    model = pca.PCA(5).fit(backend.asarray(x, dtype=np.float64))
    _, s, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    signs = np.sign((model.components_ * vt[:5]).sum(axis=1))          # each axis up to its sign
    np.testing.assert_allclose(model.components_ * signs[:, None], vt[:5], atol=1e-8)
    np.testing.assert_allclose(model.explained_variance_, s[:5] ** 2 / (n - 1), rtol=1e-9)   # eq. K3
    np.testing.assert_allclose(model.components_ @ model.components_.T, np.eye(5), atol=1e-10)


def test_the_reconstruction_error_is_the_variance_left_out_eq_K4():
    x = data()
    model = pca.PCA(4).fit(x)
    full = pca.PCA(12).fit(x)
    error = ((model.reconstruct(x) - x) ** 2).sum() / (len(x) - 1)
    assert error == pytest.approx(full.explained_variance_[4:].sum(), rel=1e-8)
    assert model.reconstruct(x).shape == x.shape and model.transform(x).shape == (300, 4)


def test_pca_equals_scikit_learn():
    sklearn = pytest.importorskip("sklearn.decomposition")
    x = data()
    ours, theirs = pca.PCA(6).fit(x), sklearn.PCA(6).fit(x)
    np.testing.assert_allclose(np.abs(ours.components_), np.abs(theirs.components_), atol=1e-8)
    np.testing.assert_allclose(ours.explained_variance_ratio_, theirs.explained_variance_ratio_, rtol=1e-8)
    np.testing.assert_allclose(ours.reconstruct(x), theirs.inverse_transform(theirs.transform(x)), atol=1e-8)


def test_images_keep_their_shape_and_bad_calls_say_why():
    x = np.random.default_rng(0).random((40, 1, 4, 5))
    model = pca.PCA(3).fit(x)
    assert model.reconstruct(x).shape == x.shape
    with pytest.raises(ShapeError, match="at most 20"):
        pca.PCA(30).fit(x)
    with pytest.raises(ShapeError, match="fitted on samples of 20 values"):
        model.transform(np.zeros((2, 21)))
    with pytest.raises(RuntimeError, match="call fit"):
        pca.PCA(2).transform(x)


@pytest.mark.slow
def test_a_linear_autoencoder_spans_the_pca_subspace_but_not_its_axes_on_mnist(data_dir):
    """Baldi & Hornik (1989): at the optimum of the MSE, x W_e W_d (+ biases) projects onto the top-k
    principal subspace (eq. K6); W_d's rows are some basis of it, any one (eq. K7), not the axes. k = 16, 784 → 16 → 784 linear, Adam 3e-3,
    25 epochs of batch 256 on the 60,000 training images (about 6 s)."""
    x, _ = datasets.mnist("train", data_dir=data_dir)
    principal = pca.PCA(16).fit(x)
    model = Autoencoder(layers.Sequential(layers.Flatten(), layers.Dense(784, 16, rng=0), input_shape=(1, 28, 28)),
                        layers.Sequential(layers.Dense(16, 784, rng=1), layers.Reshape((1, 28, 28))), loss="mse")
    fit(model, x, epochs=25, batch_size=256, verbose=0, optimizer=optim.Adam(model.parameters(), lr=3e-3))
    decoder_rows = model.decoder[0].W.data
    angles = principal_angles(decoder_rows, principal.components_)
    print(f"largest principal angle {angles.max():.2f}°, smallest {angles.min():.2f}°")
    assert angles.max() < 5.0
    rows = decoder_rows / np.linalg.norm(decoder_rows, axis=1, keepdims=True)
    best_match = np.degrees(np.arccos(np.abs(rows @ principal.components_.T).max(axis=1)))
    assert best_match.min() > 20.0                       # no row is a principal axis...
    assert np.abs(rows @ rows.T - np.eye(16)).max() > 0.1   # ...and the rows are not even orthogonal
