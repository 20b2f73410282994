# %% [markdown]
# # Tutorial 4: variational autoencoders and synthesis
#
# The autoencoders of tutorials 1 and 2 learn to *reconstruct*: an image goes in, a code comes out of the
# encoder, and the decoder turns the code back into (nearly) the same image. Can the decoder also
# **synthesise** — make new digits that are in no data set? Only if we know which codes to give it. A plain
# autoencoder does not tell us: its codes lie wherever training happened to put them. A **variational
# autoencoder** (VAE; Kingma & Welling, 2014) is built so that we do know: it is a latent-variable
# generative model whose codes are trained to look like draws from a fixed distribution, the standard
# normal $\mathcal N(0, I)$, so that decoding fresh draws from $\mathcal N(0, I)$ gives new images.
#
# In this tutorial we
#
# 1. write down the idea and the math in brief (derived in `docs/math/vae.md`, equations V1–V9), with the
#    one convention that is easy to get wrong: the encoder outputs the **log-variance**;
# 2. check the hand-written backward pass of the sampling layer with its noise held fixed, and show
#    numerically that its samples have the standard deviation the math says;
# 3. train pytorch/examples' VAE on MNIST and report its objective in **nats per image**, the data term
#    and the KL apart, and the test figure both ways (deterministic and sampled);
# 4. draw new digits from it;
# 5. interpolate between two test digits, in the VAE's latent space and in a plain autoencoder's;
# 6. train a VAE with a 2-number code and draw its whole latent space;
# 7. show, with a run, what a per-pixel loss does to a VAE (posterior collapse); and
# 8. say how an autoencoder, a VAE and a GAN differ.
#
# Run it as a script (`python tutorials/04_variational_autoencoder.py` from the repository root, with
# `TINYAE_DATA_DIR` pointing at the folder that holds `mnist/`, or let tinyae download MNIST),
# or cell by cell in an editor that understands `# %%` cells. Figures are written to
# `tutorial_outputs/` in the current directory. With `TINYAE_QUICK=1` the script uses a small
# subset and one epoch per model (seconds; what the tests run). The full run trains four models on the 60,000
# training images and takes a few minutes on a 2-core CPU (8 minutes in our run, on two cores shared with other
# jobs).

# %%
import time
import warnings
from pathlib import Path

import numpy as np

from tinyae.plot import tutorial_setup

QUICK, SHOW, OUT = tutorial_setup()       # TINYAE_QUICK=1: small and fast; no display: figures only saved
import matplotlib.pyplot as plt             # noqa: E402  (after choosing the backend)

import tinyae                               # noqa: E402
from tinyae import backend, datasets, evaluate, fit, gradcheck, layers, models, plot  # noqa: E402
from tinyae.checks import Replay, all_cases  # noqa: E402

SEED = 0
print(f"tinyae {tinyae.__version__}, backend {tinyae.backend.name}, quick mode: {QUICK}")

# %% [markdown]
# ## 1. The idea and the math in brief
#
# **The model.** A VAE assumes that each image $x$ was made in two steps: first a code $z \in \mathbb R^k$ is
# drawn from the **prior** $p(z) = \mathcal N(0, I)$, then the image is drawn from the **decoder**'s
# distribution $p(x \mid z)$. Here $p(x\mid z)$ is one Bernoulli per pixel whose probabilities $\hat x$ (784
# numbers in (0, 1)) the decoder network computes from $z$. To *generate*, we run exactly these two steps.
#
# **The encoder.** To *train*, we need, for each training image, codes that could have made it. The exact
# posterior $p(z \mid x)$ is intractable, so an **encoder** network approximates it with a Gaussian,
# $q(z \mid x) = \mathcal N\bigl(\mu, \operatorname{diag}\sigma^2\bigr)$. For each image it outputs $2k$
# numbers: the mean $\mu$ and $s = \log\sigma^2$, the **log-variance** (not $\log\sigma$: more on this below).
#
# **The ELBO (eq. V1).** By Jensen's inequality, for any $q$,
#
# $$\log p(x) \;\ge\; \mathbb E_{q(z\mid x)}\bigl[\log p(x\mid z)\bigr] - \mathrm{KL}\bigl(q(z\mid x)\,\Vert\,p(z)\bigr),$$
#
# the **evidence lower bound**. The first term rewards reconstruction; the second keeps each image's $q$ close
# to the prior. We maximise it over the encoder and the decoder *together*.
#
# **The objective per image (eq. V2).** We minimise the negative ELBO. For a Bernoulli decoder,
# $-\log p(x \mid z)$ is the binary cross-entropy **summed over the 784 pixels**, so the objective of one
# image is
#
# $$J(x) = \underbrace{-\sum_{d=1}^{784}\bigl[x_d \log\hat x_d + (1-x_d)\log(1-\hat x_d)\bigr]}_{\text{data term: BCE summed over the pixels}}
#  \; + \; \underbrace{\mathrm{KL}\bigl(q(z\mid x)\,\Vert\,\mathcal N(0, I)\bigr)}_{\text{KL term}},$$
#
# in **nats per image** (natural logarithms), averaged over the images of a batch. This is exactly
# pytorch/examples' VAE objective (`binary_cross_entropy(..., reduction='sum') + KLD`, reported divided by the
# number of images). tinyae's name for the data term is `bce_per_image`; the zoo's `vae` uses it by default.
# (MNIST's pixels are grey levels, not 0/1; BCE with such soft targets is the usual choice, though it is then
# not the log-likelihood of a proper distribution over [0, 1].)
#
# **The reparameterisation (eq. V3).** The expectation in V1 is estimated with one sample of $z$ per image
# and step. To let the gradient reach $\mu$ and $s$ through the sample, draw the noise first and move and
# scale it:
#
# $$z = \mu + e^{\frac12 s} \odot \varepsilon, \qquad \varepsilon \sim \mathcal N(0, I), \qquad s = \log\sigma^2 .$$
#
# For a fixed $\varepsilon$, $z$ is a smooth function of $\mu$ and $s$.
#
# **The KL in closed form (eq. V4, V5).** Both distributions are Gaussian, so the KL needs no sampling:
#
# $$\mathrm{KL}_n = -\tfrac12 \sum_{j=1}^{k}\bigl(1 + s_{nj} - \mu_{nj}^2 - e^{s_{nj}}\bigr) \quad\text{nats},$$
#
# which is 0 exactly when $\mu = 0$ and $s = 0$ ($\sigma = 1$). The layer's penalty is its mean over the batch
# (V5).
#
# **Its gradient (eq. V6, V7).** $\mu$ and $s$ reach the objective along two paths, through the sample $z$
# (the decoder sends back $\bar z = \partial J / \partial z$) and directly through the KL. With $N$ images in
# the batch, the chain rule adds the two:
#
# $$\bar\mu = \bar z + \frac{\mu}{N}, \qquad
#   \bar s = \bar z \odot \varepsilon \odot \tfrac12 e^{s/2} + \frac{e^{s} - 1}{2N}.$$
#
# (V8 clamps $s$ to $[-30, 30]$ so that $e^{s}$ cannot overflow; it never bites in a healthy run.)
#
# **Eval mode (eq. V9).** Outside training, the layer draws no noise: $z = \mu$. `model.encode(x)` therefore
# gives $\mu$, a deterministic code, and `evaluate` a deterministic figure. That figure is *not* an estimate of
# the negative ELBO; `model.negative_elbo(x)` draws $z$ from $q$ and is one. Section 3 prints both.
#
# **The convention that must agree.** $s$ is used in two places, and both must read it as $\log\sigma^2$:
#
# | | reads $s$ as | uses |
# | --- | --- | --- |
# | the sampler (V3) | $\log\sigma^2$ | standard deviation $\sigma = e^{s/2}$ = `exp(0.5 * log_var)` |
# | the KL (V4) | $\log\sigma^2$ | variance $\sigma^2 = e^{s}$ = `exp(log_var)`, and $\log\sigma^2 = s$ |
#
# tinyae's documentation notes that two well-known VAE tutorials mix $\log\sigma$ and $\log\sigma^2$ between
# the two places: the sampler takes $s$ to be one, the KL the other. Nothing crashes and the model still
# trains (both versions of the KL are smallest at $s = 0$), but the KL is then that of *another* distribution
# than the one sampled, and the figure reported is no longer a bound on $-\log p(x)$. Section 2 measures the
# sampler's standard deviation, and checks the closed-form KL against a Monte Carlo estimate made from the
# sampler's own draws, so that both places are seen to agree.

