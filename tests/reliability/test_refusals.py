"""Hostile input at the pipeline's edges (flags, roots, data, stores, packages): one early line, nothing left.

Every probe runs the real command in a fresh process, as a user would, and must answer with exactly one
`error:` line on stderr, the right exit code, no traceback, nothing created or changed under the root,
and within a few seconds: refusals come before TensorFlow is imported (checked in the process itself).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import write_idx_set

from data import fashion_mnist as fm
from data.idx import write_idx

REPO = Path(__file__).resolve().parents[2]
# Runs a module's `main` and reports, on stdout, whether TensorFlow was imported by the time it answered.
WRAPPER = """
import importlib, json, sys
module, argv = sys.argv[1], sys.argv[2:]
try:
    code = importlib.import_module(module).main(argv)
except SystemExit as exit_:
    code = exit_.code
print(json.dumps({"tensorflow": "tensorflow" in sys.modules}))
sys.exit(code)
"""
# A refusal answers in about a second here; a run that imported TensorFlow first took 11-50 s.
SECONDS_BOUND = 8.0


@dataclasses.dataclass(frozen=True)
class Probe:
    """One hostile invocation.

    Attributes:
        argv: the arguments; `{root}`, `{data}`, `{tmp}` are filled in.
        message: a substring of the one error line.
        setup: prepares the probe's files under the test's folder (given it and the data folder).
        module: the entry point (`pipeline.cli` is `fashion-tfx`).
        exit_code: the expected exit code.
        prefix: how the error line starts.
        tensorflow_free: the refusal must come before TensorFlow is imported.
    """

    argv: tuple[str, ...]
    message: str
    setup: Callable[[Path, Path], None] = lambda tmp, data: None
    module: str = "pipeline.cli"
    exit_code: int = 2
    prefix: str = "fashion-tfx: error: "
    tensorflow_free: bool = True


RUN = ("run", "--profile", "test", "--data-dir", "{data}", "--root", "{root}", "--allow-foreign-data")


def _run(*extra: str, data: str = "{data}", allow_foreign: bool = True) -> tuple[str, ...]:
    argv = ["run", "--profile", "test", "--data-dir", data, "--root", "{root}", *extra]
    return tuple(argv + (["--allow-foreign-data"] if allow_foreign else []))


def _published_version(tmp: Path, data: Path) -> None:
    version = tmp / "root-parent" / "serving" / "fashion-tfx" / "1700000000"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"graph")


def _under_root(relative: str, kind: str) -> Callable[[Path, Path], None]:
    def setup(tmp: Path, data: Path) -> None:
        path = tmp / "root" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "folder":
            path.mkdir()
        else:
            path.write_bytes(b"not what it should be")

    return setup


def _other_programs_sqlite(tmp: Path, data: Path) -> None:
    (tmp / "root").mkdir()
    connection = sqlite3.connect(tmp / "root" / "metadata.sqlite")
    connection.execute("CREATE TABLE notes (id INTEGER)")
    connection.commit()
    connection.close()


def _garbage_store(tmp: Path, data: Path) -> None:
    (tmp / "root").mkdir()
    (tmp / "root" / "metadata.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 3000)


def _partly_canonical(tmp: Path, data: Path) -> None:
    """The canonical set with its training labels replaced: three files match, one does not."""
    canonical = fm.locate(None, allow_download=False).directory
    for name in fm.FILES:
        shutil.copy(fm.file_path(canonical, name), data / fm.file_path(canonical, name).name)
    labels = fm.read_contents(canonical)[fm.TRAIN_LABELS]
    (data / f"{fm.TRAIN_LABELS}.gz").unlink(missing_ok=True)
    (data / fm.TRAIN_LABELS).unlink(missing_ok=True)
    import numpy as np

    write_idx(data / f"{fm.TRAIN_LABELS}.gz", (np.frombuffer(labels, np.uint8, offset=8) + 1) % 10)


def _empty_test_split(tmp: Path, data: Path) -> None:
    import numpy as np

    write_idx(data / f"{fm.TEST_IMAGES}.gz", np.zeros((0, 28, 28), np.uint8))
    write_idx(data / f"{fm.TEST_LABELS}.gz", np.zeros((0,), np.uint8))


def _binary_package(tmp: Path, data: Path) -> None:
    (tmp / "package.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")


def _not_a_spec(tmp: Path, data: Path) -> None:
    (tmp / "package.yaml").write_text("key: [unclosed\n")


def _lineage(message: str, setup: Callable[[Path, Path], None]) -> Probe:
    """`python -m pipeline.lineage --root ROOT` (it reads ML Metadata, so it loads TensorFlow first)."""
    return Probe(
        ("--root", "{root}"),
        message,
        setup=setup,
        module="pipeline.lineage",
        prefix="lineage: error: ",
        tensorflow_free=False,
    )


PROBES = {
    # Numbers in ASCII digits only: int() and float() read other scripts' digits.
    "image size in Arabic-Indic digits": Probe(
        _run("--image-size", "٣٢"), "argument --image-size: not a whole number in ASCII digits: '٣٢'"
    ),
    "seed in full-width digits": Probe(
        _run("--seed", "４２"), "argument --seed: not a whole number in ASCII"
    ),
    "accuracy drop nan": Probe(
        _run("--max-accuracy-drop", "nan"), "argument --max-accuracy-drop: not a decimal"
    ),
    "accuracy drop in full-width digits": Probe(_run("--max-accuracy-drop", "０.５"), "not a decimal number"),
    "kubeflow seed in Arabic-Indic digits": Probe(
        ("kubeflow", "compile", "--image", "x:1", "--pipeline-root", "gs://b/r", "--seed", "٤٢"),
        "argument --seed: not a whole number in ASCII digits",
    ),
    # Paths that name nothing, or the wrong kind of thing.
    "empty data dir": Probe(_run(data=""), "--data-dir is empty (''): name the folder"),
    "bucket root without a bucket": Probe(
        ("run", "--root", "gs://"), "root 'gs://' names no bucket: write gs://BUCKET or gs://BUCKET/FOLDER"
    ),
    "root is a file": Probe(
        ("run", "--profile", "test", "--root", "/etc/passwd"),
        "output root /etc/passwd is not writable: it is a file",
    ),
    "root under a file": Probe(
        ("run", "--profile", "test", "--root", "/etc/passwd/runs"), "/etc/passwd is a file, not a folder"
    ),
    "root inside a published model version": Probe(
        tuple(a.replace("{root}", "{tmp}/root-parent/serving/fashion-tfx/1700000000/run") for a in RUN),
        "is inside the model folder",
        setup=_published_version,
    ),
    "run lock is a folder": Probe(
        RUN, ".run.lock is a folder, not a file", setup=_under_root(".run.lock", "folder")
    ),
    "logs is a file": Probe(RUN, "logs is a file, not a folder", setup=_under_root("logs", "file")),
    "metadata store is a folder": Probe(
        RUN, "metadata.sqlite is a folder, not a file", setup=_under_root("metadata.sqlite", "folder")
    ),
    "metadata store is another program's SQLite": Probe(
        RUN,
        "is an SQLite database but not an ML Metadata store (its tables: notes)",
        setup=_other_programs_sqlite,
    ),
    "metadata store is damaged": Probe(RUN, "metadata.sqlite is damaged: SQLite", setup=_garbage_store),
    # Data refusals: before TensorFlow, before the root exists.
    "foreign data not allowed": Probe(_run(allow_foreign=False), "is not the canonical Fashion-MNIST"),
    "partly canonical data with the foreign flag": Probe(
        RUN, "--allow-foreign-data cannot help: 3 of the four files match", setup=_partly_canonical
    ),
    "empty test split": Probe(RUN, "hold no image: the test split would be empty", setup=_empty_test_split),
    # Other entry points.
    "lineage of a damaged store": _lineage("metadata.sqlite is damaged", _garbage_store),
    "lineage of another program's SQLite": _lineage("not an ML Metadata store", _other_programs_sqlite),
    "lineage of a store that is a folder": _lineage(
        "metadata.sqlite is a folder, not a file", _under_root("metadata.sqlite", "folder")
    ),
    "kubeflow package that is binary": Probe(
        ("kubeflow", "submit", "--host", "http://127.0.0.1:9", "--package", "{tmp}/package.yaml"),
        "package.yaml is not a YAML file (not UTF-8 text: byte 0 is 0x89)",
        setup=_binary_package,
    ),
    "kubeflow package that is broken YAML": Probe(
        ("kubeflow", "submit", "--host", "http://127.0.0.1:9", "--package", "{tmp}/package.yaml"),
        "package.yaml is not YAML: ",
        setup=_not_a_spec,
    ),
}


def _tree(folder: Path) -> dict[str, bytes | None]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


@pytest.mark.parametrize("name", sorted(PROBES))
def test_a_refusal_is_one_early_line_and_leaves_nothing(name, tmp_path):
    probe = PROBES[name]
    data = write_idx_set(tmp_path / "idx")
    probe.setup(tmp_path, data)
    root = tmp_path / "root"
    before = {path: _tree(path) for path in (root, tmp_path / "root-parent")}
    argv = [a.format(root=root, data=data, tmp=tmp_path) for a in probe.argv]

    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-c", WRAPPER, probe.module, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.monotonic() - started

    assert process.returncode == probe.exit_code, process.stderr
    lines = process.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(probe.prefix), process.stderr
    assert probe.message in lines[0], lines[0]
    assert "Traceback" not in process.stderr
    if probe.tensorflow_free:
        assert json.loads(process.stdout) == {"tensorflow": False}, "refused only after importing TensorFlow"
        assert seconds < SECONDS_BOUND, f"refusal took {seconds:.1f}s"
    # Nothing created, nothing changed: no root folder, no probe file, no log, no store.
    assert {path: _tree(path) for path in before} == before
