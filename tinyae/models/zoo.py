"""The model zoo: every model an Autoencoder (encoder and decoder apart), each naming its own objective.

``build(name, seed=0)`` makes one with its weights drawn from ``seed``. ``fit(model, x)``
and ``evaluate(model, x)`` use the model's ``loss`` when they are not given one:

=============  ===============================================================  ==================
name           architecture                                                      objective
=============  ===============================================================  ==================
dense          784 → 256 (ReLU) → 784 (sigmoid)                                  MSE per pixel
deep           784 → 128 → 32 → 128 → 784 (ReLU inside, sigmoid out)             MSE per pixel
deep16         the same with a 16-number code (the one-class anomaly detector)    MSE per pixel
linear512      784 → 512 (ReLU) → 784, linear output                             MSE per pixel
conv, conv_rgb two conv stages down to 64×7×7, two transposed convs back up          MSE per pixel
sparse         784 → 32 (ReLU, L1 activity 1e-4 = "10e-5") → 784 (sigmoid)         BCE per pixel + L1
sparse_kl      784 → 196 (sigmoid, KL sparsity ρ 0.1) → 784 (sigmoid)            MSE per image + KL
dae1000        masking noise 25 % → 784 → 1000 (ReLU) → 784: features for probes  BCE per pixel
denoise        keras-io's conv denoiser, 32×7×7 code, Keras 'same' alignment     BCE per pixel
vae            pytorch/examples: 784 → 400 → (μ, log σ²) 20 | 20 → 400 → 784     BCE per image + KL
vae2d          the same with a 2-d latent, for the manifold figure               BCE per image + KL
skip           skip-concat encoder 784 → 128 → [128; 784] → 32, dense decoder    MSE per pixel
codec          784 → 512 → 256 → 64, quantised (rate penalty) → 256 → 512 → 784  MSE per pixel + rate
codec_conv     three 5×5 stride-2 convs to 16×H/8×W/8, quantised, three back up  MSE per pixel + rate
=============  ===============================================================  ==================

The codecs end their encoders with ``layers.Quantize``: uniform noise in training, rounding in eval
mode, and the estimated bits per image of the rounded code (λ per bit) as their penalty.

The layers of ``dense``, ``deep``, ``linear512`` and ``conv`` are those of tinyae 0.1's flat
models, in the same order, drawing the same initial weights from the same seed (so a
model file written before the split into encoder and decoder loads into the same model).
"""
from __future__ import annotations

from .. import init, layers
from .autoencoder import Autoencoder
from .vae import VAE

MNIST = (1, 28, 28)
PATCH = (1, 32, 32)        # codec_conv's nominal input: a grey 32×32 patch (any H, W multiple of 8 runs)


def _image_out():
    return layers.Reshape(MNIST)


def dense(seed: int = 0) -> Autoencoder:
    """784 → 256 (ReLU) → 784 (sigmoid): the dense autoencoder of the first tutorial."""
    rng = init.generator(seed)
    return Autoencoder(
        layers.Sequential(layers.Flatten(), layers.Dense(784, 256, init_name="he_uniform", rng=rng), layers.ReLU(),
                          input_shape=MNIST),
        layers.Sequential(layers.Dense(256, 784, rng=rng), layers.Sigmoid(), _image_out()),
        loss="mse")


def deep(seed: int = 0) -> Autoencoder:
    """784 → 128 → 32 → 128 → 784: ReLU inside, sigmoid output."""
    rng = init.generator(seed)
    return Autoencoder(
        layers.Sequential(layers.Flatten(),
                          layers.Dense(784, 128, init_name="he_uniform", rng=rng), layers.ReLU(),
                          layers.Dense(128, 32, init_name="he_uniform", rng=rng), layers.ReLU(),
                          input_shape=MNIST),
        layers.Sequential(layers.Dense(32, 128, init_name="he_uniform", rng=rng), layers.ReLU(),
                          layers.Dense(128, 784, rng=rng), layers.Sigmoid(), _image_out()),
        loss="mse")