# %% [markdown]
# ## 2. Checking the sampling layer
#
# ### (a) The backward pass, with ε held fixed
#
# `layers.GaussianSample(k)` takes $[\mu, s]$ (N × 2k) and returns $z$ (N × k); its `penalty` is the KL (V5),
# and its `backward` implements V6–V7. As in tutorials 1 and 2 we compare that backward pass with a
# fourth-order central difference in float64: `gradcheck.check_layer` draws an upstream gradient $\bar y$,
# takes $f = \sum z \odot \bar y + \text{penalty}$ (so both paths of V7 are exercised), and reports the largest
# relative error over all entries.
#
# One care: $z$ is random. The finite difference compares $f$ at $\theta + h$ and $\theta - h$, and if each of
# those forward passes draws a new $\varepsilon$, it compares two different functions. So the noise is held
# fixed: `tinyae.checks.Replay` stands in for the layer's random generator and returns the same
# $\varepsilon$ at every call (this is how `tinyae/checks/variational.py` and the test suite check the layer).
# We also check eval mode (z = μ, only the KL's gradient, V9), the same check as the test suite's on a whole
# small VAE (encoder, sampler, decoder, BCE per image + KL), and — to see why the noise must be fixed — the
# layer with a fresh ε at every forward pass.

# %%
def mu_and_log_var(rng, n=4, k=3):
    """A batch of [μ, log σ²] (n × 2k): μ ~ N(0, 1), log σ² ~ N(0, 0.5²)."""
    return np.concatenate([rng.standard_normal((n, k)), 0.5 * rng.standard_normal((n, k))], axis=1)


with backend.default_dtype("float64"):
    x_small = mu_and_log_var(np.random.default_rng(41))
    fixed = layers.GaussianSample(3, seed=0)
    fixed._rng = Replay(1)                              # ε drawn once, then replayed at every forward pass
    in_eval = layers.GaussianSample(3, seed=0).eval()   # z = μ: no noise at all
    fresh = layers.GaussianSample(3, seed=0)            # its own generator: a new ε at every forward pass
    results = [("GaussianSample(3), train mode, ε fixed (Replay)", gradcheck.check_layer(fixed, x_small)["x"]),
               ("GaussianSample(3), eval mode (z = μ)", gradcheck.check_layer(in_eval, x_small)["x"])]
    for name, run in all_cases():                       # the test suite's whole small VAE, ε fixed
        if name.startswith("model 'vae'"):
            results.append((name, max(run().values())))
    redrawn = gradcheck.check_layer(fresh, x_small)["x"]

print(f"{'what is checked':<56} max relative error")
for name, err in results:
    print(f"{name:<56} {err:.1e}")
worst = max(err for _, err in results)
assert worst < 1e-7, results
print(f"all below 1e-7 (worst {worst:.1e}): V6 and V7 agree with finite differences")
print(f"{'GaussianSample(3), train mode, a new ε at every forward':<56} {redrawn:.1e}   <- meaningless: "
      f"the finite difference compares two different random functions")

