# %% [markdown]
# # Tutorial 3: denoising and restoration
#
# The autoencoders of tutorials 1 and 2 learn to copy an image to itself. A **denoising autoencoder**
# (Vincent et al. 2008) is given a *corrupted* image and asked for the *clean* one. The change is one
# argument of `fit` — the target — but it changes what the model has to learn: it cannot succeed by
# passing its input through, it has to know what digits look like.
#
# In this tutorial we
#
# 1. corrupt the same test digits with four noise models (Gaussian, masking, salt and pepper, a missing
#    block) and measure each with PSNR and SSIM,
# 2. write down the denoising objective, and see the two ways to draw the noise: a fixed noisy copy or
#    fresh noise for every batch (a corruption layer),
# 3. look at one detail of keras-io's denoiser that the usual PyTorch port changes: the alignment of
#    Keras's 'same' transposed convolution,
# 4. train that denoiser (the zoo's `denoise`) on Gaussian noise and measure it,
# 5. compare it with a plain autoencoder trained on clean images and fed the same noisy ones,
# 6. train a model to fill in (inpaint) a missing 12×12 block, and
# 7. say where the articles this project follows mislead: "compression" that compresses nothing, and
#    restoration with the wrong noise model.
#
# The equations (N1–N4 for the noises and the objective, Q1–Q4 for PSNR and SSIM) are derived in
# `docs/math/denoising.md`.
#
# Run it as a script (`python tutorials/03_denoising_and_restoration.py` from the repository root, with
# `TINYAE_DATA_DIR` pointing at the folder that holds `mnist/`, or let tinyae download MNIST),
# or cell by cell in an editor that understands `# %%` cells. Figures are written to
# `tutorial_outputs/` in the current directory. With `TINYAE_QUICK=1` the script uses a small
# subset and one epoch per model (well under a minute; what the tests run). The full run trains three
# models on all 60,000 training images: 400 s in all on our 2-core CPU.

# %%
import time
import zlib
from pathlib import Path

import numpy as np

from tinyae.plot import tutorial_setup

QUICK, SHOW, OUT = tutorial_setup()       # TINYAE_QUICK=1: small and fast; no display: figures only saved
import matplotlib.pyplot as plt             # noqa: E402  (after choosing the backend)

import tinyae                               # noqa: E402
from tinyae import corrupt, datasets, evaluate, fit, layers, losses, metrics, models, plot, predict  # noqa: E402
from tinyae.models import Autoencoder       # noqa: E402

SEED = 0
TUTORIAL_START = time.perf_counter()
print(f"tinyae {tinyae.__version__}, backend {tinyae.backend.name}, quick mode: {QUICK}")


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


# %% [markdown]
# ## 1. The data and four noise models
#
# `datasets.mnist` gives float32 images of shape (N, 1, 28, 28) with pixels in [0, 1]. For training we
# validate after each epoch on the first 2,000 test images only (it saves time); every figure reported
# below is measured once, at the end, on the whole test set (10,000 images; 500 in quick mode).

# %%
x_train, _ = datasets.mnist("train")
x_test, _ = datasets.mnist("test")
if QUICK:
    x_train, x_test = x_train[:2000], x_test[:500]
N_VAL = min(2000, len(x_test))
print(f"train {x_train.shape}, test {x_test.shape}, {x_train.dtype}; validation during training on the first "
      f"{N_VAL} test images")
print(f"{np.mean(x_test == 0):.1%} of the test pixels are exactly 0 (background)")

# %% [markdown]
# `tinyae.corrupt` has the four noises of eq. N1, each a function that returns a **fixed** noisy copy drawn
# from a seed (the same copy on every machine):
#
# * **Gaussian**, σ = 0.4: $\tilde x = \min(\max(x + 0.4\,\varepsilon, 0), 1)$, $\varepsilon \sim \mathcal N(0, 1)$
#   for every pixel. The clip keeps the pixels in [0, 1], but on MNIST's black background (most pixels are
#   exactly 0) it cuts off every negative draw, so the noise there is not zero-mean: the background turns
#   grey on average.
# * **Masking**, 50 %: each pixel is set to 0 with probability 0.5. On a pixel that is already 0 this
#   changes nothing, so only the ink is damaged.
# * **Salt and pepper**, 20 %: each pixel is replaced with probability 0.2, by 1 (salt) or 0 (pepper),
#   half of the time each.
# * **Block**, 12×12: one 12×12 square per image, at a random place where it fits, is set to 0. Filling it
#   in is **inpainting**.
#
# We measure each noisy set against the clean images with two figures from `tinyae.metrics`, both one
# value per image, averaged over the images:
#
# * **PSNR** (eq. Q1), $10 \log_{10}(1 / \mathrm{MSE})$ in dB for pixels in [0, 1]: higher is better,
#   +3 dB is half the squared error. An image equal to its reference has PSNR $= +\infty$: a 12×12 block
#   placed on background only changes nothing, so for the block we average over the images it changed
#   and say how many it did not.
# * **SSIM** (eqs. Q2–Q4): local means, variances and correlation under an 11×11 Gaussian window; no unit,
#   1 for an image equal to its reference. It rewards keeping the structure (the strokes), where PSNR only
#   counts squared error.

