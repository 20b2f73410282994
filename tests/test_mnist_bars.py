"""The quality bars on real MNIST, with the issues' exact setups (skipped without the files).

These train for real (about 10 s and 1 min on 2 cores) and check the test MSE per pixel,
not the time: speed is measured by the scripts in benchmarks/.
"""
import numpy as np
import pytest

from tinyae import datasets, evaluate, fit, models, optim

pytestmark = pytest.mark.slow


def mnist_or_skip(data_dir):
    return (np.array(datasets.mnist("train", data_dir=data_dir, download=False)[0]),
            np.array(datasets.mnist("test", data_dir=data_dir, download=False)[0]))


def test_dense_5_epochs_adam_batch_256_reaches_test_mse_0_0040(data_dir):
    x_train, x_test = mnist_or_skip(data_dir)
    model = models.build("dense", seed=0)
    fit(model, x_train, optimizer=optim.Adam(model.parameters(), lr=1e-3), epochs=5, batch_size=256, verbose=0)
    assert evaluate(model, x_test) <= 0.0040


def test_conv_2_epochs_adam_batch_64_reaches_test_mse_0_0025(data_dir):
    x_train, x_test = mnist_or_skip(data_dir)
    model = models.build("conv", seed=0)
    fit(model, x_train, optimizer=optim.Adam(model.parameters(), lr=1e-3), epochs=2, batch_size=64, verbose=0)
    assert evaluate(model, x_test) <= 0.0025
