"""Layers: each a small class with forward, then backward (see base.Layer for the protocol)."""
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .base import Layer
from .container import Sequential
from .conv import Conv2d, ConvTranspose2d
from .dense import Dense, DenseTied
from .noise import Dropout, GaussianNoise
from .normalization import BatchNorm1d, BatchNorm2d
from .pooling import AvgPool2d, MaxPool2d, Upsample2d
from .shape import Flatten, Reshape

__all__ = ["Layer", "Dense", "DenseTied", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Identity",
           "Flatten", "Reshape", "Dropout", "Sequential", "Conv2d", "ConvTranspose2d",
           "MaxPool2d", "AvgPool2d", "Upsample2d", "BatchNorm1d", "BatchNorm2d", "GaussianNoise"]
