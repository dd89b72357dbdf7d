"""Shared fixtures: tiny IDX data sets written by the tests themselves, and a fixed seed."""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import make_images, write_idx_set  # noqa: F401  (re-exported for tests)

import pipeline  # noqa: F401  (the environment TensorFlow starts in, as at every entry point)


@pytest.fixture
def tiny_idx_dir(tmp_path: Path) -> Path:
    """A folder with a tiny synthetic IDX data set: 120 training and 40 test images."""
    return write_idx_set(tmp_path / "idx")


@pytest.fixture(scope="session")
def canonical_data_dir() -> Path:
    """The system's canonical Fashion-MNIST (the Debian package, which CI's image installs).

    Runs that must bless and push a model train on it: a model of synthetic data fails the golden set.
    """
    from data import fashion_mnist as fm

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


@dataclasses.dataclass
class CliRun:
    """A finished `fashion-tfx run --profile test` subprocess: its root and what it printed."""

    root: Path
    returncode: int
    stdout: str
    stderr: str
    tmp_dir: Path  # the run's TMPDIR, empty when it started


@pytest.fixture(scope="session")
def full_test_run(tmp_path_factory, canonical_data_dir) -> CliRun:
    """The whole pipeline once per session, by the console script, stdout and stderr piped (no terminal).

    Shared by the console test (what a person sees) and the notebook test (what is left to inspect).
    """
    base = tmp_path_factory.mktemp("full-test-run")
    # Canonical data: a model of synthetic data would fail the golden set, and nothing would be served.
    data, root, tmp_dir = canonical_data_dir, base / "root", base / "tmp"
    tmp_dir.mkdir()
    command = [str(Path(sys.executable).parent / "fashion-tfx"), "run", "--profile", "test"]
    process = subprocess.run(
        [*command, "--data-dir", str(data), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**{key: value for key, value in os.environ.items() if key != "TERM"}, "TMPDIR": str(tmp_dir)},
    )
    return CliRun(root, process.returncode, process.stdout, process.stderr, tmp_dir)


# Session fixtures that run the real pipeline: a test that uses one is in the `pipeline` tier.
PIPELINE_FIXTURES = frozenset({"full_test_run", "clean_runs"})


def pytest_collection_modifyitems(config, items) -> None:
    """Marks every test that uses a pipeline-running fixture `pipeline`, so the fast tier leaves it out.

    A test that runs the pipeline itself carries `@pytest.mark.pipeline` (or its module `pytestmark`).
    """
    for item in items:
        if PIPELINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.pipeline)