def deep16(seed: int = 0) -> Autoencoder:
    """784 → 128 → 16 → 128 → 784, like ``deep`` with half its code: the zoo's one-class anomaly detector.

    A smaller code reconstructs the images it was not trained on worse, which is what a
    reconstruction-error detector needs: trained on one MNIST digit, its mean AUC over the ten
    digits is 96.9 against 96.3 for the 32-number ``deep`` (benchmarks/anomaly.py).
    """
    rng = init.generator(seed)
    return Autoencoder(
        layers.Sequential(layers.Flatten(),
                          layers.Dense(784, 128, init_name="he_uniform", rng=rng), layers.ReLU(),
                          layers.Dense(128, 16, init_name="he_uniform", rng=rng), layers.ReLU(),
                          input_shape=MNIST),
        layers.Sequential(layers.Dense(16, 128, init_name="he_uniform", rng=rng), layers.ReLU(),
                          layers.Dense(128, 784, rng=rng), layers.Sigmoid(), _image_out()),
        loss="mse")


def linear512(seed: int = 0) -> Autoencoder:
    """784 → 512 (ReLU) → 784 with a linear output (no sigmoid)."""
    rng = init.generator(seed)
    return Autoencoder(
        layers.Sequential(layers.Flatten(), layers.Dense(784, 512, init_name="he_uniform", rng=rng), layers.ReLU(),
                          input_shape=MNIST),
        layers.Sequential(layers.Dense(512, 784, rng=rng), _image_out()),
        loss="mse")


def conv(seed: int = 0, channels: int = 1) -> Autoencoder:
    """The two-stage convolutional autoencoder, sized so that 28×28 comes back as 28×28.

    Conv(C→32, 3, pad 1) + ReLU + MaxPool 2     28 → 28 → 14
    Conv(32→64, 3, pad 1) + ReLU + MaxPool 2    14 → 14 → 7       (the code: 64×7×7)
    ConvTranspose(64→32, 3, stride 2, pad 1, output_padding 1) + ReLU       7 → 14
    ConvTranspose(32→C, 3, stride 2, pad 1, output_padding 1) + Sigmoid     14 → 28
    (ConvTranspose output: (7 − 1)·2 − 2·1 + 3 + 1 = 14, and (14 − 1)·2 − 2 + 3 + 1 = 28.)
    """
    rng = init.generator(seed)
    return Autoencoder(
        layers.Sequential(
            layers.Conv2d(channels, 32, 3, padding=1, rng=rng), layers.ReLU(), layers.MaxPool2d(2),
            layers.Conv2d(32, 64, 3, padding=1, rng=rng), layers.ReLU(), layers.MaxPool2d(2),
            input_shape=(channels, 28, 28)),
        layers.Sequential(
            layers.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1, rng=rng), layers.ReLU(),
            layers.ConvTranspose2d(32, channels, 3, stride=2, padding=1, output_padding=1,
                                   init_name="glorot_uniform", rng=rng), layers.Sigmoid()),
        loss="mse")


def conv_rgb(seed: int = 0) -> Autoencoder:
    """``conv`` for RGB images (3 channels in and out), e.g. the built-in RGB shapes."""
    return conv(seed=seed, channels=3)


def sparse(seed: int = 0, weight: float = 10e-5) -> Autoencoder:
    """784 → 32 (ReLU, L1 activity penalty on the code) → 784 (sigmoid), BCE: the Keras blog's sparse model.

    The blog writes ``regularizers.l1(10e-5)``, which is 1e-4 (not 1e-5); tf.keras and Keras 1
    divide the penalty by the batch size, as ActivityL1 does. Glorot-uniform weights, as Keras.
    """
    rng = init.generator(seed)
    return Autoencoder(
        layers.Sequential(layers.Flatten(), layers.Dense(784, 32, rng=rng), layers.ReLU(), layers.ActivityL1(weight),
                          input_shape=MNIST),
        layers.Sequential(layers.Dense(32, 784, rng=rng), layers.Sigmoid(), _image_out()),
        loss="bce")


