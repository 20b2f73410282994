"""Layers: each a small class with forward, then backward (see base.Layer for the protocol)."""
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .base import Layer
from .container import Sequential
from .dense import Dense, DenseTied
from .noise import Dropout
from .shape import Flatten, Reshape

__all__ = ["Layer", "Dense", "DenseTied", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Identity",
           "Flatten", "Reshape", "Dropout", "Sequential"]
