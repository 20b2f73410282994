# %% [markdown]
# # Tutorial 7: anomaly detection by reconstruction error
#
# An autoencoder trained on images of one kind learns to reconstruct *that kind* well. Show it something
# else and its reconstruction is usually worse. So the reconstruction error is an **anomaly score**: high
# for images unlike the training images, low for images like them. This tutorial
#
# 1. states the idea and the protocol precisely: **one-class** training (normal images only), the score
#    (squared reconstruction error per image) and the measure (the AUC, which we compute twice: by brute
#    force over every pair of images, and from ranks with `anomaly.auc`);
# 2. follows one detector in detail — `deep16` trained on the digit 3: its score histograms, its ROC curve
#    next to PCA's, a threshold set on held-out *normal* images, the detection rates that threshold gives on
#    the test set, and the images it finds most and least anomalous;
# 3. runs the whole protocol — all ten classes of MNIST and of Fashion-MNIST, `deep16` against PCA with 32
#    components through the same code;
# 4. shows why a code that is too large fails: it reconstructs the anomalies too;
# 5. measures how much the autoencoder gains over PCA, the baseline to beat (a little).
#
# Run it as a script (`python tutorials/07_anomaly_detection.py` from the repository root, with
# `TINYAE_DATA_DIR` pointing at the folder that holds `mnist/` and `fashion-mnist/`), or cell by cell.
# Figures go to `tutorial_outputs/`. The full run trains 35 small autoencoders and fits 81 PCAs (we estimate
# 4 to 5 minutes on 2 quiet CPU cores);
# with `TINYAE_QUICK=1` it uses subsets, two classes and one epoch (what the tests run), so its
# numbers are far from the full run's. Without the Fashion-MNIST files, that part is skipped.

# %%
import time

import numpy as np

from tinyae.plot import tutorial_setup

QUICK, SHOW, OUT = tutorial_setup()       # TINYAE_QUICK=1: small and fast; no display: figures only saved
import matplotlib.pyplot as plt             # noqa: E402  (after choosing the backend)

import tinyae                               # noqa: E402
from tinyae import datasets, fit, models, optim, pca, plot  # noqa: E402
from tinyae.apps import anomaly             # noqa: E402
from tinyae.errors import DataNotFoundError  # noqa: E402

SEED = 0
print(f"tinyae {tinyae.__version__}, backend {tinyae.backend.name}, quick mode: {QUICK}")

# %% [markdown]
# ## 1. The idea and the protocol
#
# **One-class training.** Pick a class $d$ to be "normal" — say the digit 3. Train an autoencoder on the
# training images of $d$ only (about 6,000 of MNIST's 60,000). No anomaly is ever shown to it, and no label
# enters the training: the label is used only once, beforehand, to choose which images are normal. (Some
# articles, among them the compression article this project started from, call this *supervised*; it is
# not — `docs/seed-errata.md`, E5. A supervised detector would be trained on labelled anomalies too.)
#
# **The score** of an image $x$ is its squared reconstruction error summed over its 784 pixels,
#
# $$s(x) = \sum_{p=1}^{784} (\hat x_p - x_p)^2 \qquad \text{(in squared pixel units per image; pixels in [0, 1])},$$
#
# 784 times tinyae's MSE per pixel. `anomaly.scores(model, x)` computes it for any object with a
# `reconstruct` method: an autoencoder, or a fitted `pca.PCA`, so the baseline goes through the same code.
#
# **The measure.** All 10,000 test images are scored: about 1,000 of them are $d$ (normal) and about
# 9,000 are the other nine classes (the anomalies). The **AUC**, the area under the ROC curve, of "not $d$"
# against "$d$" summarises how well the scores separate the two without choosing a threshold; it is
# also the **Mann–Whitney probability** that a randomly drawn anomaly scores higher than a randomly drawn
# normal image, a tie counting ½:
#
# $$\mathrm{AUC} = \frac{1}{n_a n_n} \sum_{i \in \text{anomalies}} \sum_{j \in \text{normal}}
#   \Big( [s_i > s_j] + \tfrac12 [s_i = s_j] \Big).$$
#
# 1.0 means every anomaly outscores every normal image, 0.5 is chance. Because it compares pairs, the AUC
# does not depend on the 9 : 1 ratio of anomalies to normal images, nor on any increasing transformation of
# the scores (the MSE per pixel, or its square root, give the same AUC). We report it × 100.
# The protocol is that of `benchmarks/anomaly.py`; it is the one-class setting of the Deep SVDD paper
# (Ruff et al. 2018), whose preprocessing of the images differs.
#
# The data: MNIST with its labels, pixels in [0, 1].

