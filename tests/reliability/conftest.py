"""Shared by the reliability tests: one tiny data set, and two clean runs made at the same time."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from reliability.runs import start_run
from support import write_idx_set


@dataclasses.dataclass
class CleanRun:
    """A finished `fashion-tfx run --profile test` subprocess and what it printed."""

    root: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def metadata_path(self) -> Path:
        return self.root / "metadata.sqlite"


@pytest.fixture(scope="session")
def reliability_data(tmp_path_factory) -> Path:
    """A tiny synthetic IDX set (120 training, 40 test images) shared by the session's runs."""
    return write_idx_set(tmp_path_factory.mktemp("reliability") / "idx")


@pytest.fixture(scope="session")
def clean_runs(reliability_data, tmp_path_factory) -> tuple[CleanRun, CleanRun]:
    """Two clean runs on the same data and seed, in different roots, started together (so they overlap)."""
    base = tmp_path_factory.mktemp("clean")
    processes = [(base / name, start_run(reliability_data, base / name)) for name in ("a", "b")]
    runs = []
    for root, process in processes:
        stdout, stderr = process.communicate(timeout=900)
        runs.append(CleanRun(root, process.returncode, stdout, stderr))
    return runs[0], runs[1]