# %%
NOISE_SEED_TEST = 2
NOISES = ["gaussian:0.4", "masking:0.5", "salt_pepper:0.2", "block:12"]
SHORT = {"gaussian:0.4": "Gaussian σ 0.4", "masking:0.5": "masking 50%", "salt_pepper:0.2": "salt & pepper 20%",
         "block:12": "12×12 block"}
noisy_test = {spec: corrupt.apply(spec, x_test, seed=NOISE_SEED_TEST) for spec in NOISES}


def mean_psnr(images, reference) -> tuple[float, int]:
    """The mean of the per-image PSNRs (dB) over the images that differ from their reference, and how many do not."""
    values = metrics.psnr(images, reference)
    finite = np.isfinite(values)
    return float(values[finite].mean()), int((~finite).sum())


def quality_row(label, images, reference=x_test, extra=""):
    """Print one row: the mean PSNR (dB) and the mean SSIM of ``images`` against ``reference``; return both."""
    psnr, unchanged = mean_psnr(images, reference)
    ssim = float(metrics.ssim(images, reference).mean())
    note = f"   ({unchanged} images unchanged, PSNR = inf, left out of the mean)" if unchanged else ""
    print(f"{label:<52} {psnr:8.2f}   {ssim:6.3f}{extra}{note}")
    return psnr, ssim


print(f"{'noisy test set (seed 2) against the clean one':<52} {'PSNR dB':>8}   {'SSIM':>6}   {'pixels changed':>14}")
noise_quality = {}
for spec in NOISES:
    changed = f"   {np.mean(noisy_test[spec] != x_test):14.1%}"
    noise_quality[spec] = quality_row(corrupt.describe(spec), noisy_test[spec], extra=changed)
background = x_test == 0
print(f"\nGaussian noise on the background (clean pixel 0): mean noisy value "
      f"{noisy_test['gaussian:0.4'][background].mean():.3f} "
      f"(0.4·E[max(ε, 0)] = 0.4/√(2π) = {0.4 / np.sqrt(2 * np.pi):.3f}): the clip makes it a grey veil")

# %%
n_show = 10
noise_path = save_figure(
    lambda path: plot.image_rows([("clean", x_test)] + [(SHORT[s], noisy_test[s]) for s in NOISES], path=path,
                                 n=n_show, title="The same test digits under four noise models"),
    "03_noise_types.png")
print(f"figure written to {noise_path}")

# %% [markdown]
# In our full run (10,000 test images) the four noises gave 11.00, 12.77, 10.20 and 14.88 dB, and SSIMs of
# 0.491, 0.521, 0.521 and 0.665. The Gaussian noise changed 59 % of the pixels, masking and salt and pepper
# about 10 % and 12 %, the block 6.5 %; for 97 of the 10,000 images the block fell on background only. The
# numbers rank the damage only roughly: salt and pepper has the lowest PSNR, but (section 7) it is not the
# hardest to undo. Note also that a black block on a black background is invisible in the figure.

# %% [markdown]
# ## 2. The denoising objective, and where the noise comes from
#
# With an encoder $f$, a decoder $g$, a loss $L$ and a corruption $q(\tilde x \mid x)$ (one of the noises
# above), a denoising autoencoder minimises (eq. N3)
#
# $$\min_{f,\,g}\; \mathbb E_{x}\, \mathbb E_{\tilde x \sim q(\tilde x\mid x)}\, L\bigl(g(f(\tilde x)),\, x\bigr).$$
#
# The **input** is the corrupted $\tilde x$, the **target** the clean $x$. In tinyae that is
# `fit(model, x_noisy, x_clean)`: the second array is the target. (`fit(model, x_noisy)` alone would make the
# noisy image its own target, and the model would learn to reproduce the noise.)
#
# The inner expectation can be estimated in two ways:
#
# * **A fixed noisy copy**, keras-io's way: draw $\tilde x$ once per training image,
#   `x_noisy = corrupt.gaussian(x_train, 0.4, seed=1)`, and train on the pairs. Every epoch sees the same
#   corruption of each image — one sample of the noise per image for the whole training.
# * **Fresh noise for every batch**: put a corruption layer first in the encoder,
#   `layers.GaussianCorruption(0.4)`, and train on clean pairs, `fit(model, x, x)`. In train mode the layer
#   draws new noise at every forward pass, so every step sees a new sample of $q$; in eval mode it is the
#   identity, so `reconstruct` and `predict` use the images as given (and you pass them noisy images to
#   denoise them).
#
# A corruption layer's backward pass (eq. N2) is $\bar x = \bar{\tilde x} \odot \text{keep}$, where keep
# is 1 where the noisy pixel still depends on $x$ (with slope 1) and 0 where the noise replaced it or the
# clip cut it off. As the first layer its input gradient is never needed for training, but it is right if
# the layer sits inside a model. The demonstration below runs one layer on four test digits:

# %%
few = x_test[:4]
gauss_layer = layers.GaussianCorruption(0.4, seed=SEED)
first, second = gauss_layer.forward(few), gauss_layer.forward(few)          # train mode (the default)
print(f"train mode, forward 1 vs forward 2: {np.mean(first != second):.1%} of the pixels differ (new noise each call)")
print(f"train mode, forward 1 vs the input: mean |difference| {np.abs(first - few).mean():.3f}")
keep = gauss_layer.backward(np.ones_like(few))                              # eq. N2 with ȳ = 1: keep itself
inside_range = (second > 0) & (second < 1)                                 # where the clip did not bite (last draw)
assert np.array_equal(keep == 1, inside_range)
print(f"backward of the last forward: keep = 1 on {keep.mean():.1%} of the pixels (0 < x + σε < 1), 0 elsewhere")
gauss_layer.eval()
print(f"eval mode: forward returns its input unchanged: {gauss_layer.forward(few) is few}")

block_layer = layers.BlockMask(12, seed=SEED)
block_draws = []
for k in (1, 2):
    block_draws.append(block_layer.forward(few))
    block_keep = block_layer.backward(np.ones_like(few))                     # 0 inside the block, 1 elsewhere
    corners = [tuple(int(v) for v in np.argwhere(kept[0] == 0).min(axis=0)) for kept in block_keep]
    print(f"BlockMask, train-mode forward {k}: the block's top-left corner (row, column), per image: {corners}")
block_layer.eval()
block_eval = block_layer.forward(few)
print(f"BlockMask in eval mode: forward returns its input unchanged: {block_eval is few}")

fresh_path = save_figure(
    lambda path: plot.image_rows([("input", few), ("Gaussian, train 1", first), ("Gaussian, train 2", second),
                                  ("block, train 1", block_draws[0]), ("block, train 2", block_draws[1]),
                                  ("block, eval", block_eval)], path=path, n=4,
                                 title="A corruption layer: new noise every forward in train mode, identity in eval"),
    "03_corruption_layer.png")
print(f"figure written to {fresh_path}")

# %% [markdown]
# The two Gaussian draws agree on a quarter of the pixels: background pixels where both draws were negative
# and the clip set both to 0. The same clip is why keep is 1 on only about half of the pixels: on the
# background every negative draw is cut off, and there the gradient is 0. (The block corners are read from
# the layer's keep, eq. N2: the block's place is known even where it fell on background and changed
# nothing.) The fixed copy is the opposite: the same seed gives the same noisy array every time, which is
# what a test set needs.

# %%
copy_a, copy_b, copy_c = (corrupt.gaussian(few, 0.4, seed=k) for k in (1, 1, 2))
print(f"corrupt.gaussian(x, 0.4, seed=1) twice: identical = {np.array_equal(copy_a, copy_b)}; "
      f"seed 1 vs seed 2: identical = {np.array_equal(copy_a, copy_c)}")

# %% [markdown]
# ## 3. Keras's 'same' transposed convolution (N4)
#
# keras-io's denoiser upsamples with `Conv2DTranspose(32, 3, strides=2, padding="same")`, 7 → 14 and
# 14 → 28. PyTorch has no `padding="same"` for transposed convolutions; the usual port is
# `ConvTranspose2d(32, 32, 3, stride=2, padding=1, output_padding=1)`, which gives the same size. It does
# not give the same numbers.
#
# `docs/math/denoising.md` (N4) works it out. Without padding, a 3×3 transposed convolution with stride 2
# paints $2H + 1$ rows, $f_0, \dots, f_{2H}$ (eq. T2: $(H - 1)\cdot 2 + 3$). TensorFlow computes 'same' as the
# transpose of a convolution whose one row of padding goes *after* the image, so Keras keeps
# $f_0, \dots, f_{2H-1}$ and drops the last row. PyTorch's `padding=1` drops one row at each end and
# `output_padding=1` adds the last one back: it keeps $f_1, \dots, f_{2H}$. Same size, one pixel apart
# (and the same for the columns):
#
# $$y^\text{Keras}_a = f_a, \qquad y^\text{PyTorch}_a = f_{a+1} \qquad (a = 0, \dots, 2H - 1). \tag{N4}$$
#
# tinyae's `denoise` reproduces Keras: `ConvTranspose2d(padding=0)` (7 → 15) followed by
# `Crop2d(((0, 1), (0, 1)))`, which drops the last row and column (15 → 14). Here are both versions with the
# same weights on a 2×2 input (the example of N4), in tinyae's own layers: a kernel 1…9, no bias.