# %% [markdown]
# ### (b) The sample's standard deviation is $e^{\frac12 \log\sigma^2}$
#
# A gradient check cannot catch a forward pass that is *consistently* wrong — for example a sampler that uses
# $e^{s}$ as the standard deviation, which is what reading $s$ as $\log\sigma$ amounts to. So we measure it:
# 100,000 draws from one layer with two latent units, $\mu = (1, -2)$ and $s = (0, \log 9)$, that is
# $\sigma^2 = (1, 9)$ and $\sigma = (1, 3)$.
#
# Then the KL. Its closed form V4 is only right if it describes the distribution the sampler actually draws
# from. We estimate $\mathrm{KL}(q \Vert p) = \mathbb E_q[\log q(z) - \log p(z)]$ by averaging over the
# sampler's own draws (with $\log q$ the density of $\mathcal N(\mu, \sigma^2)$ for the σ we just measured)
# and compare it with the layer's penalty, and with what the KL would be if it read $s$ as $\log\sigma$,
# $-\tfrac12\sum(1 + 2s - \mu^2 - e^{2s})$.

# %%
mu_demo, s_demo = np.array([1.0, -2.0]), np.array([0.0, np.log(9.0)])
with backend.default_dtype("float64"):
    sampler_demo = layers.GaussianSample(2, seed=SEED)
    z_demo = sampler_demo.forward(np.tile(np.concatenate([mu_demo, s_demo]), (100_000, 1)))
print("unit   μ      log σ²   exp(½ log σ²)   exp(log σ²)   sample mean   sample std")
for j in range(2):
    print(f"{j + 1:4d}  {mu_demo[j]:5.1f}   {s_demo[j]:6.3f}   {np.exp(0.5 * s_demo[j]):13.3f}   "
          f"{np.exp(s_demo[j]):11.3f}   {z_demo[:, j].mean():11.3f}   {z_demo[:, j].std():10.3f}")
np.testing.assert_allclose(z_demo.std(axis=0), np.exp(0.5 * s_demo), rtol=0.01)
print("the sample's standard deviation is exp(½ log σ²), as V3 says (within 1% of 100,000 draws)")

var_demo = np.exp(s_demo)
log_q = -0.5 * np.log(2 * np.pi * var_demo) - (z_demo - mu_demo) ** 2 / (2 * var_demo)
log_p = -0.5 * np.log(2 * np.pi) - 0.5 * z_demo ** 2
kl_monte_carlo = float((log_q - log_p).sum(axis=1).mean())
kl_mixed = float(-0.5 * (1 + 2 * s_demo - mu_demo ** 2 - np.exp(2 * s_demo)).sum())
print(f"KL(q ‖ N(0, I)), nats per image: layer's penalty (V4) {sampler_demo.penalty:.3f}; "
      f"Monte Carlo from its own draws {kl_monte_carlo:.3f}; "
      f"with log σ² misread as log σ in the KL {kl_mixed:.3f}")
assert abs(kl_monte_carlo - sampler_demo.penalty) < 0.05 * sampler_demo.penalty

# %% [markdown]
# The closed-form KL and the Monte Carlo estimate from the sampler's own draws agree (to the Monte Carlo
# error): the sampler and the KL describe the same distribution. The misread KL is about seven times larger
# here — the penalty of a distribution with $\sigma^2 = 81$, not the one sampled. Whether the misreading is in
# the KL or in the sampler, the two places no longer agree, and the "ELBO" printed is not one.

# %% [markdown]
# ## 3. Training the VAE on MNIST
#
# The zoo's `vae` is pytorch/examples' model: 784 → 400 (ReLU) → $[\mu, \log\sigma^2]$ (2 × 20) for the
# encoder, $z$ (20) → 400 (ReLU) → 784 (sigmoid) for the decoder, 652,824 parameters. We train it as
# pytorch/examples does: the 60,000 training images (pixels / 255), batch 128, Adam with learning rate 1e-3,
# 10 epochs. `fit` uses the model's own objective (BCE summed over the pixels + KL) and reports the data term
# and the penalty apart. After each epoch it evaluates the test set in eval mode, so the test columns below
# are the **deterministic** figure with $z = \mu$.

# %%
x_train, y_train = datasets.mnist("train")
x_test, y_test = datasets.mnist("test")
if QUICK:
    x_train, y_train, x_test, y_test = x_train[:2000], y_train[:2000], x_test[:1000], y_test[:1000]
EPOCHS = 1 if QUICK else 10
AE_EPOCHS = 1 if QUICK else 5
COLLAPSE_EPOCHS = 1 if QUICK else 3
MANIFOLD_N = 10 if QUICK else 20           # manifold figure: one small image per grid point (400 draw in ~10 s)


def epochs_text(n: int) -> str:
    return f"{n} epoch{'s' if n != 1 else ''}"


print(f"train {x_train.shape}, test {x_test.shape}, {x_train.dtype}, pixels in [{x_train.min()}, {x_train.max()}]")

vae = models.build("vae", seed=SEED)
print(vae.summary())

start = time.perf_counter()
history = fit(vae, x_train, epochs=EPOCHS, batch_size=128, validation_data=x_test, seed=SEED,
              verbose=0 if QUICK else 1)
vae_seconds = time.perf_counter() - start


def print_history(h):
    """The per-epoch table: data term, KL and their sum, train (mean over the epoch) and test (after it)."""
    print(f"objective in nats {h.units}; test with z = μ (eval mode)")
    print("epoch | train: BCE     KL   total | test: BCE     KL   total | seconds")
    for e, (bce, kl, tot, vbce, vkl, vtot, sec) in enumerate(zip(h.data_loss, h.penalty, h.loss, h.val_data_loss,
                                                                 h.val_penalty, h.val_loss, h.seconds), 1):
        print(f"{e:5d} | {bce:11.2f} {kl:6.2f} {tot:7.2f} | {vbce:10.2f} {vkl:6.2f} {vtot:7.2f} | {sec:7.1f}")


print_history(history)
print(f"trained in {vae_seconds:.1f} s ({vae_seconds / EPOCHS:.1f} s per epoch, test evaluation included)")

