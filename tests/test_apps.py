"""tinyae.apps: anomaly scores, ROC and AUC (checked against a brute-force pairwise count), thresholds;
linear probes (balanced draws, standardisation with training statistics, the L2 strength chosen on a
validation split), codes of any Autoencoder."""
from __future__ import annotations

import numpy as np
import pytest

from tinyae import models, pca
from tinyae.apps import anomaly, probe


def brute_force_auc(scores, is_anomaly) -> float:
    """Every (anomaly, normal) pair: 1 if the anomaly scores higher, ½ if tied, 0 otherwise; the mean."""
    a, n = scores[is_anomaly], scores[~is_anomaly]
    return float(((a[:, None] > n[None, :]) + 0.5 * (a[:, None] == n[None, :])).mean())


@pytest.mark.parametrize("seed", range(5))
def test_auc_equals_the_brute_force_pairwise_count_with_ties(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 12, 400).astype(float)              # few distinct values: many ties
    is_anomaly = rng.random(400) < 0.3
    assert anomaly.auc(scores, is_anomaly) == pytest.approx(brute_force_auc(scores, is_anomaly), abs=1e-12)
    continuous = rng.standard_normal(400) + is_anomaly
    assert anomaly.auc(continuous, is_anomaly) == pytest.approx(brute_force_auc(continuous, is_anomaly), abs=1e-12)


def test_auc_is_one_for_a_perfect_score_a_half_for_all_ties_and_symmetric():
    is_anomaly = np.array([0, 0, 1, 1, 1], bool)
    assert anomaly.auc([0.1, 0.2, 0.5, 0.6, 0.9], is_anomaly) == 1.0
    assert anomaly.auc([1, 1, 1, 1, 1], is_anomaly) == 0.5
    s = np.random.default_rng(0).random(50)
    lab = np.random.default_rng(1).random(50) < 0.5
    assert anomaly.auc(s, lab) == pytest.approx(1 - anomaly.auc(-s, lab), abs=1e-12)


def test_the_area_under_the_roc_curve_is_the_auc():
    rng = np.random.default_rng(2)
    scores = np.round(rng.standard_normal(300), 1)
    is_anomaly = rng.random(300) < 0.4
    fpr, tpr, thresholds = anomaly.roc_curve(scores, is_anomaly)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1 and np.all(np.diff(fpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(anomaly.auc(scores, is_anomaly), abs=1e-12)
    assert np.all(np.diff(thresholds[1:]) < 0)


def test_the_threshold_flags_at_most_the_asked_share_of_normal_images():
    normal = np.random.default_rng(3).standard_normal(1000)
    for fpr in (0.01, 0.05, 0.2):
        t = anomaly.threshold_at_fpr(normal, fpr)
        assert np.mean(normal > t) <= fpr and np.mean(normal > t) > fpr - 0.002


def test_scores_are_per_image_squared_errors_and_pca_scores_through_the_same_code():
    x = np.random.default_rng(0).random((20, 1, 28, 28), dtype=np.float32)
    model = models.build("deep", seed=0)
    s = anomaly.scores(model, x)
    assert s.shape == (20,) and np.allclose(s, ((model.reconstruct(x) - x) ** 2).reshape(20, -1).sum(1), rtol=1e-5)
    p = pca.PCA(4).fit(x)
    assert np.allclose(anomaly.scores(p, x), ((p.reconstruct(x) - x) ** 2).reshape(20, -1).sum(1), rtol=1e-5)
    assert np.all(anomaly.scores(model, x, kind="bce") > 0)


def test_balanced_subsets_hold_as_many_of_each_class_and_differ_by_seed():
    labels = np.repeat(np.arange(10), 50)
    a, b = probe.balanced_subset(labels, 100, seed=0), probe.balanced_subset(labels, 100, seed=1)
    assert np.bincount(labels[a]).tolist() == [10] * 10 and len(set(a)) == 100 and set(a) != set(b)


def test_standardisation_uses_the_training_statistics_only():
    train = np.array([[0.0, 5.0], [2.0, 5.0]])
    scale = probe.Standardizer(train)
    np.testing.assert_allclose(scale(train), [[-1, 0], [1, 0]])          # a constant feature is only centred
    np.testing.assert_allclose(scale(np.array([[4.0, 6.0]])), [[3.0, 1.0]])


def test_a_linear_probe_separates_separable_features_and_picks_l2_on_validation_data():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((10, 6)) * 4
    y = np.repeat(np.arange(10), 60)
    f = centres[y] + rng.standard_normal((600, 6))
    y_test = np.repeat(np.arange(10), 20)
    f_test = centres[y_test] + rng.standard_normal((200, 6))
    result = probe.linear_probe(f, y, f_test, y_test)
    assert result["accuracy"] > 0.95 and result["l2"] in probe.L2_GRID and set(result["validation"]) == set(probe.L2_GRID)


def test_codes_of_any_zoo_model_are_flat_numpy_rows():
    x = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    for name in ("deep", "conv", "vae"):
        c = probe.codes(models.build(name), x)
        assert isinstance(c, np.ndarray) and c.ndim == 2 and len(c) == 5
    assert probe.features(None, x).shape == (5, 784)