def sparse_kl(seed: int = 0) -> Autoencoder:
    """784 → 196 (sigmoid, KL sparsity ρ = 0.1) → 784 (sigmoid): Ng's sparse autoencoder on MNIST.

    Ng's objective is (1/N) Σ ½‖x̂ − x‖² + β Σ_j KL(ρ ‖ ρ̂_j) with β = 3 (his MNIST exercise:
    196 hidden units, ρ = 0.1). tinyae's ``mse_per_image`` is (1/N) Σ ‖x̂ − x‖², twice his data
    term, so β = 6 here gives twice his objective: the same minimiser, and the same steps under Adam.
    """
    rng = init.generator(seed)
    return Autoencoder(
        layers.Sequential(layers.Flatten(), layers.Dense(784, 196, rng=rng), layers.Sigmoid(),
                          layers.KLSparsity(target=0.1, weight=6.0), input_shape=MNIST),
        layers.Sequential(layers.Dense(196, 784, rng=rng), layers.Sigmoid(), _image_out()),
        loss="mse_per_image")


def dae1000(seed: int = 0, noise: float = 0.25) -> Autoencoder:
    """An overcomplete denoising autoencoder: masking noise (25 % of the pixels set to 0, fresh for every batch,
    train mode only) → 784 → 1000 (ReLU) → 784 (sigmoid), BCE: codes that are worth more than the pixels.

    The classic single-layer route to features (Vincent et al. 2008): the code is larger than the image,
    and the noise, not a bottleneck, keeps it from learning the identity. Under the linear probe of
    tinyae.apps.probe its 1000-number codes beat the raw pixels (benchmarks/probe.py), and its encoder is
    a good start for a classifier (probe.fine_tune).
    """
    rng = init.generator(seed)
    return Autoencoder(
        layers.Sequential(layers.Flatten(), layers.MaskingNoise(noise, seed=int(rng.integers(2**31))),
                          layers.Dense(784, 1000, init_name="he_uniform", rng=rng), layers.ReLU(), input_shape=MNIST),
        layers.Sequential(layers.Dense(1000, 784, rng=rng), layers.Sigmoid(), _image_out()),
        loss="bce")


def denoise(seed: int = 0) -> Autoencoder:
    """keras-io's convolutional denoiser: 28 → 14 → 7 (32 channels) → 14 → 28, BCE.

    Conv 32 3×3 'same' + ReLU + MaxPool 2, twice (the code: 32×7×7 = 1568 numbers);
    ConvTranspose 32 3×3 stride 2 'same' + ReLU, twice; Conv 1 3×3 'same' + sigmoid.
    Keras's 'same' transposed convolution at stride 2 pads 0 before and 1 after: here a
    ConvTranspose2d without padding (7 → 15) and Crop2d(((0, 1), (0, 1))) (15 → 14), which
    PyTorch's padding=1, output_padding=1 matches in size but not in alignment (it drops the
    first row and column instead of the last). Glorot-uniform kernels and zero biases, as Keras.
    Train it on noisy inputs and clean targets: ``fit(model, corrupt.gaussian(x, 0.4), x)``.
    """
    rng = init.generator(seed)
    keras_same_crop = ((0, 1), (0, 1))
    glorot = {"init_name": "glorot_uniform", "rng": rng}
    return Autoencoder(
        layers.Sequential(
            layers.Conv2d(1, 32, 3, padding=1, **glorot), layers.ReLU(), layers.MaxPool2d(2),
            layers.Conv2d(32, 32, 3, padding=1, **glorot), layers.ReLU(), layers.MaxPool2d(2),
            input_shape=MNIST),
        layers.Sequential(
            layers.ConvTranspose2d(32, 32, 3, stride=2, **glorot), layers.Crop2d(keras_same_crop), layers.ReLU(),
            layers.ConvTranspose2d(32, 32, 3, stride=2, **glorot), layers.Crop2d(keras_same_crop), layers.ReLU(),
            layers.Conv2d(32, 1, 3, padding=1, **glorot), layers.Sigmoid()),
        loss="bce")


