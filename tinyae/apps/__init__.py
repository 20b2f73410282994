"""Uses of a trained autoencoder: its codes for recognition (probe) and its errors for anomaly detection.

Apps are thin: they take a trained model (anything with ``encode``/``reconstruct``, a PCA
included, so that the baseline runs through the same code) and data, and return numbers;
they train with tinyae's own ``fit`` and hold no training tricks of their own.
"""
from . import anomaly, probe

__all__ = ["anomaly", "probe"]