# %%
x_train, y_train = datasets.mnist("train")
x_test, y_test = datasets.mnist("test")
if QUICK:
    x_train, y_train, x_test, y_test = x_train[:12000], y_train[:12000], x_test[:2000], y_test[:2000]
EPOCHS = 1 if QUICK else 30                     # deep16 and deep: ~4 s for 30 epochs of one class on 2 cores
CLASSES = (3, 8) if QUICK else tuple(range(10))
NORMAL = 3                                      # the class followed in detail
print(f"MNIST: {len(x_train):,} training and {len(x_test):,} test images; {EPOCHS} epoch{'s' * (EPOCHS > 1)} per model; "
      f"classes {CLASSES}")
print("training images per class:", dict(zip(*[v.tolist() for v in np.unique(y_train, return_counts=True)])))


def train(model, normal_images, epochs=EPOCHS):
    """The protocol's training: Adam 1e-3, batch 64, MSE per pixel (the zoo models' own loss), seed 0."""
    fit(model, normal_images, epochs=epochs, batch_size=64, seed=SEED, verbose=0,
        optimizer=optim.Adam(model.parameters(), lr=1e-3))
    return model


# %% [markdown]
# ## 2. One detector: `deep16` trained on the digit 3
#
# The zoo's one-class detector is `deep16`: 784 → 128 → **16** → 128 → 784, ReLU inside and a sigmoid
# output. Its 16-number code is deliberately small (section 7 says why).
#
# We will also set a threshold, and a threshold must be chosen on images the detector has not been trained
# on — but not on the test set, which is only for measuring. So we hold out 10 % of the 3s of the
# *training* set as **validation** images: normal images only, like the training set. The detector is
# trained on the other 90 %, and PCA with 32 components is fitted on the same 90 %.

# %%
rng = np.random.default_rng(SEED)
threes = x_train[y_train == NORMAL]
order = rng.permutation(len(threes))
n_val = len(threes) // 10
x_val, x_fit = threes[order[:n_val]], threes[order[n_val:]]
print(f"digit {NORMAL}: {len(x_fit):,} training images, {len(x_val):,} held-out validation images (all normal)")

start = time.perf_counter()
detector = train(models.build("deep16", seed=SEED), x_fit)
print(f"deep16 trained in {time.perf_counter() - start:.1f} s ({EPOCHS} epoch{'s' * (EPOCHS > 1)})")
pca32 = pca.PCA(32).fit(x_fit)
print(f"PCA-32 fitted: its 32 axes hold {100 * pca32.explained_variance_ratio_.sum():.1f} % of the 3s' variance")

is_anomaly = y_test != NORMAL
s_ae = anomaly.scores(detector, x_test)
s_pca = anomaly.scores(pca32, x_test)
for name, s in (("deep16", s_ae), ("PCA-32", s_pca)):
    print(f"{name}: mean score of the {np.sum(~is_anomaly):,} test 3s {s[~is_anomaly].mean():6.2f}, "
          f"of the {np.sum(is_anomaly):,} other test digits {s[is_anomaly].mean():6.2f} "
          f"(squared error per image)")

# %% [markdown]
# The histograms of the two groups' scores (log axis: errors spread over a factor of 10 and more). They
# overlap; no threshold separates them perfectly, and the AUC measures how much they overlap.

# %%
plot.score_histograms(s_ae[~is_anomaly], s_ae[is_anomaly], OUT / "07_score_histograms.png",
                      title=f"deep16 trained on the digit {NORMAL}: scores of the test images")
