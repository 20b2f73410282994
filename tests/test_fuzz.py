"""Fuzzing layer configurations and input shapes with hypothesis.

The property, for every layer family and for Sequentials of them: feeding an input of any
shape either

* runs, and then ``layer.output_shape(input_shape)`` is the shape forward returned (also
  with the batch size unknown, None), and backward returns dx of the input's shape; or
* raises ShapeError;

never anything else (no IndexError or bare ValueError from deep inside NumPy). A second
property checks that ``output_shape`` (used when a Sequential is built) and ``forward``
agree on which shapes fit. The conv family is included where tinyae.layers has it.
Examples are bounded (``max_examples``) so that the file runs in a few seconds.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from tinyae import layers
from tinyae.errors import ShapeError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

size = st.integers(1, 6)
batch = st.integers(1, 3)
any_shape = st.lists(st.integers(1, 6), min_size=1, max_size=5).map(tuple)


def has(name):
    return getattr(layers, name, None) is not None


def image_shape(draw, channels=None):
    """(N, C, H, W), sometimes of another rank, to exercise the rank check."""
    if draw(st.integers(0, 9)) == 0:
        return draw(any_shape)
    c = channels if channels is not None and draw(st.booleans()) else draw(st.integers(1, 4))
    return (draw(batch), c, draw(st.integers(1, 9)), draw(st.integers(1, 9)))


def features_shape(draw, features):
    """(N, features) mostly, or any shape."""
    return (draw(batch), features) if draw(st.booleans()) else draw(any_shape)


# --- layer makers: draw -> (layer, input shape) -------------------------------------------------

def make_dense(draw):
    n_in, n_out = draw(size), draw(size)
    return layers.Dense(n_in, n_out, bias=draw(st.booleans()), rng=0), features_shape(draw, n_in)


def make_activation(draw):
    cls = draw(st.sampled_from([layers.ReLU, layers.Sigmoid, layers.Tanh, layers.Identity, layers.LeakyReLU]))
    return cls(), draw(any_shape)


def make_flatten(draw):
    return layers.Flatten(), draw(any_shape)


def make_reshape(draw):
    target = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    if draw(st.booleans()):                                  # a fitting input, half of the time
        shape = (draw(batch), int(np.prod(target)))
    else:
        shape = draw(any_shape)
    return layers.Reshape(target), shape


def make_dropout(draw):
    layer = layers.Dropout(draw(st.floats(0.0, 0.9)), seed=0)
    layer.train(draw(st.booleans()))
    return layer, draw(any_shape)


def make_gaussian_noise(draw):
    layer = layers.GaussianNoise(draw(st.floats(0.0, 2.0)), seed=0)
    layer.train(draw(st.booleans()))
    return layer, draw(any_shape)


def make_conv(draw):
    c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = draw(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = draw(st.integers(0, 2))
    if draw(st.booleans()):
        layer = layers.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, rng=0)
    else:
        s = stride if isinstance(stride, int) else min(stride)
        layer = layers.ConvTranspose2d(c_in, c_out, kernel, stride=stride, padding=padding,
                                       output_padding=draw(st.integers(0, s - 1)), rng=0)
    return layer, image_shape(draw, c_in)


def make_pool(draw):
    cls = draw(st.sampled_from([layers.MaxPool2d, layers.AvgPool2d]))
    kernel = draw(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    stride = draw(st.one_of(st.none(), st.integers(1, 3)))
    return cls(kernel, stride=stride), image_shape(draw)


def make_upsample(draw):
    factor = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    return layers.Upsample2d(factor), image_shape(draw)


def make_batchnorm(draw):
    c = draw(st.integers(1, 4))
    if draw(st.booleans()):
        layer, shape = layers.BatchNorm1d(c), features_shape(draw, c)
    else:
        layer, shape = layers.BatchNorm2d(c), image_shape(draw, c)
    layer.train(draw(st.booleans()))
    return layer, shape


def make_activity_l1(draw):
    return layers.ActivityL1(draw(st.floats(0.0, 1.0)), reduction=draw(st.sampled_from(["batch_mean", "sum"]))), \
        draw(any_shape)


def make_gaussian_sample(draw):
    k = draw(st.integers(1, 3))
    layer = layers.GaussianSample(k, seed=0)
    layer.train(draw(st.booleans()))
    return layer, features_shape(draw, 2 * k)


def make_crop(draw):
    cropping = ((draw(st.integers(0, 2)), draw(st.integers(0, 2))), (draw(st.integers(0, 2)), draw(st.integers(0, 2))))
    return layers.Crop2d(cropping), image_shape(draw)


def make_corruption(draw):
    cls, amount = draw(st.sampled_from([(layers.GaussianCorruption, 0.3), (layers.MaskingNoise, 0.4),
                                        (layers.SaltAndPepperNoise, 0.2), (layers.BlockMask, 3)]))
    layer = cls(amount, seed=0)
    layer.train(draw(st.booleans()))
    return layer, image_shape(draw)


def make_skip_concat(draw):
    d, k1, k2 = draw(size), draw(size), draw(size)
    layer = layers.SkipConcat(layers.Sequential(layers.Dense(d, k1, rng=0), layers.Tanh()),
                              layers.Sequential(layers.Dense(k1 + d, k2, rng=1), layers.ReLU()), in_features=d)
    return layer, features_shape(draw, d)


MAKERS = {"dense": make_dense, "activation": make_activation, "flatten": make_flatten, "reshape": make_reshape,
          "dropout": make_dropout}
OPTIONAL = {"gaussian_noise": ("GaussianNoise", make_gaussian_noise), "conv": ("ConvTranspose2d", make_conv),
            "pool": ("AvgPool2d", make_pool), "upsample": ("Upsample2d", make_upsample),
            "batchnorm": ("BatchNorm2d", make_batchnorm), "activity_l1": ("ActivityL1", make_activity_l1),
            "gaussian_sample": ("GaussianSample", make_gaussian_sample), "crop": ("Crop2d", make_crop),
            "corruption": ("BlockMask", make_corruption), "skip_concat": ("SkipConcat", make_skip_concat)}
FAMILIES = [pytest.param(name, id=name) for name in MAKERS] + [
    pytest.param(name, id=name, marks=pytest.mark.skipif(not has(cls), reason=f"no {cls} in tinyae.layers yet"))
    for name, (cls, _) in OPTIONAL.items()]


def maker(name):
    return MAKERS[name] if name in MAKERS else OPTIONAL[name][1]


def make_sequential(draw):
    """1–4 layers of the families present, chained on a drawn input (None: not checked when built)."""
    names = [n for n in MAKERS if n != "reshape"] + [n for n, (cls, _) in OPTIONAL.items() if has(cls)]
    parts = [maker(draw(st.sampled_from(names)))(draw) for _ in range(draw(st.integers(1, 4)))]
    shape = parts[0][1]
    sample = shape[1:] if len(shape) > 1 and draw(st.booleans()) else None
    try:
        model = layers.Sequential(*[layer for layer, _ in parts], input_shape=sample)
    except ShapeError:
        assume(False)                                        # refused when built: the documented outcome
    model.train(draw(st.booleans()))
    return model, shape


# --- the properties ----------------------------------------------------------------------------------

def run_forward_backward(layer, shape):
    """The property: documented shapes, or ShapeError. Returns True if forward ran."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    try:
        y = layer.forward(x)
    except ShapeError:
        return False
    assert tuple(y.shape) == tuple(layer.output_shape(shape)), f"{layer!r} on {shape}"
    unknown_batch = layer.output_shape((None,) + tuple(shape[1:]))
    assert tuple(unknown_batch) == (None,) + tuple(y.shape[1:]), f"{layer!r} on (None, {shape[1:]})"
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)
    assert dx is not None and tuple(dx.shape) == tuple(shape), f"{layer!r}: dx {getattr(dx, 'shape', None)} for {shape}"
    return True


