"""Checks shared by the bucket-root tests (`gs://` and `s3://`): what a run may leave on local disk."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pipeline import cli

# Libraries keep their own caches and settings in the home folder (matplotlib's font list, Keras'
# config): those are not the run's output.
LIBRARY_FOLDERS = (".cache/", ".keras/", ".config/")


def run_from_empty_folder(
    command: list[str], base: Path, environment: dict[str, str]
) -> tuple[subprocess.CompletedProcess, Path, Path]:
    """Runs `command` from an empty working folder with its own empty home folder, both under `base`.

    Returns:
        (the finished process, its working folder, its home folder).
    """
    work, home = base / "work", base / "home"
    work.mkdir()
    home.mkdir()
    env = {**os.environ, **environment, "HOME": str(home), "PYTHONUNBUFFERED": "1"}
    process = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    return process, work, home


def outputs_without_objects(runs, root: str, objects: dict[str, int]) -> set[str]:
    """Asserts that every output artifact lies under `<root>/pipeline/<node>/`; returns the empty ones.

    Args:
        runs: the ComponentRuns read back from ML Metadata.
        root: the run's bucket root (`gs://bucket/path`, `s3://bucket/path`).
        objects: object name -> size in that bucket.

    Returns:
        `Node.output` names of the artifacts under which the bucket holds nothing.
    """
    uri_prefix = "/".join(root.split("/", 3)[:3]) + "/"  # `scheme://bucket/`
    empty = set()
    for run in runs:
        for key, artifacts in run.outputs.items():
            for uri, _ in artifacts:
                assert uri.startswith(f"{root}/pipeline/{run.node_id}/"), (run.node_id, key, uri)
                prefix = uri[len(uri_prefix) :] + "/"
                if not any(name.startswith(prefix) for name in objects):
                    empty.add(f"{run.node_id}.{key}")
    return empty


def assert_output_holds(runs, objects: dict[str, int], node: str, output: str, *parts: str) -> None:
    """Asserts that the bucket holds, under `node`'s `output` artifact, an object naming each of `parts`."""
    run = next(r for r in runs if r.node_id == node)
    uri = run.outputs[output][0][0]
    key = uri.split("/", 3)[3]  # the object prefix, after `scheme://bucket/`
    for part in parts:
        assert any(n.startswith(key) and part in n[len(key) :] for n in objects), f"{node}: no {part}"


def state_folder(home: Path, root: str) -> Path:
    """The local folder of a bucket root's ML Metadata, lock and logs (`PipelineConfig.state_dir`)."""
    return home / ".local" / "state" / "fashion-tfx" / root.replace("://", "/", 1)


def assert_only_run_state_is_local(work: Path, home: Path, root: str) -> None:
    """Asserts that a bucket run left nothing locally but ML Metadata, the run lock and one log."""
    assert sorted(p.name for p in work.iterdir()) == []
    state = state_folder(home, root)
    local = sorted(
        str(p.relative_to(home))
        for p in home.rglob("*")
        if p.is_file() and not str(p.relative_to(home)).startswith(LIBRARY_FOLDERS)
    )
    logs = [name for name in local if name.startswith(str((state / "logs").relative_to(home)) + "/run-")]
    assert len(logs) == 1 and logs[0].endswith(".log"), local
    expected = [str((state / n).relative_to(home)) for n in (".run.lock", "metadata.sqlite")]
    assert sorted(set(local) - set(logs)) == expected


def local_paths_named(prefix: str, *folders: Path) -> list[str]:
    """Returns the files and folders under `folders` whose names start with `prefix` (e.g. `gs:`)."""
    found = []
    for folder in folders:
        for current, dirs, files in os.walk(folder):
            found += [os.path.join(current, n) for n in dirs + files if n.startswith(prefix)]
    return found


def run_on_root(root: str, data_dir, tmp_path: Path, monkeypatch, capsys) -> tuple[int, list[str]]:
    """Runs `fashion-tfx run --profile test --root ROOT` in-process; returns (exit code, stderr lines)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    code = cli.main(["run", "--profile", "test", "--data-dir", str(data_dir), "--root", root])
    return code, capsys.readouterr().err.strip().splitlines()


def assert_nothing_written_locally(tmp_path: Path) -> None:
    """Asserts that a refused run left only the test's data and a home folder, and no run state."""
    assert sorted(p.name for p in tmp_path.iterdir()) in (["idx"], ["home", "idx"])
    assert not (tmp_path / "home" / ".local" / "state" / "fashion-tfx").exists()