print(f"figure written to {OUT / '07_score_histograms.png'}")

# %% [markdown]
# ## 3. The AUC, counted two ways
#
# First by brute force: every (anomaly, normal) pair, a win counting 1 and a tie ½ — about 9 million pairs,
# compared block by block. Then `anomaly.auc`, which gets the same number from ranks in $O(n \log n)$: sort
# all scores, give tied scores their average rank, and $U = R_a - n_a(n_a+1)/2$, with $R_a$ the sum of the
# anomalies' ranks, counts the pairs the anomalies win; $\mathrm{AUC} = U / (n_a n_n)$.
#
# Real-valued scores are almost never tied, so we also round the scores to whole numbers, which makes many
# ties, to check that both count a tie as ½.

# %%
def pairwise_auc(s, is_anomaly, block=100):
    """The Mann–Whitney count over every (anomaly, normal) pair: win 1, tie ½."""
    s_a, s_n = s[is_anomaly], s[~is_anomaly]
    wins = ties = 0
    for start in range(0, len(s_n), block):
        diff = s_a[:, None] - s_n[None, start:start + block]
        wins += int(np.sum(diff > 0))
        ties += int(np.sum(diff == 0))
    return (wins + 0.5 * ties) / (len(s_a) * len(s_n)), ties


n_pairs = int(np.sum(is_anomaly)) * int(np.sum(~is_anomaly))
for label, s in (("scores", s_ae), ("scores rounded to integers", np.round(s_ae))):
    start = time.perf_counter()
    brute, ties = pairwise_auc(s, is_anomaly)
    brute_seconds = time.perf_counter() - start
    start = time.perf_counter()
    fast = anomaly.auc(s, is_anomaly)
    fast_seconds = time.perf_counter() - start
    print(f"{label:<27}: pairwise {100 * brute:.4f} ({n_pairs:,} pairs, {ties:,} ties, {brute_seconds:.2f} s), "
          f"anomaly.auc {100 * fast:.4f} ({1000 * fast_seconds:.1f} ms); difference {abs(brute - fast):.1e}")
    assert abs(brute - fast) < 1e-9
print(f"the same AUC from the MSE per pixel: {100 * anomaly.auc(s_ae / 784, is_anomaly):.4f}, "
      f"from the root of the score: {100 * anomaly.auc(np.sqrt(s_ae), is_anomaly):.4f}")

# %% [markdown]
# The **ROC curve** shows every threshold at once: flag an image when its score is at least $t$; as $t$
# goes down from $+\infty$, the fraction of anomalies flagged (true-positive rate) and the fraction of normal
# images flagged (false-positive rate) both climb from 0 to 1. The AUC is the area under it (the figure's
# legend gives it as a fraction, not × 100). Here are `deep16`'s and PCA-32's, both trained on the same 3s
# and scored by the same function.

# %%
curves = {}
for name, s in (("deep16", s_ae), ("PCA-32", s_pca)):
    fpr, tpr, _ = anomaly.roc_curve(s, is_anomaly)
    curves[name] = (fpr, tpr, anomaly.auc(s, is_anomaly))
    read_off = ", ".join(f"{100 * np.interp(f, fpr, tpr):.1f} % at {100 * f:g} %" for f in (0.01, 0.05, 0.10))
    print(f"{name}: AUC {100 * curves[name][2]:.2f}; anomalies flagged at a test false-positive rate of {read_off}")
plot.roc_curves(curves, OUT / "07_roc_digit3.png", title=f"one-class ROC, normal = digit {NORMAL} (MNIST test set)")
print(f"figure written to {OUT / '07_roc_digit3.png'}")

# %% [markdown]
# The rates above are read off the *test* ROC: they say how good the scores are, but a detector in use
# cannot pick its threshold by looking at the test labels. That is the next section.
#
# ## 4. A threshold set on validation images
#
# A detector in use needs one threshold. A common rule: accept a false-positive rate, say 5 % of the normal
# images flagged, and set the threshold where 5 % of the **held-out validation** normal images score above
# it (`anomaly.threshold_at_fpr`). No anomaly is needed for that either: the whole detector, threshold
# included, is built from normal images. Then we measure on the test set what the threshold gives: the
# fraction of test 3s it flags (near 5 % if the validation images are like the test images, but not
# guaranteed) and the fraction of each other digit it catches.