# %%
x_tiny = np.array([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=np.float32)        # (N, C, H, W) = (1, 1, 2, 2)
kernel = np.arange(1.0, 10.0, dtype=np.float32).reshape(1, 1, 3, 3)      # W: (in, out, kh, kw)
unpadded = layers.ConvTranspose2d(1, 1, 3, stride=2, padding=0, rng=np.random.default_rng(0))
pytorch_style = layers.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1, rng=np.random.default_rng(0))
for layer in (unpadded, pytorch_style):
    layer.W.data[...] = kernel
    layer.b.data[...] = 0.0
full = unpadded.forward(x_tiny)                                          # f: 2H + 1 = 5 rows and columns
keras_same = layers.Crop2d(((0, 1), (0, 1))).forward(full)              # the zoo's denoise: drop the last row, col
pytorch_same = pytorch_style.forward(x_tiny)


def show(name, a):
    print(f"{name} {a.shape[2]}×{a.shape[3]}:")
    print("\n".join("   " + " ".join(f"{v:4.0f}" for v in row) for row in a[0, 0]))


show("f = ConvTranspose2d(padding=0)", full)
show("Keras 'same' = f cropped ((0, 1), (0, 1))", keras_same)
show("PyTorch padding=1, output_padding=1", pytorch_same)
assert keras_same.shape == pytorch_same.shape == (1, 1, 4, 4)
assert np.array_equal(keras_same, full[:, :, :4, :4]) and np.array_equal(pytorch_same, full[:, :, 1:, 1:])
assert not np.array_equal(keras_same, pytorch_same)
print(f"same shape {keras_same.shape[2:]}; PyTorch's [a, b] = Keras's [a + 1, b + 1] where both exist: "
      f"{np.array_equal(pytorch_same[..., :-1, :-1], keras_same[..., 1:, 1:])}; "
      f"they differ in {np.sum(keras_same != pytorch_same)} of 16 entries")

# %% [markdown]
# The two are the same 5×5 array $f$ seen through windows one pixel apart. So the same weights give images
# shifted by a pixel at each upsampling, and weights trained in Keras only reproduce Keras's outputs with
# Keras's alignment. That is why the zoo's `denoise` uses the unpadded layer and the crop: it is keras-io's
# model layer for layer (28,353 parameters, as Keras counts), and `tests/test_denoising.py` checks the
# alignment against PyTorch's own `ConvTranspose2d`. The sizes through the model:

# %%
denoiser = models.build("denoise", seed=SEED)
for layer, shape in zip(denoiser.layers, denoiser.shapes((1, 28, 28))):
    if isinstance(layer, (layers.Conv2d, layers.ConvTranspose2d, layers.MaxPool2d, layers.Crop2d)):
        print(f"  {layer.label:<45} -> {shape[1]:>2} × {shape[2]} × {shape[3]}")
print(f"code: {denoiser.code_shape} = {denoiser.code_size} numbers per image; "
      f"{denoiser.num_parameters():,} parameters; loss: {denoiser.loss} (per pixel)")

# %% [markdown]
# ## 4. Training the denoiser on a fixed noisy copy
#
# keras-io's protocol, which `benchmarks/denoise.py` follows: Gaussian noise σ = 0.4, clipped, drawn once
# (seed 1 for the training images, seed 2 for the test images); input the noisy image, target the clean
# one; binary cross-entropy per pixel (BCE, in nats: the mean over every pixel of every image); Adam,
# learning rate 1e-3; batch 128. The benchmark trains 10 epochs from scratch (there tinyae and a faithful
# PyTorch twin reached a test BCE of 0.0888 per pixel and a PSNR of 20.6 dB, against 11.0 dB for the noisy
# input). To stay within a few minutes on a CPU we train 4 epochs here (1 in quick mode), so expect
# somewhat worse figures than those.
#
# Note that BCE does not go to 0 for MNIST: the targets are grey values, not only 0 and 1, and even an output
# equal to the clean image has a BCE equal to the targets' own entropy. We print that floor too.

# %%
NOISE_SEED_TRAIN = 1
DENOISE_EPOCHS = 1 if QUICK else 4
x_train_noisy = corrupt.gaussian(x_train, 0.4, seed=NOISE_SEED_TRAIN)
x_test_noisy = noisy_test["gaussian:0.4"]                               # seed 2, drawn in section 1

bce_untrained = evaluate(denoiser, x_test_noisy, x_test)
bce_floor = losses.BCE().forward(x_test, x_test)                        # output = the clean image itself
start = time.perf_counter()
denoise_history = fit(denoiser, x_train_noisy, x_train, epochs=DENOISE_EPOCHS, batch_size=128,
                      validation_data=(x_test_noisy[:N_VAL], x_test[:N_VAL]), seed=SEED,
                      verbose=0 if QUICK else 1)
denoise_seconds = time.perf_counter() - start
print("epoch   train BCE/pixel   validation BCE/pixel   seconds")
for epoch, loss, val, sec in zip(denoise_history.epochs, denoise_history.loss, denoise_history.val_loss,
                                 denoise_history.seconds):
    print(f"{epoch:5d}   {loss:15.4f}   {val:20.4f}   {sec:7.1f}")
