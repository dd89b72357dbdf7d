"""Helpers shared by the tests: tiny synthetic IDX data sets the tests write, and setup.py's arguments."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np

from data import fashion_mnist as fm
from data.idx import write_idx

REPO = Path(__file__).resolve().parent.parent
NUM_CLASSES = 10
# Written out here, not imported, so tests check the code's class names against the data set's.
FASHION_CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def make_images(
    count: int, seed: int, size: int = 28, contrast: int = 180, noise: int = 60, shuffle: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Returns `count` uint8 images with a class-dependent pattern (so a model can learn them) and labels.

    Each is stripes of `contrast` grey levels, whose direction and period depend on the label, plus
    uniform noise below `noise`; labels cycle through the classes, shuffled unless `shuffle` is False.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % NUM_CLASSES
    if shuffle:
        rng.shuffle(labels)
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.empty((count, size, size), dtype=np.uint8)
    for n, label in enumerate(labels):
        stripes = ((xx * (label + 1) // size + yy * (label % 3)) % 2) * contrast
        images[n] = np.clip(stripes + rng.integers(0, noise, size=(size, size)), 0, 255)
    return images, labels.astype(np.uint8)


def write_idx_set(directory: Path, train: int = 120, test: int = 40, seed: int = 0) -> Path:
    """Writes the four IDX files (gzip) of a tiny synthetic data set into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = make_images(train, seed)
    test_images, test_labels = make_images(test, seed + 1)
    write_idx(directory / f"{fm.TRAIN_IMAGES}.gz", train_images)
    write_idx(directory / f"{fm.TRAIN_LABELS}.gz", train_labels)
    write_idx(directory / f"{fm.TEST_IMAGES}.gz", test_images)
    write_idx(directory / f"{fm.TEST_LABELS}.gz", test_labels)
    return directory


def run_cli(argv: list[str], capsys, **main_arguments) -> tuple[int, str, str]:
    """Runs `fashion-tfx` in-process; returns its exit code (argparse's too) and what it printed.

    `main_arguments` go to `pipeline.cli.main` beside `argv` (e.g. `golden_installed`).
    """
    from pipeline import cli

    try:
        code = cli.main(argv, **main_arguments)
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def setup_arguments() -> dict:
    """The keyword arguments setup.py passes to `setup()` (run from the repo root, `setup()` captured)."""
    import setuptools

    captured: dict = {}
    previous, saved_setup = Path.cwd(), setuptools.setup
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    os.chdir(REPO)
    try:
        runpy.run_path(str(REPO / "setup.py"))
    finally:
        setuptools.setup = saved_setup
        os.chdir(previous)
    return captured


def run_python(
    script: str, *args: str, cwd: Path, pythonpath: Path | None = None
) -> subprocess.CompletedProcess:
    """Runs `python -c script args...` in a fresh interpreter (of this venv), its output captured.

    Args:
        script: the program's text.
        *args: its arguments.
        cwd: its working folder.
        pythonpath: a folder put first on its import path (e.g. a copy of the project's code).
    """
    env = dict(os.environ, **({"PYTHONPATH": str(pythonpath)} if pythonpath else {}))
    command = [sys.executable, "-c", script, *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def environment_with(name: str, value: str | None) -> dict[str, str]:
    """This process's environment with `name` set to `value`, or without it when `value` is None."""
    environment = {key: item for key, item in os.environ.items() if key != name}
    if value is not None:
        environment[name] = value
    return environment
