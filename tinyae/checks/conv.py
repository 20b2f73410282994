"""Standard gradient checks of Conv2d (eqs. C5–C8) and ConvTranspose2d (eqs. T5–T7).

The layers are linear in the input and in the weights, so the central difference has
no kink to avoid: inputs and weights are plain normal draws, and the biases are made
non-zero so that every term is exercised. The configurations cover strides 1, 2 and 3,
zero and non-zero padding, output_padding, odd and non-square images and kernels,
several input channels, no bias, and both memory orders of the columns
("batch first" / "batch last", see tinyae/im2col.py), which the cost model would
otherwise choose by size.
"""
from __future__ import annotations

import numpy as np

from .. import backend, gradcheck, layers
from . import case

# name (k kernel, s stride, p padding, op output_padding; the input's H×W), layer class,
# constructor arguments, input shape (N, C, H, W), memory order (None: the layer chooses)
CONFIGS = [
    ("Conv2d(3→4, k3, p1) on 6×5", layers.Conv2d,
     dict(in_channels=3, out_channels=4, kernel_size=3, padding=1), (2, 3, 6, 5), None),
    ("Conv2d(2→3, k(3,2), s(2,3), p(1,0)) on 7×8", layers.Conv2d,
     dict(in_channels=2, out_channels=3, kernel_size=(3, 2), stride=(2, 3), padding=(1, 0)), (2, 2, 7, 8), None),
    ("Conv2d(2→2, k5, s3, p2) on 11×8", layers.Conv2d,
     dict(in_channels=2, out_channels=2, kernel_size=5, stride=3, padding=2), (2, 2, 11, 8), None),
    ("Conv2d(4→3, k3, no bias) on 5×5", layers.Conv2d,
     dict(in_channels=4, out_channels=3, kernel_size=3, bias=False), (2, 4, 5, 5), None),
    ("Conv2d(3→2, k(2,3), s2, p1) on 5×7, batch first", layers.Conv2d,
     dict(in_channels=3, out_channels=2, kernel_size=(2, 3), stride=2, padding=1), (2, 3, 5, 7), False),
    ("Conv2d(3→2, k(2,3), s2, p1) on 5×7, batch last", layers.Conv2d,
     dict(in_channels=3, out_channels=2, kernel_size=(2, 3), stride=2, padding=1), (2, 3, 5, 7), True),
    ("ConvTranspose2d(3→2, k3, p1) on 5×4", layers.ConvTranspose2d,
     dict(in_channels=3, out_channels=2, kernel_size=3, padding=1), (2, 3, 5, 4), None),
    ("ConvTranspose2d(2→3, k3, s2, p1, op1) on 4×3", layers.ConvTranspose2d,
     dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1, output_padding=1), (2, 2, 4, 3), None),
    ("ConvTranspose2d(2→2, k(3,4), s3, p(1,2), op(2,1)) on 3×3", layers.ConvTranspose2d,
     dict(in_channels=2, out_channels=2, kernel_size=(3, 4), stride=3, padding=(1, 2), output_padding=(2, 1)),
     (2, 2, 3, 3), None),
    ("ConvTranspose2d(3→2, k2, s2, no bias) on 3×5", layers.ConvTranspose2d,
     dict(in_channels=3, out_channels=2, kernel_size=2, stride=2, bias=False), (2, 3, 3, 5), None),
    ("ConvTranspose2d(2→3, k(3,2), s(2,1), p1, op(1,0)) on 3×4, batch first",
     layers.ConvTranspose2d, dict(in_channels=2, out_channels=3, kernel_size=(3, 2), stride=(2, 1), padding=1,
                                  output_padding=(1, 0)), (2, 2, 3, 4), False),
    ("ConvTranspose2d(2→3, k(3,2), s(2,1), p1, op(1,0)) on 3×4, batch last",
     layers.ConvTranspose2d, dict(in_channels=2, out_channels=3, kernel_size=(3, 2), stride=(2, 1), padding=1,
                                  output_padding=(1, 0)), (2, 2, 3, 4), True),
]


def build(cls, kwargs, x_shape, batch_last, seed):
    """The layer (float64, non-zero bias, memory order forced or automatic) and its input."""
    rng = np.random.default_rng(seed)
    layer = cls(**kwargs, rng=rng)
    layer.batch_last = batch_last
    if layer.bias:
        layer.b.data[...] = backend.asarray(rng.standard_normal(layer.b.data.shape), dtype=layer.b.data.dtype)
    return layer, rng.standard_normal(x_shape)


def _register(index, name, cls, kwargs, x_shape, batch_last):
    @case(name)
    def _run():
        layer, x = build(cls, kwargs, x_shape, batch_last, seed=100 + index)
        return gradcheck.check_layer(layer, x)
    return _run


for _i, _config in enumerate(CONFIGS):
    _register(_i, *_config)