print(f"trained {DENOISE_EPOCHS} epoch{'s' if DENOISE_EPOCHS > 1 else ''} on {len(x_train)} noisy images in "
      f"{denoise_seconds:.0f} s")

# %%
bce_trained = evaluate(denoiser, x_test_noisy, x_test)
denoised = denoiser.reconstruct(x_test_noisy)
print(f"test BCE per pixel (noisy input, clean target): untrained {bce_untrained:.4f}, after {DENOISE_EPOCHS} "
      f"epoch{'s' if DENOISE_EPOCHS > 1 else ''} {bce_trained:.4f}; floor (output = clean image) {bce_floor:.4f}")
print(f"\n{'on the ' + str(len(x_test)) + ' Gaussian-noisy test images':<52} {'PSNR dB':>8}   {'SSIM':>6}")
gauss_in_quality = quality_row("noisy input (before)", x_test_noisy)
denoised_quality = quality_row(f"denoiser output (after {DENOISE_EPOCHS} epoch{'s' if DENOISE_EPOCHS > 1 else ''})",
                               denoised)
print(f"gain: {denoised_quality[0] - gauss_in_quality[0]:+.2f} dB PSNR, "
      f"{denoised_quality[1] - gauss_in_quality[1]:+.3f} SSIM")

loss_path = save_figure(
    lambda path: plot.loss_curves(denoise_history, path=path,
                                  title="denoise on Gaussian σ 0.4 (validation: 2000 test images)"),
    "03_denoise_loss.png")
print(f"figure written to {loss_path}")

# %% [markdown]
# In our full run (4 epochs, 211 s of training, seed 0) the test BCE fell from 0.6861 per pixel (untrained)
# to 0.0923, against a floor of 0.0581 for an output equal to the clean image; the PSNR rose from 11.00 dB
# (the noisy input) to 20.40 dB and the SSIM from 0.491 to 0.874. The benchmark's 10 epochs reach 0.0888
# and 20.6 dB, so most of the gain comes in the first epochs. The validation loss (the first 2,000 test
# images) lies below the training loss because the training figure of an epoch is the mean over batches
# while the weights were still improving.

# %% [markdown]
# ## 5. A plain autoencoder against the denoiser
#
# Does an ordinary autoencoder, trained to copy *clean* images, also clean up noisy ones? The argument for
# "yes" is that it can only output what it has learned digits look like; the argument for "no" is that a
# model with a large code can copy almost anything, noise included. We train the zoo's `conv` (tutorial 2:
# code 64×7×7, MSE per pixel, batch 64) for 2 epochs on the clean training images, then give it the same
# Gaussian-noisy test images as the denoiser.

# %%
CONV_EPOCHS = 1 if QUICK else 2
plain = models.build("conv", seed=SEED)
start = time.perf_counter()
plain_history = fit(plain, x_train, epochs=CONV_EPOCHS, batch_size=64, validation_data=x_test[:N_VAL], seed=SEED,
                    verbose=0 if QUICK else 1)
plain_seconds = time.perf_counter() - start
plain_mse = evaluate(plain, x_test)
print(f"plain conv autoencoder, {CONV_EPOCHS} epoch{'s' if CONV_EPOCHS > 1 else ''} on clean images "
      f"({plain_seconds:.0f} s): test MSE {plain_mse:.5f} per pixel on clean input "
      f"(PSNR {mean_psnr(plain.reconstruct(x_test), x_test)[0]:.2f} dB)")

plain_on_noisy = plain.reconstruct(x_test_noisy)
print(f"\n{'Gaussian σ 0.4 test images, against the clean ones':<52} {'PSNR dB':>8}   {'SSIM':>6}")
quality_row("noisy input", x_test_noisy)
plain_quality = quality_row("plain conv AE (trained on clean images)", plain_on_noisy)
quality_row("denoiser (trained on noisy → clean)", denoised)
print(f"plain AE against its noisy input: {plain_quality[0] - gauss_in_quality[0]:+.2f} dB, "
      f"{plain_quality[1] - gauss_in_quality[1]:+.3f} SSIM; "
      f"denoiser: {denoised_quality[0] - gauss_in_quality[0]:+.2f} dB, "
      f"{denoised_quality[1] - gauss_in_quality[1]:+.3f} SSIM")
print(f"mean output value on the background (clean pixel 0): noisy input "
      f"{x_test_noisy[background].mean():.3f}, plain AE {plain_on_noisy[background].mean():.3f}, "
      f"denoiser {denoised[background].mean():.3f}")

# %%
compare_path = save_figure(
    lambda path: plot.image_rows([("noisy input", x_test_noisy), ("plain AE", plain_on_noisy), ("denoiser", denoised),
                                  ("clean", x_test)], path=path, n=n_show,
                                 title="Gaussian σ 0.4: a plain autoencoder and the denoiser on the same input"),
    "03_plain_vs_denoiser.png")
print(f"figure written to {compare_path}")

