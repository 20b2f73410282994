# %% [markdown]
# # Tutorial 5: sparse codes — penalties a layer adds to the objective
#
# A code does not have to be short to be useful. A **sparse** autoencoder may have as many code units as
# it likes, or more than the image has pixels, as long as only a few of them are active for any one image.
# What keeps it from copying the image is then not the size of the code but a **penalty** on the code's
# activity, added to the reconstruction error. This tutorial
#
# 1. shows how such a penalty works without autograd: a layer that passes its input on unchanged, adds a
#    number to the objective and adds that number's gradient to the backward pass (`docs/math/penalties.md`,
#    equations R1–R5), and checks both penalties against finite differences;
# 2. trains the Keras blog's sparse model (784 → 32 ReLU code with an L1 activity penalty → 784 sigmoid) with
#    and without the penalty and compares how active their codes are;
# 3. pins down what the blog's `l1(10e-5)` means (λ = 1e-4, divided by the batch size in the Keras it was
#    written for, *not* in Keras 3);
# 4. trains Ng's sparse autoencoder (784 → 196 sigmoid units, KL sparsity towards a mean activation of 0.1) and
#    looks at what its units learned.
#
# Run it as a script (`python tutorials/05_sparse_codes.py` from the repository root, with `TINYAE_DATA_DIR`
# pointing at the folder that holds `mnist/`), or cell by cell. Figures go to `tutorial_outputs/`. With
# `TINYAE_QUICK=1` it uses a small subset and one epoch (what the tests run).

# %%
import time

import numpy as np

from tinyae.plot import tutorial_setup

QUICK, SHOW, OUT = tutorial_setup()       # TINYAE_QUICK=1: small and fast; no display: figures only saved
import matplotlib.pyplot as plt             # noqa: E402  (after choosing the backend)

import tinyae                               # noqa: E402
from tinyae import backend, datasets, gradcheck, layers, models, plot  # noqa: E402
from tinyae.checks import away_from_zero    # noqa: E402

SEED = 0
print(f"tinyae {tinyae.__version__}, backend {tinyae.backend.name}, quick mode: {QUICK}")

# %% [markdown]
# ## 1. A penalty is a layer: forward adds a number, backward adds its gradient
#
# Keras attaches an *activity regulariser* to a layer and adds its value to the loss; autograd then finds its
# gradient. tinyae has no autograd, so the layer that owns the term also owns its gradient. `ActivityL1(λ)`
# is the identity on the way forward; it sets `layer.penalty` to
#
# $$\text{penalty} = \frac{\lambda}{N} \sum_{n,j} |h_{nj}| \qquad \text{(R1)}$$
#
# for the batch of N codes $h$, and on the way back it returns
# $\bar h = \bar y + \frac{\lambda}{N}\operatorname{sign}(h)$ (R2). Containers (`Sequential`, `Autoencoder`)
# sum their layers' penalties; `fit` minimises data term + penalty and reports the two apart.
#
# `KLSparsity(ρ, β)` is Ng's penalty for sigmoid codes: with $\hat\rho_j$ the mean activation of unit $j$ over
# the batch (R3), it adds $\beta \sum_j \mathrm{KL}(\rho \,\|\, \hat\rho_j)$, the divergence between a coin
# that comes up 1 with probability ρ and one with $\hat\rho_j$ (R4), zero when every unit is active a fraction
# ρ of the time; its gradient (R5) pushes every sample's activation of unit $j$ down when the unit is too often
# active and up when too rarely. The gradient check tests the *sum* $\sum_n y \cdot \bar y + \text{penalty}$:

# %%
with backend.default_dtype("float64"):
    check_rng = np.random.default_rng(SEED)
    l1_errors = gradcheck.check_layer(layers.ActivityL1(0.3), away_from_zero(check_rng, (6, 5)))
    kl_errors = gradcheck.check_layer(layers.KLSparsity(target=0.1, weight=3.0), check_rng.uniform(0.05, 0.95, (6, 5)))
