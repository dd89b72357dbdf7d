"""Shared fixtures: tiny IDX data sets written by the tests themselves, and a fixed seed."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from support import make_images, write_idx_set  # noqa: E402,F401  (re-exported for tests)


@pytest.fixture
def tiny_idx_dir(tmp_path: Path) -> Path:
    """A folder with a tiny synthetic IDX data set: 120 training and 40 test images."""
    return write_idx_set(tmp_path / "idx")


@pytest.fixture(scope="session")
def canonical_data_dir() -> Path:
    """The system's canonical Fashion-MNIST (the Debian package, which CI's image installs).

    Runs that must bless and push a model train on it: a model of synthetic data fails the golden set.
    """
    from fashion_tfx.data import fashion_mnist as fm

    location = fm.locate(None, allow_download=False)
    assert location.canonical, "these tests need the canonical Fashion-MNIST (dataset-fashion-mnist)"
    return location.directory


@pytest.fixture
def seed() -> int:
    """Seeds Python, NumPy and TensorFlow for tests where randomness matters."""
    value = 1234
    random.seed(value)
    np.random.seed(value)
    import tensorflow as tf

    tf.random.set_seed(value)
    return value


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A real serving export (Transform graph, small CNN, warm-up records) of the `test` profile's size."""
    from tiny_export import export_tiny_model

    return export_tiny_model(tmp_path_factory.mktemp("tiny_export"))