# %% [markdown]
# The plain autoencoder was never shown noise, so whatever it does to the noise is a side effect of learning
# to copy clean digits. In our full run it reconstructed *clean* test images at 27.10 dB (MSE 0.00225 per
# pixel), and on the noisy ones it did partly denoise: 11.00 → 13.36 dB, SSIM 0.491 → 0.575. The strokes in
# its output are smoother and whiter than in its input. But most of the noise came through: the mean value
# on the background went only from 0.159 to 0.146 (the clean value is 0), and the figure shows a blotchy grey
# background. Its code holds 3,136 numbers, four times the pixels, which is room enough to pass noise along.
# The denoiser, trained for this, reached 20.40 dB and SSIM 0.874 and left 0.008 on the background: 7 dB
# more than the plain autoencoder, from a model of the same kind (two conv stages down, two transposed
# convolutions up) with a smaller code (1,568 numbers), trained on the right pairs.

# %% [markdown]
# ## 6. Inpainting a missing block
#
# Now the corruption is a 12×12 square set to 0, and we use the other way of drawing noise: a `BlockMask`
# layer first in the encoder, so that every batch gets new blocks at new places, and clean targets. The model
# is the zoo's `dense` (784 → 256 → 784, MSE per pixel): a dense layer sees the whole image at once, so it
# can use the strokes around the hole, and it trains fast (batch 256). The layer is only active in train mode;
# to measure, we give the trained model a fixed set of masked test images (seed 3) and compare with the clean
# ones, over the whole image and inside the block, where the information was lost.

# %%
INPAINT_EPOCHS = 1 if QUICK else 10
base = models.build("dense", seed=SEED)
inpainter = Autoencoder(layers.Sequential(layers.BlockMask(12, seed=SEED), *base.encoder.layers,
                                          input_shape=(1, 28, 28)),
                        base.decoder, loss=base.loss)                   # fresh blocks for every batch
x_test_blocked = corrupt.block(x_test, 12, seed=3)
in_block = corrupt.block(np.ones_like(x_test), 12, seed=3) == 0         # the same places: where the block is
assert np.all(in_block.sum(axis=(1, 2, 3)) == 144)

start = time.perf_counter()
inpaint_history = fit(inpainter, x_train, epochs=INPAINT_EPOCHS, batch_size=256,
                      validation_data=(x_test_blocked[:N_VAL], x_test[:N_VAL]), seed=SEED, verbose=0 if QUICK else 1)
inpaint_seconds = time.perf_counter() - start
print(f"dense + BlockMask(12), {INPAINT_EPOCHS} epoch{'s' if INPAINT_EPOCHS > 1 else ''} on clean targets "
      f"({inpaint_seconds:.0f} s); validation MSE per pixel (masked input, clean target) by epoch: "
      + ", ".join(f"{v:.4f}" for v in inpaint_history.val_loss))

# %%
inpainted = inpainter.reconstruct(x_test_blocked)
composite = np.where(in_block, inpainted, x_test_blocked)               # the known pixels kept as they were
hid_ink = (x_test * in_block).reshape(len(x_test), -1).max(axis=1) > 0  # images whose block covered some ink
n_ink = int(hid_ink.sum())


def block_figures(images):
    """Over the images whose block hid ink: MSE per pixel and PSNR (dB) inside the block, and the whole
    image's PSNR (dB) and SSIM."""
    err = ((images - x_test) ** 2)[hid_ink]
    mse_in = (err * in_block[hid_ink]).reshape(n_ink, -1).sum(axis=1) / 144
    return {"mse_in": float(mse_in.mean()), "psnr_in": float(np.mean(10 * np.log10(1.0 / mse_in))),
            "psnr": float(metrics.psnr(images[hid_ink], x_test[hid_ink]).mean()),
            "ssim": float(metrics.ssim(images[hid_ink], x_test[hid_ink]).mean())}


print(f"12×12 block (seed 3); the {n_ink} of {len(x_test)} test images whose block hid ink (on the other "
      f"{len(x_test) - n_ink} the masked input is exact)")
print(f"{'':<34} {'inside the block':^26}   {'whole image':^19}")
print(f"{'':<34} {'MSE per pixel':>14} {'PSNR dB':>11}   {'PSNR dB':>9} {'SSIM':>9}")
inpaint_quality = {}
for label, images in [("masked input", x_test_blocked), ("inpainted (model output)", inpainted),
                      ("model output in the block only", composite)]:
    q = inpaint_quality[label] = block_figures(images)
    print(f"{label:<34} {q['mse_in']:14.4f} {q['psnr_in']:11.2f}   {q['psnr']:9.2f} {q['ssim']:9.3f}")

inpaint_path = save_figure(
    lambda path: plot.image_rows([("masked", x_test_blocked), ("restored", inpainted), ("clean", x_test)], path=path,
                                 n=n_show,
                                 title=f"Inpainting a 12×12 block: dense + BlockMask, {INPAINT_EPOCHS} epochs"),
    "03_inpainting.png")