print(f"ActivityL1:  largest relative error of the input gradient {l1_errors['x']:.1e}   (eq. R1, R2)")
print(f"KLSparsity:  largest relative error of the input gradient {kl_errors['x']:.1e}   (eq. R3–R5)")
assert max(l1_errors["x"], kl_errors["x"]) < 1e-7

h = np.array([[1.0, -2.0, 0.0], [0.5, 0.0, 3.0]], np.float32)
penalty_layer = layers.ActivityL1(0.1)
penalty_layer.forward(h)
print(f"\nActivityL1(0.1) on a batch of 2 codes with Σ|h| = {np.abs(h).sum():g}: penalty = 0.1 · {np.abs(h).sum():g} / 2 "
      f"= {penalty_layer.penalty:.3f}")
print("its backward adds (λ/N)·sign(h) to the incoming gradient:\n", penalty_layer.backward(np.zeros_like(h)))

# %% [markdown]
# ## 2. The data
#
# MNIST, pixels scaled to [0, 1]. Quick mode uses 2,000 training and 1,000 test images.

# %%
x_train, _ = datasets.mnist("train")
x_test, y_test = datasets.mnist("test")
if QUICK:
    x_train, x_test, y_test = x_train[:2000], x_test[:1000], y_test[:1000]
EPOCHS = 1 if QUICK else 30
print(f"{len(x_train):,} training and {len(x_test):,} test images; {EPOCHS} epochs per model")

# %% [markdown]
# ## 3. The Keras blog's sparse autoencoder, with and without the penalty
#
# The blog's model is 784 → 32 (ReLU) → 784 (sigmoid), binary cross-entropy, with
# `activity_regularizer=regularizers.l1(10e-5)` on the 32-unit code, trained 100 epochs at batch 256. Two
# details decide what that means:
#
# * **10e-5 is 1e-4**, not 1e-5 (ten times ten to the minus five). The zoo's `sparse` uses 1e-4.
# * **Keras divides an activity penalty by the batch size** — tf.keras 2 says so in its source ("make
#   activity regularization strength batch-agnostic"), and Keras 1, where the blog was written, computed
#   `l1 * sum(mean(abs(h), axis=0))`. Keras 3 no longer does: there the same λ is N times stronger
#   (256× at batch 256). `ActivityL1(λ)` follows the blog (`reduction="batch_mean"`);
#   `ActivityL1(λ, reduction="sum")` is Keras 3's rule.
#
# We train the model with λ = 1e-4 and with λ = 0 (the same layers, seed and batches, so only the penalty
# differs) and compare the codes of the test images. The figure the blog quotes is `encoded_imgs.mean()`: the
# mean over the test images and the 32 units.

# %%
def code_figures(model):
    codes = model.encode(x_test)
    return {"codes": codes, "mean": float(codes.mean()), "zero": float(np.mean(codes == 0)),
            "dead": int(np.sum(codes.max(axis=0) == 0)), "bce": tinyae.evaluate(model, x_test, parts=True)["data"]}


runs = {}
for weight in (0.0, 1e-4):
    model = models.sparse(seed=SEED, weight=weight)
    start = time.perf_counter()
    history = tinyae.fit(model, x_train, epochs=EPOCHS, batch_size=256, seed=SEED, verbose=0 if QUICK else 1)
    runs[weight] = {"model": model, "history": history, "seconds": time.perf_counter() - start, **code_figures(model)}

print(f"\nafter {EPOCHS} epochs, on {len(x_test):,} test images:")
print(f"{'λ':>6}  {'mean code activation':>20}  {'zero entries':>12}  {'dead units':>10}  {'test BCE per pixel':>18}"
      f"  {'train penalty':>13}  {'s/epoch':>7}")
