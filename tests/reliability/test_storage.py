"""A full output root (a real, tiny tmpfs) is refused with a clear error before any work starts."""

from __future__ import annotations

import subprocess

import pytest

from pipeline import cli
from pipeline.local_runner import StorageError, check_writable


@pytest.fixture
def tiny_disk(mount_tmpfs):
    """A real 1 MB tmpfs."""
    return mount_tmpfs("1m")


def test_nearly_full_disk_is_refused_before_any_work(tiny_disk, tiny_idx_dir, capsys):
    root = tiny_disk / "root"
    argv = [
        "run",
        "--profile",
        "test",
        "--data-dir",
        str(tiny_idx_dir),
        "--root",
        str(root),
        "--allow-foreign-data",
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fashion-tfx: error: output root {root} is not writable: disk full (")
    assert "a run needs at least 64 MB" in err
    assert not root.exists()  # no root folder, no ML Metadata, no artifacts, no probe file left behind


def test_no_space_left_at_all_is_reported_as_disk_full(tiny_disk):
    with open(tiny_disk / "filler", "wb") as filler, pytest.raises(OSError, match="No space left"):
        while True:
            filler.write(b"\0" * 65536)
            filler.flush()
    with pytest.raises(StorageError, match=r"output root .*/disk-0/root is not writable: disk full$"):
        check_writable(tiny_disk / "root", min_free_bytes=0)
    assert [p.name for p in (tiny_disk / "root").iterdir()] == []


def test_a_read_only_serving_folder_is_refused_before_any_work(tmp_path, tiny_idx_dir, capsys):
    """A real read-only mount where the Pusher would publish: refused at the start, not after training."""
    root = tmp_path / "root"
    serving = root / "serving"
    serving.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(serving)], check=True)
    try:
        argv = ["run", "--profile", "test", "--data-dir", str(tiny_idx_dir), "--root", str(root)]
        assert cli.main([*argv, "--allow-foreign-data"]) == 2
        err = capsys.readouterr().err
        assert f"output root {serving} is not writable: Read-only file system" in err, err
        assert sorted(p.name for p in root.iterdir()) == ["serving"]  # nothing else was written
    finally:
        subprocess.run(["umount", str(serving)], check=True)