print(f"figure written to {inpaint_path}")

# %% [markdown]
# The third line keeps the known pixels of the masked input and takes only the block from the model: the
# dense autoencoder also blurs the pixels it was given (its reconstruction of a clean image is not exact),
# and inpainting does not have to pay for that.
#
# In our full run (10 epochs, 15 s) the model lowered the squared error inside the block from 0.2155 to
# 0.0733 per pixel, 7.54 → 12.36 dB, over the 9,908 test images whose block hid ink; over the whole image
# 14.90 → 17.90 dB as it comes out of the model, and 19.72 dB (SSIM 0.804) with the known pixels kept. The
# figure shows what this means: where the block cuts through a stroke the model draws a plausible, blurred
# continuation (the 2, the 0, the 4); where it hides most of the digit (the 9 in the eighth column) the
# guess is a smudge that does not look like a 9. 12.36 dB inside the block is far from a faithful
# restoration: the missing pixels are simply not in the input, and the model can only guess what digits
# usually have there.

# %% [markdown]
# ## 7. What the articles' listings get wrong
#
# Two articles this project follows — one on compression and restoration with autoencoders, one on image
# processing with convolutional autoencoders — present denoising and "compression" as easy wins. Their
# listings mislead in two places.
#
# ### (a) "Compression" that compresses nothing
#
# The compression article's `compress` and `reconstruct` functions both call the model's `predict`. Running
# the whole model returns the **reconstruction**, a 28×28 float32 image, not a code: nothing was compressed,
# and a `reconstruct` that calls `predict` again only runs the whole model once more. An autoencoder can
# only compress by splitting it: `encode` on the sender's side, `decode` (and the decoder's weights) on the
# receiver's. Even then a code of float32 numbers is not a file: it is only smaller than the image if the
# code is short, and a real codec would still have to quantise it and entropy-code it. Here are the sizes,
# against the image as MNIST stores it (784 bytes, one byte per pixel) and the same bytes compressed
# losslessly by zlib:

# %%
as_bytes = np.round(x_test * 255).astype(np.uint8)
zlib_bytes = np.mean([len(zlib.compress(img.tobytes(), 9)) for img in as_bytes[:500]])
whole_model_output = predict(denoiser, x_test[:1])
print(f"{'what is stored or sent, per image':<58} {'numbers':>8} {'bytes':>7}")
print(f"{'MNIST image, uint8':<58} {784:>8} {784:>7}")
print(f"{'the same, zlib level 9 (lossless; mean of 500 test images)':<58} {'':>8} {zlib_bytes:>7.0f}")
print(f"{'predict(model, x): the reconstruction, float32':<58} {whole_model_output[0].size:>8} "
      f"{whole_model_output[0].nbytes:>7}")
for name, model in [("dense", inpainter), ("denoise", denoiser), ("conv", plain)]:
    code = model.encode(x_test[:1])[0]
    print(f"{'encode(x) with ' + name + ', float32 code ' + '×'.join(map(str, code.shape)):<58} {code.size:>8} "
          f"{code.nbytes:>7}")
print(f"{'a 32-number float32 code (e.g. a 784-32-784 model)':<58} {32:>8} {32 * 4:>7}")

# %% [markdown]
# None of the three models of this tutorial has a code smaller than the image: their bottlenecks hold 256,
# 1,568 and 3,136 float32 numbers (1 KB to 12 KB), against 784 bytes, and zlib already shrinks the image
# losslessly to the size printed above. A 32-number code is 128 bytes — smaller, but lossy, useless without
# the decoder's weights, and still a list of floats, not a file format.
#
# ### (b) Restoration needs clean targets and the right noise model
#
# A restoring model learns eq. N3: it needs pairs (corrupted input, **clean** target), and the corruption it
# was trained on is the only one it has learned to undo. With the noisy image as its own target, N3 becomes
# the plain autoencoder's objective on noisy data, which copying the input, noise and all, minimises. And a
# model trained on one noise has no reason to remove another. Our
# denoiser saw only Gaussian noise σ = 0.4; here it is on the other three noise sets of section 1:

# %%
print(f"{'denoiser trained on Gaussian σ 0.4, given':<40} {'input PSNR dB':>13} {'output PSNR dB':>14}   "
      f"{'input SSIM':>10} {'output SSIM':>11}")
mismatch_out = {}
for spec in NOISES:
    mismatch_out[spec] = denoiser.reconstruct(noisy_test[spec])
    changed = np.any((noisy_test[spec] != x_test).reshape(len(x_test), -1), axis=1)   # PSNR finite for the input
    pair = (noisy_test[spec][changed], mismatch_out[spec][changed])
    row = [float(metrics.psnr(images, x_test[changed]).mean()) for images in pair]
    row += [float(metrics.ssim(images, x_test[changed]).mean()) for images in pair]
    print(f"{SHORT[spec]:<40} {row[0]:13.2f} {row[1]:14.2f}   {row[2]:10.3f} {row[3]:11.3f}"
          + ("   (trained on this)" if spec == "gaussian:0.4" else "")
          + (f"   (the {int(changed.sum())} images the noise changed)" if not changed.all() else ""))