# %%
def at_threshold(name, model, s):
    s_val = anomaly.scores(model, x_val)
    threshold = anomaly.threshold_at_fpr(s_val, 0.05)
    flagged = s > threshold                               # at most 5 % of the validation scores lie above it
    val_rate = np.mean(s_val > threshold)
    print(f"{name}: threshold {threshold:.2f} (squared error per image); flags {100 * val_rate:.1f} % of the "
          f"validation 3s, {100 * flagged[~is_anomaly].mean():.1f} % of the test 3s, "
          f"{100 * flagged[is_anomaly].mean():.1f} % of the test anomalies; "
          f"{100 * is_anomaly[flagged].mean():.1f} % of what it flags are anomalies")
    return threshold, flagged


threshold, flagged = at_threshold("deep16", detector, s_ae)
_, flagged_pca = at_threshold("PCA-32", pca32, s_pca)
print("\nanomalies caught per digit, at the validation threshold (5 % of the validation 3s flagged):")
print("digit   test images   deep16   PCA-32")
for digit in range(10):
    if digit != NORMAL:
        mask = y_test == digit
        print(f"{digit:5d}   {mask.sum():11,d}   {100 * flagged[mask].mean():5.1f} %  {100 * flagged_pca[mask].mean():5.1f} %")

plot.score_histograms(s_ae[~is_anomaly], s_ae[is_anomaly], OUT / "07_score_histograms_threshold.png",
                      threshold=threshold, title="deep16, digit 3: the threshold set on validation 3s")
print(f"figure written to {OUT / '07_score_histograms_threshold.png'}")

# %% [markdown]
# The share of anomalies among the flagged images (the precision) depends on how many anomalies there are
# to find: here 9 in 10 test images are anomalies, a ratio real applications rarely have. The detection rates
# per digit do not depend on it, and they show which digits look like 3s to the detector. In our full run
# (sections 2–5 are deterministic: seed 0, CPU) the validation threshold flagged 5.0 % of the test 3s, as
# planned, and 73.6 % of the anomalies (PCA-32: 5.1 % and 67.5 %). It caught nearly every 0 and 4, but only
# 17 % of the 1s and 62 % of the 7s: a 1 has so little ink that even a poor reconstruction of it costs few
# squared errors, and a 7 is close to the top half of a 3.
#
# ## 5. What the detector finds
#
# The test images `deep16` scores highest (most anomalous) and lowest (most normal), with their labels.

# %%
by_score = np.argsort(-s_ae, kind="stable")
n_grid = 30
plot.image_grid(x_test[by_score[:n_grid]], OUT / "07_most_anomalous.png", columns=10,
                title=f"the {n_grid} test images deep16 (trained on 3s) scores highest")
plot.image_grid(x_test[by_score[-n_grid:][::-1]], OUT / "07_least_anomalous.png", columns=10,
                title=f"the {n_grid} test images it scores lowest")
print("labels of the highest-scoring:", " ".join(map(str, y_test[by_score[:n_grid]])))
print("labels of the lowest-scoring: ", " ".join(map(str, y_test[by_score[-n_grid:][::-1]])))
print(f"figures written to {OUT / '07_most_anomalous.png'} and {OUT / '07_least_anomalous.png'}")

# %% [markdown]
# In our full run the highest scores went to bold, round 0s and 6s, a few 4s and a 9 — ink where a 3
# has none — and the 30 lowest were all 3s. The score measures "hard to reconstruct as a 3", which is close
# to, but not the same as, "not a 3". The two kinds of mistake, with the reconstructions that explain them:
# the 3s scored highest (false alarms) and the anomalies scored lowest (misses).

