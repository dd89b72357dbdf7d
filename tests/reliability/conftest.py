"""Shared by the reliability tests: one tiny data set, and two clean runs made at the same time."""

from __future__ import annotations

import dataclasses
import subprocess
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


@pytest.fixture
def mount_tmpfs(tmp_path):
    """Returns a function that mounts a real tmpfs of a given size (`1m`, `80m`) and returns its folder.

    The tests run as root in this project's CI container, where `mount` works; each mount is undone at
    teardown.
    """
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        mount_point = tmp_path / f"disk-{len(mounted)}"
        mount_point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)], check=True)
        mounted.append(mount_point)
        return mount_point

    yield mount
    for mount_point in mounted:
        subprocess.run(["umount", str(mount_point)], check=True)