block_by_denoiser = block_figures(denoiser.reconstruct(x_test_blocked))
print(f"\ninside the 12×12 block (seed 3, the {n_ink} images whose block hid ink): masked input "
      f"{inpaint_quality['masked input']['psnr_in']:.2f} dB, Gaussian denoiser {block_by_denoiser['psnr_in']:.2f} dB, "
      f"the inpainting model of section 6 {inpaint_quality['inpainted (model output)']['psnr_in']:.2f} dB")

# %%
mismatch_path = save_figure(
    lambda path: plot.image_rows([("salt & pepper", noisy_test["salt_pepper:0.2"]),
                                  ("→ denoiser", mismatch_out["salt_pepper:0.2"]),
                                  ("12×12 block", noisy_test["block:12"]), ("→ denoiser", mismatch_out["block:12"]),
                                  ("clean", x_test)], path=path, n=n_show,
                                 title="The Gaussian-trained denoiser on noises it was not trained on"),
    "03_mismatched_noise.png")
print(f"figure written to {mismatch_path}")
print(f"\nthe whole tutorial ran in {time.perf_counter() - TUTORIAL_START:.0f} s")

# %% [markdown]
# The result is less simple than "a denoiser removes only its own noise". In our full run:
#
# * **Salt and pepper 20 %**, which it never saw: 10.20 → 20.38 dB, SSIM 0.521 → 0.876, as good as on the
#   Gaussian noise it was trained on (20.40 dB). Both noises scatter bright pixels over the background and
#   dark ones through the strokes, and the denoiser has learned to keep only smooth, digit-like strokes on
#   black; that habit happens to undo salt and pepper as well. (This is our reading of the figure, not
#   something the numbers prove.)
# * **Masking 50 %** and the **block**: the damage is missing ink, which the Gaussian noise never produced.
#   Here the denoiser makes things *worse*: masking 12.77 → 11.92 dB with SSIM 0.521 → 0.323, the block
#   (seed 2) 14.88 → 14.26 dB. Inside the block (seed 3) it reached 7.74 dB against 7.54 dB for the masked
#   input, while the model trained to inpaint reached 12.36 dB: the figure shows the holes left as they were.
#
# So a restoration model has to be trained, or at least tested, on the corruption it will meet. A noise
# that looks like the training noise may be removed by luck; a different kind of damage is not repaired,
# and can be made worse.
#
# ## What to take away
#
# * A denoising autoencoder is an ordinary autoencoder trained with a different target: the input is
#   corrupted, the target is clean, `fit(model, x_noisy, x_clean)` (eq. N3). The noise can be a fixed copy
#   drawn once (keras-io) or a corruption layer that draws new noise at every forward pass in train mode and
#   is the identity in eval mode; its gradient is $\bar y \odot \text{keep}$ (eq. N2).
# * State noise and quality with their units: σ on pixels in [0, 1], PSNR in dB (mean of per-image values;
#   +∞ for an unchanged image, which a block on the background is), SSIM without unit. The same PSNR can hide
#   very different damage: clipped Gaussian noise changes most pixels a little and greys the background,
#   masking only removes ink.
# * Keras's 'same' transposed convolution and PyTorch's `padding=1, output_padding=1` give the same size and
#   a one-pixel shift (N4); the zoo's `denoise` copies Keras with `ConvTranspose2d(padding=0)` +
#   `Crop2d(((0, 1), (0, 1)))`.
# * The target matters more than the architecture. In our full run (seed 0, NumPy on a 2-core CPU) the
#   denoiser, trained 4 epochs on noisy → clean pairs, took Gaussian noise σ = 0.4 from 11.00 dB to 20.40 dB
#   (SSIM 0.491 → 0.874, test BCE 0.0923 per pixel); the plain conv autoencoder, trained 2 epochs on clean
#   images, only to 13.36 dB (SSIM 0.575), with most of the grey background left in.
# * Inpainting with fresh block masks and clean targets (dense 784-256-784, 10 epochs) raised the PSNR
#   inside a 12×12 block from 7.54 to 12.36 dB: plausible, blurred strokes where the block cuts one, wrong
#   guesses where it hides most of the digit.
# * Quick mode's figures, with 2,000 training images and one epoch, are not meant to be good: the denoiser
#   then makes images worse than its noisy input. Your figures are printed above.
# * An autoencoder's `predict` is a reconstruction, not a compression; a code is only smaller than the image
#   when the bottleneck is small (none of this tutorial's three models has one: 1 KB to 12 KB of floats for
#   a 784-byte image that zlib stores in 182), and a float code is not a file.
# * A restoring model learns from clean targets to undo the corruption it was trained on. Our Gaussian
#   denoiser happened to remove salt and pepper too (20.38 dB), but it made masked and block-masked digits
#   worse; check a model on the corruption you actually have.