for weight, run in runs.items():
    print(f"{weight:>6g}  {run['mean']:>20.3f}  {run['zero']:>12.1%}  {run['dead']:>7} / 32  {run['bce']:>18.4f}"
          f"  {run['history'].penalty[-1]:>13.4f}  {run['seconds'] / EPOCHS:>7.2f}")
ratio = runs[1e-4]["mean"] / runs[0.0]["mean"]
print(f"\nwith the penalty the codes are {ratio:.2f} times as active as without (the blog, after 100 epochs: "
      f"3.33 / 7.30 = {3.33 / 7.30:.2f})")

# %% [markdown]
# The test BCE in the table is the data term alone, so it is the figure to compare between the two: the
# penalty costs reconstruction quality, a little. The train penalty is λ·Σ|h|/N, the per-image sum of the
# code times λ: with λ = 1e-4 it is a small part of the objective, yet enough to cut the activity by more than
# half (a quarter of the unpenalised in our 30-epoch run; 1.29 against 8.16 after the blog's 100 epochs), because
# the reconstruction hardly cares *how large* the code's values are (the decoder can scale its weights up
# instead), while the penalty does. For the same reason the λ = 0 model's code grows freely. The project's
# benchmark `benchmarks/sparse.py` runs the blog's full 100 epochs with λ = 0, 1e-5 and 1e-4.
#
# The histogram shows where the difference is:

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8))
top = max(float(run["codes"].max()) for run in runs.values())
bins = np.linspace(0, top, 60)
for weight, run in runs.items():
    values = run["codes"].ravel()
    ax.hist(values[values > 0], bins=bins, alpha=0.6,
            label=f"λ = {weight:g}: mean {run['mean']:.2f}, {run['zero']:.0%} exactly 0")
ax.set_xlabel("code value (ReLU output) of a test image's unit")
ax.set_ylabel("count (non-zero values only)")
ax.set_yscale("log")
ax.set_title("32-unit codes of the Keras blog's model, with and without L1 activity")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "05_code_histogram.png", dpi=100)
if SHOW:
    plt.show()
plt.close(fig)

rows = [("test image", x_test[:10])] + [(f"λ = {w:g}", run["model"].reconstruct(x_test[:10])) for w, run in runs.items()]
plot.image_rows(rows, OUT / "05_sparse_reconstructions.png", title="reconstructions with and without the L1 penalty")
print(f"figures written to {OUT / '05_code_histogram.png'} and {OUT / '05_sparse_reconstructions.png'}")

# %% [markdown]
# ## 4. Ng's sparse autoencoder: KL sparsity on a sigmoid code
#
# Andrew Ng's notes (CS294A) train 784 → 196 sigmoid units on MNIST with a KL penalty that pulls each unit's
# mean activation towards ρ = 0.1, β = 3, on the objective $\frac1N\sum_n \tfrac12\|\hat x_n - x_n\|^2 +
# \beta\sum_j \mathrm{KL}(\rho\|\hat\rho_j)$. The zoo's `sparse_kl` is that model; its data term is tinyae's
# `mse_per_image`, $\frac1N\sum_n \|\hat x_n - x_n\|^2$, twice Ng's, so it uses β = 6: twice Ng's objective,
# the same minimiser and, under Adam (which does not care about a constant factor), the same steps. (Ng also
# adds weight decay and uses L-BFGS; we keep Adam.) 196 units is a quarter of the 784 pixels: without the
# penalty this model would simply spread the image over all of them.

# %%
kl_model = models.build("sparse_kl", seed=SEED)
KL_EPOCHS = 1 if QUICK else 15
start = time.perf_counter()
kl_history = tinyae.fit(kl_model, x_train, epochs=KL_EPOCHS, batch_size=256, seed=SEED, verbose=0 if QUICK else 1)
kl_seconds = time.perf_counter() - start
kl_codes = kl_model.encode(x_test)
unit_means = kl_codes.mean(axis=0)
parts = tinyae.evaluate(kl_model, x_test, parts=True)
print(f"sparse_kl after {KL_EPOCHS} epochs ({kl_seconds / KL_EPOCHS:.1f} s per epoch): test squared error "
      f"{parts['data']:.2f} per image ({parts['data'] / 784:.4f} per pixel), KL penalty {parts['penalty']:.3f}")
