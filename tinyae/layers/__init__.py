"""Layers: each a small class with forward, then backward (see base.Layer for the protocol)."""
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .base import Layer, chain, leaves
from .container import Sequential
from .conv import Conv2d, ConvTranspose2d
from .corruption import BlockMask, GaussianCorruption, MaskingNoise, SaltAndPepperNoise
from .dense import Dense, DenseTied
from .noise import Dropout, GaussianNoise
from .normalization import BatchNorm1d, BatchNorm2d
from .penalties import ActivityL1, KLSparsity
from .pooling import AvgPool2d, MaxPool2d, Upsample2d
from .quantize import Quantize
from .shape import Crop2d, Flatten, Reshape
from .skip import SkipConcat
from .variational import GaussianSample

__all__ = ["Layer", "Dense", "DenseTied", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Identity",
           "Flatten", "Reshape", "Crop2d", "Dropout", "Sequential", "Conv2d", "ConvTranspose2d",
           "MaxPool2d", "AvgPool2d", "Upsample2d", "BatchNorm1d", "BatchNorm2d", "GaussianNoise",
           "ActivityL1", "KLSparsity", "GaussianSample", "SkipConcat", "Quantize",
           "GaussianCorruption", "MaskingNoise", "SaltAndPepperNoise", "BlockMask",
           "leaves", "chain"]