@pytest.mark.parametrize("family", FAMILIES)
@FUZZ
@given(data=st.data())
def test_a_layer_runs_with_its_documented_shapes_or_raises_shape_error(family, data):
    layer, shape = maker(family)(data.draw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        event("ran" if run_forward_backward(layer, shape) else "ShapeError")


@FUZZ
@given(data=st.data())
def test_a_sequential_runs_with_its_documented_shapes_or_raises_shape_error(data):
    model, shape = make_sequential(data.draw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        event("ran" if run_forward_backward(model, shape) else "ShapeError")


# Flatten and Reshape: output_shape((N,)) returns a shape, while forward refuses a rank-1 input
# with ShapeError ("expected input with a batch axis"). Reported; fix in tinyae/layers/shape.py.
KNOWN_DISAGREEMENT = set()
AGREEMENT_FAMILIES = [
    pytest.param(*p.values, id=p.id, marks=[*p.marks, *([pytest.mark.xfail(
        strict=True, reason="Flatten/Reshape.output_shape accept a rank-1 shape that forward refuses")]
        if p.values[0] in KNOWN_DISAGREEMENT else [])])
    for p in FAMILIES]


@pytest.mark.parametrize("family", AGREEMENT_FAMILIES)
@FUZZ
@given(data=st.data())
def test_output_shape_and_forward_agree_on_which_shapes_fit(family, data):
    """output_shape() (what a Sequential checks when it is built) refuses exactly the shapes forward refuses.

    BatchNorm in train mode is left out: forward also needs two values per channel, which
    depends on the batch size that output_shape is not given.
    """
    layer, shape = maker(family)(data.draw)
    if family == "batchnorm":
        layer.eval()
    try:
        layer.output_shape(shape)
        fits = True
    except ShapeError:
        fits = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ran = run_forward_backward(layer, shape) if fits else _forward_raises_shape_error(layer, shape)
    assert ran == fits, f"{layer!r} on {shape}: output_shape says {'fits' if fits else 'does not fit'}"


def _forward_raises_shape_error(layer, shape) -> bool:
    try:
        layer.forward(np.zeros(shape, np.float32))
    except ShapeError:
        return False
    return True