def vae(seed: int = 0, latent_dim: int = 20, hidden: int = 400) -> VAE:
    """pytorch/examples' VAE: 784 → 400 (ReLU) → [μ, log σ²] (2 × 20) | z (20) → 400 (ReLU) → 784 (sigmoid).

    pytorch/examples' fc21 and fc22 (400 → 20 each) are one Dense(400, 40) here, read as [μ, log σ²].
    Objective: BCE summed over the pixels + KL, in nats per image. Weights drawn as PyTorch's
    nn.Linear draws them, U(±1/√fan_in); biases start at zero.
    """
    rng = init.generator(seed)
    torch_like = {"init_name": "pytorch_uniform", "rng": rng}
    return VAE(
        layers.Sequential(layers.Flatten(), layers.Dense(784, hidden, **torch_like), layers.ReLU(),
                          layers.Dense(hidden, 2 * latent_dim, **torch_like),
                          layers.GaussianSample(latent_dim, seed=int(rng.integers(2**31))),
                          input_shape=MNIST),
        layers.Sequential(layers.Dense(latent_dim, hidden, **torch_like), layers.ReLU(),
                          layers.Dense(hidden, 784, **torch_like), layers.Sigmoid(), _image_out()),
        loss="bce_per_image")


def vae2d(seed: int = 0) -> VAE:
    """``vae`` with a 2-d latent space: the one whose decoder can be drawn as a map (the manifold figure)."""
    return vae(seed=seed, latent_dim=2)


def skip(seed: int = 0) -> Autoencoder:
    """The recognition article's skip-concat encoder, h_l = σ(W_lᵀ [h_{l−1}; x] + b_l), and a dense decoder.

    encoder: h_1 = ReLU(x W_1 + b_1) (128), h_2 = sigmoid([h_1; x] W_2 + b_2) (32, the code);
    decoder: 32 → 128 (ReLU) → 784 (sigmoid). x is used by both encoder blocks, so its gradient
    is the sum of two contributions (eq. S3).
    """
    rng = init.generator(seed)
    return Autoencoder(
        layers.Sequential(
            layers.Flatten(),
            layers.SkipConcat(layers.Sequential(layers.Dense(784, 128, init_name="he_uniform", rng=rng), layers.ReLU()),
                              layers.Sequential(layers.Dense(128 + 784, 32, rng=rng), layers.Sigmoid()),
                              in_features=784),
            input_shape=MNIST),
        layers.Sequential(layers.Dense(32, 128, init_name="he_uniform", rng=rng), layers.ReLU(),
                          layers.Dense(128, 784, rng=rng), layers.Sigmoid(), _image_out()),
        loss="mse")


def codec(seed: int = 0, code: int = 64, weight: float = 2e-5) -> Autoencoder:
    """784 → 512 (ReLU) → 256 (ReLU) → 64 (linear) → Quantize | 256 (ReLU) → 512 (ReLU) → 784 (sigmoid): a dense codec.

    The code (``code`` numbers, k = 64) is rounded to integers (step 1) in eval mode and carries uniform
    noise in training (eqs. U3, U10); each dimension has its own learned density, and the penalty is
    ``weight`` (λ) times the estimated bits per image (eq. U4). The objective is MSE per pixel + λ·bits per
    image, so λ is in per-pixel MSE per bit: 2e-5 trades 0.00002 of MSE against one bit (300 Adam steps
    of 128 MNIST digits: about 170 bits per image, 18.5 dB; the rate about a fifth of the objective).
    ``build`` uses the defaults; call ``codec(code=..., weight=...)`` for other trade-offs.
    """
    rng = init.generator(seed)
    he = {"init_name": "he_uniform", "rng": rng}
    return Autoencoder(
        layers.Sequential(layers.Flatten(),
                          layers.Dense(784, 512, **he), layers.ReLU(),
                          layers.Dense(512, 256, **he), layers.ReLU(),
                          layers.Dense(256, code, rng=rng),
                          layers.Quantize(code, step=1.0, weight=weight, seed=int(rng.integers(2**31))),
                          input_shape=MNIST),
        layers.Sequential(layers.Dense(code, 256, **he), layers.ReLU(),
                          layers.Dense(256, 512, **he), layers.ReLU(),
                          layers.Dense(512, 784, rng=rng), layers.Sigmoid(), _image_out()),
        loss="mse")