# %%
normal_idx = by_score[~is_anomaly[by_score]]               # the test 3s, most anomalous first
anomaly_idx = by_score[is_anomaly[by_score]]               # the other digits, most anomalous first
false_alarms, misses = normal_idx[:10], anomaly_idx[::-1][:10]
plot.image_rows([("3s scored highest", x_test[false_alarms]), ("deep16's output", detector.reconstruct(x_test[false_alarms])),
                 ("others scored lowest", x_test[misses]), ("deep16's output ", detector.reconstruct(x_test[misses]))],
                OUT / "07_mistakes.png", title="false alarms and misses of deep16 trained on 3s")
print("scores of the false alarms:", " ".join(f"{s_ae[i]:.0f}" for i in false_alarms))
print("labels and scores of the misses:", " ".join(f"{y_test[i]}:{s_ae[i]:.1f}" for i in misses))
print(f"figure written to {OUT / '07_mistakes.png'}")

# %% [markdown]
# In our full run the false alarms were 3s of unusual shape — slanted, crossed, looped, closed like an 8 —
# which the detector redraws as an ordinary 3, and the misses were 7s, 5s, 1s and an 8 whose 3-like
# reconstructions still lie close to them: a 7 is nearly the upper half of a 3, and a thin 1 leaves little
# ink to get wrong.

# %% [markdown]
# ## 6. The whole protocol: ten classes, two data sets, deep16 against PCA-32
#
# `anomaly.one_class(make_model, train, x, y, x_test, y_test)` runs the protocol for every class $d$: a new
# model, trained on the training images of $d$ (all of them now: this table uses no threshold, so no
# validation images), scores all test images, and the AUC of "not $d$" against "$d$" is kept. PCA runs through
# the same function — its "training" is `fit` — so both columns are computed identically. Digit 3's entry
# differs a little from that of sections 2–5, whose detector saw 90 % of the 3s.