# %% [markdown]
# ### The test figure, two ways
#
# * `evaluate(model, x_test, parts=True)` runs the model in eval mode: $z = \mu$ (V9). The KL is exact; the
#   data term is that of the decoder applied to the *centre* of $q$. Deterministic, but not an estimate of the
#   negative ELBO.
# * `model.negative_elbo(x_test, samples=1, seed=0)` draws one $z \sim q(z \mid x)$ per image: a single-sample
#   Monte Carlo estimate of the negative ELBO, an upper bound (in expectation) on $-\log p(x)$ in nats per
#   image. **This is the figure pytorch/examples prints as its test loss**: its `test()` puts the model in eval
#   mode, but its `reparameterize` samples in both modes. With `samples=10` the estimate averages ten draws per
#   image, which shows how much of the difference is Monte Carlo noise.

# %%
at_mean = evaluate(vae, x_test, parts=True)
sampled = vae.negative_elbo(x_test, samples=1, seed=0)
sampled10 = vae.negative_elbo(x_test, samples=10, seed=0)
print(f"test objective after {epochs_text(EPOCHS)}, nats per image ({len(x_test)} test images):")
print(f"  z = μ (evaluate, deterministic):            BCE {at_mean['data']:7.2f} + KL {at_mean['penalty']:5.2f} "
      f"= {at_mean['total']:7.2f}")
print(f"  z ~ q, 1 sample  (negative_elbo; pytorch):  BCE {sampled['data']:7.2f} + KL {sampled['kl']:5.2f} "
      f"= {sampled['total']:7.2f}")
print(f"  z ~ q, 10 samples (negative_elbo):          BCE {sampled10['data']:7.2f} + KL {sampled10['kl']:5.2f} "
      f"= {sampled10['total']:7.2f}")
print(f"sampled minus z = μ: {sampled['total'] - at_mean['total']:+.2f} nats per image, all of it in the data term "
      f"(the KL is the same closed form both ways)")

# %% [markdown]
# For scale: `benchmarks/vae.py` trains this model and pytorch/examples' own VAE side by side with the
# protocol above (the same shuffled batches for both; its shuffling seeds differ from this tutorial's). After
# 10 epochs it measured a sampled test figure of 105.51 nats per image for tinyae (97.08 with $z = \mu$) and
# 105.48 for PyTorch; pytorch/examples' published runs end at about 105.6. This tutorial's own run is printed
# above (in our full run: 105.61 sampled, 97.21 with $z = \mu$, a tenth of a nat from the benchmark's, with
# another shuffling order and other draws of ε).
#
# Which figure is lower is not a law. After 10 epochs the $z = \mu$ figure is lower (by 8.40 nats per image in
# our run, and averaging 10 draws, 105.63, shows that this is not Monte Carlo noise): the decoder does best on
# the centre of $q$. But the decoder is only ever *trained* on noisy codes, and a model that has barely
# started (quick mode's single epoch on 2000 images) or one that ignores its code (section 7) can do worse at
# $z = \mu$ than on the draws it was trained on. Quote the sampled figure, and say which one you quote.
#
# The loss curves, the data term and the KL apart:

# %%
def save_figure(make, name: str) -> Path:
    """Make a figure with a tinyae.plot function, save it as tutorial_outputs/<name>, show it if there is a screen."""
    path = OUT / name
    if not SHOW:
        make(path)                      # drawn off-screen and saved
        return path
    fig = make(None)                    # a pyplot figure, so that plt.show() can display it
    fig.savefig(path, dpi=100, bbox_inches="tight", pad_inches=0.1)
    plt.show()
    plt.close(fig)
    return path


fig, (ax_total, ax_kl) = plt.subplots(1, 2, figsize=(11, 4))
ax_total.plot(history.epochs, history.loss, "o-", label="objective, train (mean over the epoch)")
ax_total.plot(history.epochs, history.val_loss, "s-", label="objective, test (z = μ, after the epoch)")
ax_total.plot(history.epochs, history.data_loss, "o--", color="C0", alpha=0.5, label="BCE only, train")
ax_total.plot(history.epochs, history.val_data_loss, "s--", color="C1", alpha=0.5, label="BCE only, test")
ax_total.set_ylabel("nats per image")
ax_total.set_title("BCE summed over the pixels + KL")
ax_kl.plot(history.epochs, history.penalty, "o-", label="KL, train")
ax_kl.plot(history.epochs, history.val_penalty, "s-", label="KL, test")
ax_kl.set_ylabel("KL(q(z|x) ‖ N(0, I)), nats per image")
ax_kl.set_title("the KL term")
for ax in (ax_total, ax_kl):
    ax.set_xlabel("epoch")
    ax.set_xticks(history.epochs)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
fig.suptitle("VAE 784-400-20 on MNIST (Adam 1e-3, batch 128)")
fig.tight_layout()
fig.savefig(OUT / "04_loss_curves.png", dpi=100)
if SHOW:
    plt.show()
plt.close(fig)
print(f"figure written to {OUT / '04_loss_curves.png'}")

# %% [markdown]
# The two terms pull in opposite directions. At the start the KL is small (the encoder's outputs are near
# $\mu = 0$, $s = 0$) and the reconstructions are poor; as the encoder learns to put information into $z$, the
# BCE falls by far more than the KL rises (in our full run, train BCE from 149.0 to 81.1 nats per image over
# the 10 epochs, train KL from 15.7 to 25.3). The KL, in nats, measures how much the code tells the decoder
# about the image: a code that says nothing costs nothing. The test curve lies below the training curve because
# the training figure is the mean over an epoch, with sampled $z$, while the weights were still improving, and
# the test figure is taken after the epoch at $z = \mu$.

# %% [markdown]
# ## 4. Synthesis: new digits from the prior
#
# To generate, draw $z \sim \mathcal N(0, I)$ and decode it: `model.sample(64, seed=0)`. Note what is shown: the
# decoder's output $\hat x$, the 784 **Bernoulli means**, not a draw of black-and-white pixels from them (which
# would look like salt and pepper). This is what VAE figures usually show, and part of why they look smooth.