print(f"mean activation per unit on the test set: median {np.median(unit_means):.3f}, "
      f"10th–90th percentile {np.percentile(unit_means, 10):.3f}–{np.percentile(unit_means, 90):.3f} (target ρ = 0.1)")
print(f"a typical image turns on {np.mean(np.sum(kl_codes > 0.5, axis=1)):.1f} of the 196 units above 0.5")

# %% [markdown]
# What did the units learn? Unit $j$'s decoder weights (row $j$ of the decoder's $W$, 784 numbers) are the
# image it adds to the reconstruction when it turns on; Ng's notes show the encoder's weights, which look
# alike. Each is drawn on its own grey scale (0 = its smallest weight, 1 = its largest), so this figure, unlike
# the reconstructions, *is* rescaled per image. What to expect is not obvious. Ng's notes show local pen
# strokes; in our full run (15 epochs, Adam, no weight decay) most units instead look like blurred whole digits
# or large parts of them: templates, each switched on for about a tenth of the images, as the penalty asks,
# and combined a few at a time (the printout above counts how many are above 0.5 per image). Ng's strokes also
# need his weight decay (λ = 3·10⁻³ on the weights), which keeps every template faint and forces images to be
# built from several of them; KL sparsity alone constrains how *often* a unit fires, not what it draws.

# %%
weights = kl_model.decoder[0].W.data.reshape(196, 1, 28, 28)
lo = weights.min(axis=(1, 2, 3), keepdims=True)
hi = weights.max(axis=(1, 2, 3), keepdims=True)
plot.image_grid((weights - lo) / (hi - lo), OUT / "05_sparse_kl_features.png", columns=14,
                title="sparse_kl: each unit's decoder weights (per-unit grey scale)")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.hist(unit_means, bins=30)
ax.axvline(0.1, color="black", linestyle="--", label="target ρ = 0.1")
ax.set_xlabel("mean activation of a unit over the test images")
ax.set_ylabel("units")
ax.set_title("sparse_kl: the KL penalty pulls every unit's mean towards ρ")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "05_sparse_kl_unit_means.png", dpi=100)
if SHOW:
    plt.show()
plt.close(fig)
plot.loss_curves(kl_history, OUT / "05_sparse_kl_loss.png", title="sparse_kl: MSE per image + KL penalty by epoch")
print(f"figures written to {OUT / '05_sparse_kl_features.png'}, {OUT / '05_sparse_kl_unit_means.png'} and "
      f"{OUT / '05_sparse_kl_loss.png'}")

# %% [markdown]
# ## What to take away
#
# * A penalty on the code is a layer: identity forward, `penalty` added to the objective, its gradient added
#   in backward. The gradient check checks the sum, and `fit`/`evaluate`/`History` report the data term and
#   the penalty apart — compare models by the data term.
# * The L1 activity penalty makes codes less active (the printed ratio above; the blog: 3.33 against 7.30
#   after 100 epochs) at a small cost in reconstruction. Read the regulariser's constant carefully:
#   `l1(10e-5)` is 1e-4, and whether it is divided by the batch size depends on the Keras version.
# * KL sparsity targets a mean activation per unit instead of shrinking every value: every unit's mean came
#   out at the target. What the units draw is another matter: here templates of whole digits rather than
#   Ng's strokes, which also need weight decay. Look at the features before naming them.
# * Sparse, overcomplete codes are the classic route to features that a linear classifier can use; whether
#   they beat the raw pixels is measured, not assumed, in the recognition tutorial of a later issue.