# %%
FASHION = ["T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]


def deep16_factory(d):
    return models.build("deep16", seed=SEED)


def pca_factory(k):
    return lambda d: pca.PCA(k)


def fit_pca(model, normal_images):
    model.fit(normal_images)


def one_class_table(title, x, y, xt, yt, names=None):
    start = time.perf_counter()
    ours = anomaly.one_class(deep16_factory, train, x, y, xt, yt, classes=CLASSES)
    seconds = (time.perf_counter() - start) / len(CLASSES)
    base = anomaly.one_class(pca_factory(32), fit_pca, x, y, xt, yt, classes=CLASSES)
    print(f"\n{title}: AUC × 100 of 'not d' against 'd' ({seconds:.1f} s per class for deep16)")
    print(f"{'class d':<16} {'deep16':>7} {'PCA-32':>7} {'difference':>10}")
    for d in CLASSES:
        label = f"{d} {names[d]}" if names else str(d)
        print(f"{label:<16} {100 * ours[d]:7.2f} {100 * base[d]:7.2f} {100 * (ours[d] - base[d]):+10.2f}")
    print(f"{'mean':<16} {100 * ours['mean']:7.2f} {100 * base['mean']:7.2f} {100 * (ours['mean'] - base['mean']):+10.2f}")
    wins = sum(ours[d] > base[d] for d in CLASSES)
    print(f"deep16 is ahead on {wins} of {len(CLASSES)} classes")
    return ours, base


mnist_ae, mnist_pca = one_class_table("MNIST", x_train, y_train, x_test, y_test)

# %%
fashion = None
try:
    fx, fy = datasets.fashion_mnist("train")
    fxt, fyt = datasets.fashion_mnist("test")
    if QUICK:
        fx, fy, fxt, fyt = fx[:12000], fy[:12000], fxt[:2000], fyt[:2000]
    fashion = one_class_table("Fashion-MNIST", fx, fy, fxt, fyt, names=FASHION)
except DataNotFoundError as exc:                        # MNIST is here, Fashion-MNIST is not: go on without it
    print(f"Fashion-MNIST skipped: {type(exc).__name__}, its files were not found (set TINYAE_DATA_DIR to a "
          f"folder that holds fashion-mnist/)")

# %% [markdown]
# For comparison, the reference runs quoted in the project's issue under this protocol (mean AUC × 100 over
# the ten classes): MNIST — PCA-32 95.5, a dense autoencoder 784-128-32 trained 30 epochs 96.5–96.7, the
# published Deep SVDD 94.8; Fashion-MNIST — PCA-32 90.5, a dense autoencoder 91.0. `benchmarks/anomaly.py`
# (deep16, 30 epochs, batch 64, seed 0) measured 96.92 against PCA-32's 95.53 on MNIST and 91.21 against
# 90.51 on Fashion-MNIST. The tables above are this run's.
#
# Some classes are easy for both methods (MNIST's 1: a thin stroke, and anything else has more ink; the
# benchmark measured 99.92 and 99.89) and some hard (MNIST's 8, whose strokes cover much of the other digits':
# 90.39 and 84.86 in the benchmark; on Fashion-MNIST, look at the shirt, which resembles the T-shirts,
# pullovers and coats).
#
# ## 7. Why a code that is too large fails
#
# The detector works only because it reconstructs anomalies *worse* than normal images. Nothing in training
# asks for that: the objective only rewards reconstructing the normal images well. Anomalies are
# reconstructed badly only because a small code forces the model to learn what is specific to the normal
# class and nothing else. Give it a larger code and it can learn something closer to the identity, which
# reconstructs everything — anomalies included — and the AUC falls.
#
# **A little larger:** `deep`, the same network with a 32-number code instead of 16, through the same protocol.

# %%
start = time.perf_counter()
mnist_deep = anomaly.one_class(lambda d: models.build("deep", seed=SEED), train, x_train, y_train, x_test, y_test,
                               classes=CLASSES)
print(f"MNIST, AUC × 100 ({(time.perf_counter() - start) / len(CLASSES):.1f} s per class)")
print(f"{'class d':<8} {'deep16 (16)':>11} {'deep (32)':>10}")
for d in [*CLASSES, "mean"]:
    print(f"{d!s:<8} {100 * mnist_ae[d]:11.2f} {100 * mnist_deep[d]:10.2f}")

# %% [markdown]
# `benchmarks/anomaly.py` measured a mean of 96.29 for `deep` against 96.92 for `deep16` (30 epochs, all ten
# digits): a small step in the expected direction, not a rule for every class. Doubling the code is a mild
# change; the next model is not.

# %% [markdown]
# **Much larger:** the zoo's convolutional autoencoder `conv` (tutorial 2) has a code of 64 × 7 × 7 = 3136
# numbers, four times as many as the image has pixels. It is a good reconstructor, and that is the problem.
# Its training is slower (about 3 s per epoch for one class's 6,000 images on 2 cores, against 0.15 s for
# `deep16`), so we train it a few epochs on two digits and score all test images after every epoch, next to
# `deep16` trained for the same number of epochs. (Scoring the test set after each epoch is only to watch;
# nothing is chosen by it.)

# %%
CONV_CLASSES = (3,) if QUICK else (3, 1)
CONV_EPOCHS = 1 if QUICK else 5
conv_runs = {}


def watch(model, labels, log):
    """A fit callback: after each epoch, the AUC and the mean scores of normal and anomalous test images."""
    def callback(epoch, history):
        s = anomaly.scores(model, x_test, batch_size=256)     # conv: faster in batches of 256 than of 1024
        log.append((anomaly.auc(s, labels), s[~labels].mean(), s[labels].mean()))
    return callback


for d in CONV_CLASSES:
    normal_images = x_train[y_train == d]
    if QUICK:
        normal_images = normal_images[:500]
    labels = y_test != d
    row = {}
    for name in ("deep16", "conv"):
        model = models.build(name, seed=SEED)
        log = []
        start = time.perf_counter()
        fit(model, normal_images, epochs=CONV_EPOCHS, batch_size=64, seed=SEED, verbose=0,
            optimizer=optim.Adam(model.parameters(), lr=1e-3), callbacks=[watch(model, labels, log)])
        row[name] = {"model": model, "log": log, "seconds": time.perf_counter() - start}
    conv_runs[d] = row
    print(f"\nnormal digit {d} ({len(normal_images):,} training images); after each epoch: AUC × 100, and the mean "
          f"score (squared error per image) of normal / anomalous test images")
    print(f"{'epoch':>5}   {'deep16 (16-number code)':>30}   {'conv (3136-number code)':>30}")
    for epoch in range(CONV_EPOCHS):
        cells = [f"AUC {100 * a:6.2f}, {n:5.2f} / {m:5.2f}" for a, n, m in
                 (row["deep16"]["log"][epoch], row["conv"]["log"][epoch])]
        print(f"{epoch + 1:5d}   {cells[0]:>30}   {cells[1]:>30}")
    print("seconds, training and scoring after each epoch: "
          + ", ".join(f"{name} {r['seconds']:.1f} s" for name, r in row.items()))

# %% [markdown]
# Compare the two mean scores in each column. `deep16`'s anomalies should score well above its normal
# images (2.9 times as high on the 3s after 30 epochs, section 2); where `conv`'s two figures are close, it
# reconstructs the other digits almost as well as the one it was trained on, and its AUC shows it. (In a
# trial run on the 3s — 3 epochs, another shuffling — `conv`'s AUC was 56, 61 and 64 after each epoch, and
# its anomalies' mean score only 1.1 to 1.2 times its normal images': about 5 per anomaly after 3 epochs,
# where `deep16`'s is 33 after 30.)
#
# The digit 1 is the exception to watch for: a 1 is a thin stroke and every other digit has more ink, so
# almost any model trained on 1s leaves larger errors on the other digits (PCA-32 and deep16 both reached an
# AUC near 99.9 there in the benchmark). In a trial run `conv` on the 1s kept an AUC near 99.8 for 2 epochs, but the
# anomalies' mean score fell from 5.9 to 4.9 times the normal images' as it trained: the margin shrinks
# although the ranking still holds. A high AUC on an easy class says little about the method.
#
# The picture: test images that are *not* 3s, passed through `deep16` and through `conv`, both trained on 3s.

# %%
d = CONV_CLASSES[0]
others = x_test[y_test != d][:10]
plot.image_rows([(f"not a {d}", others),
                 ("deep16 (16)", conv_runs[d]["deep16"]["model"].reconstruct(others)),
                 ("conv (3136)", conv_runs[d]["conv"]["model"].reconstruct(others))],
                OUT / "07_too_large_code.png",
                title=f"anomalies reconstructed by models trained on {d}s, {CONV_EPOCHS} epoch{'s' if CONV_EPOCHS > 1 else ''} each")
print(f"figure written to {OUT / '07_too_large_code.png'}")

# %% [markdown]
# `deep16` turns other digits into something 3-like — a large error, a high score — while a trained `conv`
# comes much closer to copying them (after the quick mode's single epoch on 500 images, both are still blurs). Training on 3s only teaches `conv` to reconstruct well, and with a code four
# times the size of the image, "reconstruct well" is not specific to 3s. The issue quotes the same failure
# for a convolutional autoencoder with a 392-number code (mean AUC 64.5 over the ten MNIST digits under this
# protocol, "it reconstructs every digit too well"), and 95.9 for the same network with a 32-number dense
# bottleneck added: the remedy is the bottleneck, not a different network.
#
# ## 8. PCA, the baseline to beat
#
# PCA with $k$ components is a linear autoencoder with a $k$-number code, fitted exactly in a fraction of
# a second, and its score — the squared distance of the image from the $k$-dimensional subspace of the
# normal class — goes through the same `anomaly.scores` and `anomaly.one_class`. It shows the same
# trade-off as the code size above, with no training noise: too few components describe the normal class
# badly (normal images score high too), too many describe the anomalies as well, so there should be a best
# $k$ in between. Where it lies in this run is printed below.

# %%
PCA_SIZES = (32, 128) if QUICK else (4, 8, 16, 32, 64, 128, 256)
start = time.perf_counter()
pca_means = {k: (mnist_pca["mean"] if k == 32 else
                 anomaly.one_class(pca_factory(k), fit_pca, x_train, y_train, x_test, y_test, classes=CLASSES)["mean"])
             for k in PCA_SIZES}
print(f"MNIST, mean AUC × 100 over classes {CLASSES} ({time.perf_counter() - start:.1f} s for all PCA fits)")
for k, m in pca_means.items():
    print(f"PCA-{k:<4} {100 * m:6.2f}")
print(f"deep16   {100 * mnist_ae['mean']:6.2f}   (a 16-number code)")
print(f"deep     {100 * mnist_deep['mean']:6.2f}   (a 32-number code)")

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(PCA_SIZES, [100 * pca_means[k] for k in PCA_SIZES], "o-", label="PCA")
ax.plot([16], [100 * mnist_ae["mean"]], "s", markersize=9, label="deep16 (784-128-16-128-784)")
ax.plot([32], [100 * mnist_deep["mean"]], "^", markersize=9, label="deep (784-128-32-128-784)")
ax.set_xscale("log", base=2)
ticks = sorted({*PCA_SIZES, 16, 32})
ax.set_xticks(ticks)
ax.set_xticklabels([str(k) for k in ticks])
ax.set_xlabel("code size (numbers per image)")
ax.set_ylabel("mean AUC × 100")
ax.set_title(f"one-class MNIST: mean over {len(CLASSES)} classes")
ax.grid(True, alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "07_code_size.png", dpi=100)
if SHOW:
    plt.show()
plt.close(fig)
print(f"figure written to {OUT / '07_code_size.png'}")

# %%
print("what the autoencoder gains over PCA-32, in mean AUC × 100:")
print(f"MNIST          deep16 {100 * mnist_ae['mean']:.2f} − PCA-32 {100 * mnist_pca['mean']:.2f} = "
      f"{100 * (mnist_ae['mean'] - mnist_pca['mean']):+.2f}")
if fashion is not None:
    f_ae, f_pca = fashion
    print(f"Fashion-MNIST  deep16 {100 * f_ae['mean']:.2f} − PCA-32 {100 * f_pca['mean']:.2f} = "
          f"{100 * (f_ae['mean'] - f_pca['mean']):+.2f}")
else:
    print("Fashion-MNIST  skipped (no data)")

# %% [markdown]
# The gain is real but modest: `benchmarks/anomaly.py` measured +1.39 points on MNIST (96.92 against 95.53)
# and +0.70 on Fashion-MNIST (91.21 against 90.51), with PCA ahead on MNIST's digit 5; your run's figures
# are printed above. A detector that does not beat PCA under the same protocol has learned nothing a
# sub-second linear fit does not already know — always run the baseline.
#
# ## What to take away
#
# * Anomaly detection by reconstruction error is **one-class**: the model is trained on normal images only,
#   with no anomaly and no label in training; even the threshold is set on held-out normal images. It is not
#   supervised (`docs/seed-errata.md`, E5).
# * The score is the squared reconstruction error per image; the AUC is the probability that a random
#   anomaly outscores a random normal image (ties ½) — a pairwise count, computed fast from ranks
#   (`anomaly.auc`). It needs no threshold and ignores the ratio of anomalies to normal images; a threshold
#   chosen at 5 % false positives on validation images turns it into detection rates per class.
# * The score measures "hard to reconstruct": heavy, unusual normal images raise false alarms, and faint
#   or simple anomalies are missed. Look at the mistakes.
# * The code size decides everything. The detector works only because it reconstructs anomalies badly, and
#   a code large enough to reconstruct them well — the 3136-number `conv` above — makes the scores nearly
#   useless, however good the reconstructions. A smaller code (16 rather than 32) helped on MNIST in
#   `benchmarks/anomaly.py` (deep16 96.92, deep 96.29), and PCA's AUC has a best number of components too.
# * PCA is the baseline to beat, through the same code. The autoencoder's gain over PCA-32 is modest:
#   1.39 AUC points on MNIST and 0.70 on Fashion-MNIST in `benchmarks/anomaly.py` (this run's are printed
#   in section 8). A claim of a better detector needs the baseline next to it.