# %%
samples = vae.sample(64, seed=0)
samples_path = save_figure(
    lambda path: plot.image_grid(samples, path=path, columns=8,
                                 title=f"64 VAE samples: decoder(z), z ~ N(0, I), {epochs_text(EPOCHS)}"),
    "04_samples.png")
print(f"figure written to {samples_path}")

# %% [markdown]
# In our full run many of the 64 samples read as digits at a glance (0s, 3s, 4s, 7s, 8s, 9s), and many others
# are blurred, broken, or halfway between two digits: this is a 20-number VAE after 10 epochs, and its samples
# are the typical VAE samples, smooth and soft-edged. In quick mode (one epoch on 2000 images) they are still
# grey smudges.

# %% [markdown]
# ## 5. Interpolation: a VAE against a plain autoencoder
#
# Take a test image of a 1 and one of a 7, encode both, walk along the straight line between the two codes
# and decode each point: `model.interpolate(x_a, x_b, steps=10)`. For comparison we do the same with the zoo's
# plain autoencoder `deep` (784 → 128 → 32 → 128 → 784, ReLU inside, sigmoid output, MSE per pixel), trained a
# few epochs with Adam, and show the "cross-fade" $(1 - t)\,x_a + t\,x_b$ in pixel space as a third row.

# %%
ae = models.build("deep", seed=SEED)
start = time.perf_counter()
ae_history = fit(ae, x_train, epochs=AE_EPOCHS, batch_size=256, validation_data=x_test, seed=SEED,
                 verbose=0 if QUICK else 1)
ae_mse = evaluate(ae, x_test)
print(f"plain autoencoder 'deep', {epochs_text(AE_EPOCHS)}: test MSE {ae_mse:.5f} per pixel "
      f"(= {784 * ae_mse:.2f} per image), trained in {time.perf_counter() - start:.1f} s")

i_one, i_seven = int(np.flatnonzero(y_test == 1)[0]), int(np.flatnonzero(y_test == 7)[0])
x_one, x_seven = x_test[i_one], x_test[i_seven]
STEPS = 10
t = np.linspace(0.0, 1.0, STEPS, dtype=np.float32).reshape(-1, 1, 1, 1)
rows = [("VAE (z = μ)", vae.interpolate(x_one, x_seven, steps=STEPS)),
        ("plain AE 'deep'", ae.interpolate(x_one, x_seven, steps=STEPS)),
        ("pixel cross-fade", (1 - t) * x_one + t * x_seven)]
interp_path = save_figure(
    lambda path: plot.image_rows(rows, path=path, n=STEPS,
                                 title=f"From test image {i_one} (a 1) to test image {i_seven} (a 7), "
                                       f"straight lines in each space"),
    "04_interpolation.png")
print(f"figure written to {interp_path}")

# %% [markdown]
# **Why the VAE's path should stay among digits.** The KL term pulls every image's $q(z\mid x)$ towards
# $\mathcal N(0, I)$, and the sampling in training means the decoder is trained not on single points but on
# whole clouds of codes around each $\mu$. Together they push the codes of the training set to fill a ball
# around 0 without large holes, and the decoder learns to make a digit-like image from anywhere in it. A plain
# autoencoder has neither pressure: its codes can sit in separate clusters with empty space between them, and
# the decoder was never trained on that empty space, so nothing makes it produce a digit there.
#
# A picture of ten images is a small sample, so we also measure the holes. For every point on the path we take
# its distance to the **nearest training code** (of 10,000 training images; 2000 in quick mode), divided by the
# typical (median) nearest-training-code distance of a test image. A ratio near 1 means the point lies where
# codes of real images lie; a ratio well above 1 means it crosses space that no training image was mapped to.
# (For the VAE we use the means μ; in training the decoder also saw the noise around them, so its covered
# region is, if anything, larger than this measures.)

# %%
def nearest_distance(points, reference):
    """Euclidean distance from each row of ``points`` to its nearest row of ``reference`` (float64)."""
    points, reference = points.astype(np.float64), reference.astype(np.float64)
    d2 = (points ** 2).sum(1)[:, None] - 2 * points @ reference.T + (reference ** 2).sum(1)[None, :]
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0))


def gap_ratios(model, x_a, x_b, steps=STEPS):
    """Nearest-training-code distance along the straight line from x_a's code to x_b's, over the typical one."""
    reference = model.encode(x_train[:10_000])
    typical = np.median(nearest_distance(model.encode(x_test[:1000]), reference))
    code_a, code_b = model.encode(np.stack([x_a, x_b]))
    tt = np.linspace(0.0, 1.0, steps)[:, None]
    return nearest_distance((1 - tt) * code_a + tt * code_b, reference) / typical


vae_gaps, ae_gaps = gap_ratios(vae, x_one, x_seven), gap_ratios(ae, x_one, x_seven)
print("t along the path:        " + " ".join(f"{v:5.2f}" for v in np.linspace(0, 1, STEPS)))
print("VAE (20-d μ):            " + " ".join(f"{v:5.2f}" for v in vae_gaps))
print("plain AE 'deep' (32-d):  " + " ".join(f"{v:5.2f}" for v in ae_gaps))
print(f"largest ratio on the path: VAE {vae_gaps.max():.2f}, plain AE {ae_gaps.max():.2f} "
      f"(distance to the nearest training code / the typical one)")