def codec_conv(seed: int = 0, channels: int = 16, weight: float = 3e-6) -> Autoencoder:
    """A fully convolutional codec for grey photographs (Ballé et al. 2017's shape, with ReLU for GDN).

    Conv(1→32, 5, stride 2, pad 2) + ReLU            H → H/2
    Conv(32→32, 5, stride 2, pad 2) + ReLU           H/2 → H/4
    Conv(32→16, 5, stride 2, pad 2)                  H/4 → H/8      (the code: 16 × H/8 × W/8)
    Quantize(16, step 1, weight λ): one density per channel, shared over the positions (eq. U11)
    ConvTranspose(16→32, 5, stride 2, pad 2, output_padding 1) + ReLU    H/8 → H/4
    ConvTranspose(32→32, 5, stride 2, pad 2, output_padding 1) + ReLU    H/4 → H/2
    ConvTranspose(32→1, 5, stride 2, pad 2, output_padding 1) + Sigmoid  H/2 → H
    (Conv: (H + 4 − 5) // 2 + 1 = H/2 for even H; ConvTranspose: (H − 1)·2 − 4 + 5 + 1 = 2H.)

    The total stride is 8: any H and W that are multiples of 8 come back at their own size (the
    ``input_shape`` (1, 32, 32) is the patch size it is trained on, not a limit). ``channels``: the
    code's channels (C_code). The objective is MSE per pixel + λ · (estimated bits per image), so λ
    (``weight``) is in per-pixel MSE per bit and, for a given bit rate per pixel, the rate term weighs
    in proportion to the number of pixels: 3e-6 is set for 32×32 patches (3e-6 · 1024 ≈ 0.003 of MSE
    per bit per pixel, near CompressAI's middle λ once its 255²·MSE + bpp is rescaled; 384 Adam steps
    of 32 patches of ``skimage.data.camera()``: about 0.5 bit per pixel, 23 dB). ``build`` uses the
    defaults; call ``codec_conv(channels=..., weight=...)`` for others.
    """
    rng = init.generator(seed)
    he = {"init_name": "he_uniform", "rng": rng}
    up = {"stride": 2, "padding": 2, "output_padding": 1}
    return Autoencoder(
        layers.Sequential(
            layers.Conv2d(1, 32, 5, stride=2, padding=2, **he), layers.ReLU(),
            layers.Conv2d(32, 32, 5, stride=2, padding=2, **he), layers.ReLU(),
            layers.Conv2d(32, channels, 5, stride=2, padding=2, init_name="glorot_uniform", rng=rng),
            layers.Quantize(channels, step=1.0, weight=weight, seed=int(rng.integers(2**31))),
            input_shape=PATCH),
        layers.Sequential(
            layers.ConvTranspose2d(channels, 32, 5, **up, **he), layers.ReLU(),
            layers.ConvTranspose2d(32, 32, 5, **up, **he), layers.ReLU(),
            layers.ConvTranspose2d(32, 1, 5, **up, init_name="glorot_uniform", rng=rng), layers.Sigmoid()),
        loss="mse")


ZOO = {"dense": dense, "deep": deep, "deep16": deep16, "linear512": linear512, "conv": conv, "conv_rgb": conv_rgb,
       "sparse": sparse, "sparse_kl": sparse_kl, "dae1000": dae1000, "denoise": denoise, "vae": vae, "vae2d": vae2d, "skip": skip,
       "codec": codec, "codec_conv": codec_conv}


def build(name: str, seed: int = 0) -> Autoencoder:
    """A zoo model by name (see ``ZOO``), its weights drawn from ``seed``."""
    try:
        make = ZOO[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(sorted(ZOO))}") from None
    model = make(seed=seed)
    model.name = name
    return model