# %% [markdown]
# **What our full run's figure shows — honestly, not much difference on this pair.** Both rows turn the 1 into
# the 7 through faint, blurred in-between images in which the 7's top bar grows. The plain autoencoder's middle
# images (t ≈ 0.4–0.7) are dimmer and blotchier, a 1 with a smudge where the bar will be, while the VAE's change
# from a thin 1 to a thin 7 more cleanly; but that is a difference of degree, and neither row contains junk.
# Both are far more digit-like than the cross-fade, which simply superimposes the two digits. The gap measure
# agrees: the largest ratio along the path was 1.02 for the VAE and 1.06 for the plain autoencoder, so neither
# path crossed code space that training images avoid. A 1 and a 7 are similar shapes, and the straight line
# between them in the plain autoencoder's 32-d code space happened to stay among training codes.
#
# So this figure does **not** demonstrate the holes in a plain autoencoder's code space; it shows that
# interpolating in *either* code space beats interpolating pixels. The argument above still stands — it is
# about where codes *can* lie, and it matters most for sampling: the VAE tells us to draw $z$ from
# $\mathcal N(0, I)$ (section 4), while a plain autoencoder gives no distribution to draw its codes from at all.
#
# Two more caveats. The models differ in more than the KL (the VAE's code has 20 numbers, the plain AE's 32;
# different losses, hidden sizes and epochs), so the figure illustrates the argument rather than isolating it;
# and one pair of digits is one example — try other pairs (other indices in `y_test`) before generalising.

# %% [markdown]
# ## 6. A VAE with a 2-number code: the whole latent space on one page
#
# With $k = 2$ the latent space is a plane, and we can draw all of it. The zoo's `vae2d` is the same model with a
# 2-d code. Two figures:
#
# * the **manifold**: the decoder's image at each point of a 20 × 20 grid of the plane
#   (`model.manifold(20)`, drawn with `plot.image_grid(..., columns=20)`; 10 × 10 in quick mode). The grid is
#   spaced evenly in *probability* under the prior, from the 5% to the 95% quantile on each axis (Kingma &
#   Welling's figure), so that each cell holds the same prior mass. $z_1$ grows from left to right along a row,
#   $z_2$ from the bottom row to the top one. (The figure has no title: on a 20-row grid `image_grid` draws the
#   title over the first row.);
# * the **codes** $\mu$ of the test images, coloured by their digit (`plot.scatter_codes`). The labels were
#   never used in training.

# %%
vae2d = models.build("vae2d", seed=SEED)
start = time.perf_counter()
history2d = fit(vae2d, x_train, epochs=EPOCHS, batch_size=128, validation_data=x_test, seed=SEED,
                verbose=0 if QUICK else 1)
print(f"vae2d trained in {time.perf_counter() - start:.1f} s")
print_history(history2d)
at_mean2d, sampled2d = evaluate(vae2d, x_test, parts=True), vae2d.negative_elbo(x_test, samples=1, seed=0)
print(f"vae2d test objective, nats per image: z = μ {at_mean2d['total']:.2f} (KL {at_mean2d['penalty']:.2f}); "
      f"z sampled {sampled2d['total']:.2f}   (the 20-d vae: {at_mean['total']:.2f} and {sampled['total']:.2f})")

manifold_path = save_figure(
    lambda path: plot.image_grid(vae2d.manifold(MANIFOLD_N), path=path, columns=MANIFOLD_N),   # no title: see below
    "04_manifold.png")
codes2d = vae2d.encode(x_test)
codes_path = save_figure(
    lambda path: plot.scatter_codes(codes2d, y_test, path=path, xlabel="z₁ (μ₁)", ylabel="z₂ (μ₂)",
                                    title=f"vae2d: codes μ of the {len(x_test)} test images"),
    "04_latent_space.png")
print(f"figures written to {manifold_path} and {codes_path}")
inside = float(np.mean(np.all(np.abs(codes2d) < 1.645, axis=1)))
print(f"test codes inside the manifold's square (|z₁|, |z₂| < 1.645, the 5%/95% quantiles): {100 * inside:.1f}% "
      f"(81% of the prior's mass is inside it); code mean ({codes2d[:, 0].mean():.2f}, {codes2d[:, 1].mean():.2f}), "
      f"std ({codes2d[:, 0].std():.2f}, {codes2d[:, 1].std():.2f})")

# %% [markdown]
# In our full run the plane is organised by digit although no label was used: 1s along the top, 7s and 9s
# on the right, 0s at the bottom left, 6s and 3s along the bottom, with 8s, 2s and 5s crowded into the middle, and
# the decoder's images change smoothly from one cell to the next — neighbouring codes decode to similar images.
# The scatter shows the same map from the codes' side: each digit holds a region, and 4/9 and 3/5/8 overlap (two
# numbers cannot separate ten kinds of handwriting). With only 2 numbers the objective is much worse than with
# 20: 155.90 nats per image at $z = \mu$, of which the KL is 5.81, against 97.21 (KL 25.68) for `vae`.
#
# Two limits the figures show as well. The codes are not exactly $\mathcal N(0, I)$: their mean was
# (0.56, −0.06) and their standard deviation (1.10, 1.27), and 67.6% of them fell inside the manifold's square,
# where the prior puts 81% of its mass; the KL pulls each $q(z\mid x)$ towards the prior, but the codes of all
# the images together only approximate it. And where the scatter is empty — around $z_1 \approx -1.6$,
# $z_2 \approx 0$, between the 0s and the 1s — the manifold's first columns (rows 7 to 12) decode to broken
# strokes. A VAE's code space has thin spots too; the KL makes them fewer and smaller, not absent.

# %% [markdown]
# ## 7. The units pitfall: a per-pixel loss makes the KL weigh 784 times too much
#
# The KL in V2 is in nats **per image**, so the data term beside it must be per image too: the BCE **summed**
# over the 784 pixels. Most losses, tinyae's `"bce"` and PyTorch's default `reduction='mean'` included, take the
# **mean** over the pixels instead. That divides the data term by 784 while the KL stays as it is: the objective
# becomes (BCE per image)/784 + KL, the same as minimising BCE per image + 784 × KL. A nat of KL now costs as
# much as 784 nats of reconstruction, and the cheapest solution is to put no information into $z$ at all:
# $q(z\mid x) = \mathcal N(0, I)$ for every image, KL = 0, and a decoder that draws the same average image
# whatever $z$ it gets. This is **posterior collapse**.
#
# tinyae warns when a model with a per-image KL is given a per-pixel loss. Let us do it anyway, for a few
# epochs, and catch the warning to show it:

# %%
collapsed = models.build("vae", seed=SEED)
start = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    history_pixel = fit(collapsed, x_train, loss="bce", epochs=COLLAPSE_EPOCHS, batch_size=128,
                        validation_data=x_test, seed=SEED, verbose=0 if QUICK else 1)
print(f"trained in {time.perf_counter() - start:.1f} s; {len(caught)} warning{'s' if len(caught) != 1 else ''}:")
for w in caught:
    print(f"  {w.category.__name__}: {w.message}")
print("per epoch (the per-pixel run's own objective: BCE per pixel + KL per image, mixed units):")
for e, (bce, kl) in enumerate(zip(history_pixel.data_loss, history_pixel.penalty), 1):
    print(f"  epoch {e}: train BCE {bce:.4f} nats per pixel, KL {kl:.4f} nats per image")

# %% [markdown]
# Now compare the two models on the same yardstick, the proper objective V2 (`evaluate` uses the model's own
# loss, `bce_per_image`, whatever it was trained with). Besides the KL we count the **active units**: latent
# units whose mean $\mu_j$ varies across the test images with a variance above 0.01 (Burda, Grosse &
# Salakhutdinov, 2016); a unit whose $\mu_j$ is the same for every image tells the decoder nothing. And as a
# measure of how different the samples are, the standard deviation of each pixel across the 64 samples,
# averaged over the pixels.

# %%
def latent_report(model):
    """The V2 objective on the test set (z = μ, and z sampled), KL per unit, the active units, the samples' spread."""
    mu, log_var = model.encode_distribution(x_test)
    kl_per_unit = (-0.5 * (1 + log_var - mu ** 2 - np.exp(log_var))).mean(axis=0)       # V4, per unit
    active = int((mu.var(axis=0) > 0.01).sum())
    spread = float(model.sample(64, seed=0).std(axis=0).mean())
    return (evaluate(model, x_test, parts=True), model.negative_elbo(x_test, samples=1, seed=0)["total"],
            kl_per_unit, active, spread)


same_epochs = min(COLLAPSE_EPOCHS, EPOCHS)
print(f"{'':38} {'BCE/image':>10} {'KL/image':>9} {'objective':>10} {'z sampled':>10} {'active units':>13} "
      f"{'sample spread':>14}")
reports = {}
for label, model in [(f"vae, V2 objective, {epochs_text(EPOCHS)}", vae),
                     (f"vae, per-pixel BCE, {epochs_text(COLLAPSE_EPOCHS)}", collapsed)]:
    parts, total_sampled, kl_units, active, spread = reports[label] = latent_report(model)
    print(f"{label:<38} {parts['data']:10.2f} {parts['penalty']:9.3f} {parts['total']:10.2f} {total_sampled:10.2f} "
          f"{active:>8d} of {model.latent_dim} {spread:14.4f}")
print(f"(test set, nats per image, z = μ except 'z sampled' (negative_elbo); for the same number of epochs, "
      f"{same_epochs}, the V2 run's test KL was {history.val_penalty[same_epochs - 1]:.2f} nats per image)")
kl_collapsed = reports[f"vae, per-pixel BCE, {epochs_text(COLLAPSE_EPOCHS)}"][2]
print(f"per-pixel run, KL per latent unit (nats): largest {kl_collapsed.max():.4f}, sum {kl_collapsed.sum():.4f}")

mean_image = np.clip(x_train.mean(axis=0, dtype=np.float64), 1e-7, 1 - 1e-7)      # clipped as tinyae's BCE clips
x_test64 = x_test.astype(np.float64)
mean_image_bce = float(-(x_test64 * np.log(mean_image) + (1 - x_test64) * np.log1p(-mean_image))
                       .reshape(len(x_test), -1).sum(axis=1).mean())
print(f"for reference, predicting the mean training image for every test image: BCE {mean_image_bce:.2f} nats per "
      f"image (KL 0: a 'model' that uses no code at all)")

n_show = 10
collapse_rows = [("test image", x_test[:n_show]),
                 ("V2: reconstruction", vae.reconstruct(x_test[:n_show])),
                 ("per-pixel: reconstruction", collapsed.reconstruct(x_test[:n_show])),
                 ("V2: samples", vae.sample(n_show, seed=1)),
                 ("per-pixel: samples", collapsed.sample(n_show, seed=1))]
collapse_path = save_figure(
    lambda path: plot.image_rows(collapse_rows, path=path, n=n_show,
                                 title="The V2 objective (BCE summed over pixels + KL) against a per-pixel BCE + KL"),
    "04_collapse.png")
print(f"figure written to {collapse_path}")

# %% [markdown]
# In our full run the per-pixel run collapsed exactly so. Its KL fell to 0.0008 nats per image in the first
# epoch and printed as 0.0000 after that; on the test set it was 0.000 nats per image, with 0 of 20 active units,
# while the V2 run's KL was 24.11 nats per image after the same 3 epochs and 25.68 after 10, with all 20 units
# active. Every reconstruction and every sample of the collapsed model is the same grey blur of an average digit
# (third and fifth rows of the figure): the pixels' spread across 64 samples was 0.0143, against 0.1344 for the
# V2 model. Its decoder has learnt one image, the best single image for all digits, and ignores $z$.
#
# On the proper objective this model is no better than the mean training image (205.80 nats per image when the
# full test set is predicted by it): its training BCE, with $z$ sampled, was 0.2647 nats per pixel in the last
# epoch, $0.2647 \times 784 = 207.5$ nats per image. At $z = \mu$ it even scored worse, 226.64 nats per image
# against 71.53 for the V2 model: its decoder was only ever trained on noisy codes $z \sim \mathcal N(0, I)$,
# never on the code 0 alone, and a ReLU decoder's image at the centre of the noise is not its average image
# (compare the "z sampled" column). Note too that the per-pixel run's own training log looks healthy — a BCE of
# 0.26 "nats", falling smoothly; only the KL column and the warning say that the model has learnt nothing about
# the individual images.
#
# The fix is not a smaller learning rate or more epochs but the right units: `fit(model, x)` with the model's
# own objective (or `loss="bce_per_image"`). Weighting the KL on purpose, $\text{BCE} + \beta\,\text{KL}$, is a
# real technique (the β-VAE), but with $\beta = 784$ by accident it is just a bug — and the figure it prints is
# not a bound on anything.

# %% [markdown]
# ## 8. An autoencoder, a VAE and a GAN are different things
#
# | | plain autoencoder | VAE | GAN |
# | --- | --- | --- | --- |
# | networks | encoder + decoder | encoder (inference) + decoder (generator) | generator + discriminator; **no encoder** |
# | trained by | minimising a reconstruction error | maximising the ELBO (V1): reconstruction − KL to the prior | a two-player game: the discriminator tells real from generated images, the generator tries to fool it |
# | a prior to sample from | **no** | yes, $\mathcal N(0, I)$ | yes, the generator's noise |
# | likelihood | none | a lower bound on $\log p(x)$, in nats | none (cannot say how probable an image is) |
# | samples | not defined: no distribution to draw codes from | blurry under a pixel-independent Bernoulli or Gaussian decoder | sharp |
#
# * A **plain autoencoder** learns to reconstruct. It compresses, denoises, gives features; it is not a
#   generative model, because nothing says which codes are "likely", so there is no distribution to sample
#   from (section 5 showed its code space has gaps).
# * A **VAE** is a latent-variable generative model $p(z)\,p(x\mid z)$ trained by maximising the ELBO, with an
#   encoder $q(z\mid x)$ for **inference** (the code of a given image) as part of the training. Its samples are
#   blurry, and not from lack of training: with a decoder that treats the pixels as independent given $z$,
#   the best it can do for an uncertain stroke is a grey average of where it might be.
# * A **GAN** (Goodfellow et al., 2014) has a generator $G(z)$ and a discriminator $D(x)$ trained
#   adversarially, $\min_G \max_D\ \mathbb E_x[\log D(x)] + \mathbb E_z[\log(1 - D(G(z)))]$. No encoder, no
#   likelihood, no reconstruction; its samples are sharper, and its training is less stable (and it can drop
#   whole modes of the data).
#
# **The synthesis article that this project follows blurs these.** It presents "synthesis" as fitting an
# encoder and a decoder *separately* to X → X, and writes $\text{Loss} = \text{Loss}_\text{encoder} +
# \text{Loss}_\text{decoder}$. Neither is how an autoencoder or a VAE is trained. An encoder on its own has no
# target to be fitted to (nobody knows what the code of an image should be), and a decoder on its own has no
# input. There is **one** objective — the reconstruction error for an AE, the negative ELBO (V2) for a VAE — and
# its gradient is **backpropagated through both halves**: the decoder's backward pass produces $\bar z$, and
# that, with the KL's own gradient (V6, V7), is what trains the encoder. In tinyae, `model.backward` runs the
# decoder's backward pass and hands its input gradient to the encoder's. The KL is not an "encoder loss" either:
# it is part of the one objective, and its gradient is added to the one that comes back through the decoder.
# Nor is a plain autoencoder, however trained, a synthesis model: without a prior there is nothing to draw
# new codes from.

# %% [markdown]
# ## What to take away
#
# * A VAE's encoder outputs $\mu$ and the **log-variance** $s = \log\sigma^2$. The sampler's standard deviation
#   is $e^{s/2}$ (V3) and the KL's variance $e^{s}$ (V4); we measured the samples' standard deviations as 1.002
#   and 3.001 for $e^{s/2}$ = 1 and 3, and the closed-form KL (5.401 nats) against a Monte Carlo estimate from
#   the sampler's own draws (5.414). Reading $s$ as $\log\sigma$ in one of the two places gave 40.3 nats
#   instead: a different model, and no longer an ELBO. The backward pass (V6, V7) agrees with finite
#   differences to 1e-9 or better, **with ε held fixed**; with a fresh ε at every call the check is meaningless.
# * The objective is the negative ELBO in **nats per image**: BCE **summed** over the 784 pixels + KL (V2). In
#   our full run (10 epochs, batch 128, Adam 1e-3, seed 0) `vae` reached **105.61** nats per image on the test
#   set with $z$ sampled (BCE 79.93 + KL 25.68), the figure pytorch/examples reports (its published runs: about
#   105.6; `benchmarks/vae.py`: tinyae 105.51, PyTorch 105.48), and 97.21 with $z = \mu$ (V9), which is not an
#   ELBO estimate. Say which of the two you quote.
# * Sampling is decoding $z \sim \mathcal N(0, I)$; the samples are smooth and often blurred or ambiguous,
#   and what is shown are the decoder's Bernoulli means.
# * Interpolating between a 1 and a 7 gave digit-like in-between images in both the VAE's and a plain
#   autoencoder's code space (and superimposed digits in pixel space); on this pair neither path crossed a
#   gap (largest nearest-code ratio 1.02 and 1.06). What only the VAE has is a prior to draw codes from.
# * A 2-number VAE (155.90 nats per image, KL 5.81) lays the digits out on a plane without labels; its codes
#   only approximate the prior, and where they are thin the decoder draws broken strokes.
# * Units are not a detail. A per-pixel BCE beside a per-image KL weighs the KL 784 times too much; tinyae
#   warns, and the run we made anyway collapsed: KL 0.000 nats per image, 0 of 20 active units, one blurred
#   average digit for every input and every sample, no better than the mean training image.
# * An autoencoder reconstructs; a VAE is a generative model trained by one objective, the ELBO, backpropagated
#   through decoder and encoder together; a GAN trains a generator against a discriminator, with no encoder and
#   no likelihood. "Loss = Loss_encoder + Loss_decoder", fitted separately, describes none of them.
# * Your figures are printed above; the full run's wall time depends on the machine (8 minutes in ours, on two
#   shared cores).
