"""Poisoned or foreign data is refused unless allowed, and then never blessed without the golden set.

Test-profile runs of the real CLI on the real LocalDagRunner: the canonical files with every label
shifted by one class (and one pixel changed in each image file), and synthetic images posing as
Fashion-MNIST, given through --data-dir or $FASHION_MNIST_DIR.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from support import run_cli, write_idx_set

from components.evaluator.golden_set_check import GOLDEN_SET_LIMITS, GOLDEN_SET_PROPERTY
from data import fashion_mnist as fm
from data.idx import IMAGES_MAGIC, LABELS_MAGIC, parse_idx, read_bytes, write_idx

# Imported before any test captures stderr: run_pipeline binds sys.stderr as a default at import time.
from pipeline import (
    local_runner,  # noqa: F401
)
from pipeline.metadata import component_runs, json_property


def _write_label_shifted_set(directory: Path) -> Path:
    """The four canonical files with every label +1 mod 10 and one pixel changed per image file."""
    source = fm.locate(None, allow_download=False)
    assert source.canonical, "these tests need the canonical Fashion-MNIST (dataset-fashion-mnist)"
    directory.mkdir()
    for images_name, labels_name in ((fm.TRAIN_IMAGES, fm.TRAIN_LABELS), (fm.TEST_IMAGES, fm.TEST_LABELS)):
        images = parse_idx(read_bytes(fm.file_path(source.directory, images_name)), IMAGES_MAGIC, images_name)
        labels = parse_idx(read_bytes(fm.file_path(source.directory, labels_name)), LABELS_MAGIC, labels_name)
        images = images.copy()
        images[0, 0, 0] ^= 1
        # Raw (not gzip) files: the reader takes both, and the fixture is written in a second.
        write_idx(directory / images_name, images, compress=False)
        write_idx(directory / labels_name, (labels + 1) % 10, compress=False)
    return directory


@pytest.fixture(scope="module")
def poisoned_sets(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("poisoned")
    return {
        "label-shifted": _write_label_shifted_set(base / "shifted"),
        "synthetic": write_idx_set(base / "synthetic"),
    }


def _published(root: Path) -> list[str]:
    """Everything a client or TF Serving could pick up under the serving root: version folders, staging."""
    base = root / "serving" / "fashion-tfx"
    return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


# (data set, how it is given, extra flags) -> (exit code, the line that must appear)
CASES = {
    "label-shifted via --data-dir": ("label-shifted", "argument", ()),
    "synthetic via FASHION_MNIST_DIR": ("synthetic", "environment", ()),
    "label-shifted via --data-dir, allowed": ("label-shifted", "argument", ("--allow-foreign-data",)),
    "synthetic via FASHION_MNIST_DIR, allowed": ("synthetic", "environment", ("--allow-foreign-data",)),
}


def _argv(case, poisoned_sets, root, monkeypatch) -> list[str]:
    data, given, flags = CASES[case]
    argv = ["run", "--profile", "test", "--root", str(root), *flags]
    if given == "argument":
        return [*argv, "--data-dir", str(poisoned_sets[data])]
    monkeypatch.setenv(fm.DATA_DIR_ENV, str(poisoned_sets[data]))
    return argv


@pytest.mark.parametrize("case", [c for c in CASES if not CASES[c][2]])
def test_foreign_data_is_refused_in_one_line_before_any_work(
    case, poisoned_sets, tmp_path, monkeypatch, capsys
):
    root = tmp_path / "root"
    code, out, err = run_cli(_argv(case, poisoned_sets, root, monkeypatch), capsys)
    where = "--data-dir" if CASES[case][1] == "argument" else re.escape("$FASHION_MNIST_DIR")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert re.fullmatch(
        rf"fashion-tfx: error: .* \(from {where}\) is not the canonical Fashion-MNIST: .*"
        r"pass --allow-foreign-data to train on it anyway.*",
        lines[0],
    ), lines[0]
    assert "Traceback" not in err and out == ""
    assert not (root / "metadata.sqlite").exists() and not (root / "pipeline").exists()
    assert _published(root) == []


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][2]])
@pytest.mark.pipeline
def test_allowed_foreign_data_is_said_loudly_and_not_blessed(
    case, poisoned_sets, tmp_path, monkeypatch, capsys
):
    root = tmp_path / "root"
    code, out, err = run_cli(_argv(case, poisoned_sets, root, monkeypatch), capsys)
    assert code == 0, err[-3000:]
    data_dir = poisoned_sets[CASES[case][0]]
    # The run header and the summary both say it.
    assert f"fashion-tfx: data: FOREIGN data from {data_dir}: NOT the canonical Fashion-MNIST" in err
    assert "fashion-tfx: WARNING: training on FOREIGN data" in err
    # The semantic check names what a checksum cannot: which classes look like which.
    shifted_hint = (
        "10 of 10 classes look like another canonical class (0 T-shirt/top looks like 9 Ankle boot;"
    )
    if CASES[case][0] == "label-shifted":
        assert f"fashion-tfx: WARNING: {shifted_hint}" in err
    else:
        assert re.search(r"fashion-tfx: WARNING: \d+ of 10 classes look like another canonical class", err)
    assert f"  WARNING: trained on FOREIGN data from {data_dir}" in out
    # The golden set is what refuses the model.
    verdict = re.search(
        r"Golden set: accuracy (\S+) on 1,000 canonical test images \(SHA-256 verified\), floor 0\.3: "
        r"FAILED, so NOT blessed",
        out,
    )
    assert verdict and float(verdict.group(1)) < 0.3, out
    # What the check cannot catch is said beside its verdict, not only in the docs.
    assert f"FAILED, so NOT blessed; {GOLDEN_SET_LIMITS}" in out
    assert re.search(r"test accuracy: \S+ on \d+ images; NOT blessed", out), out
    assert "not pushed: only blessed models ship" in out
    runs = {r.node_id: r for r in component_runs(root / "metadata.sqlite")}
    examples = runs["IdxExampleGen"].outputs["examples"][0][1]
    assert examples["data_provenance"] == "foreign" and examples["data_dir"] == str(data_dir)
    blessing = runs["Evaluator"].outputs["blessing"][0][1]
    assert blessing["blessed"] == 0
    check = json_property(runs["Evaluator"], "blessing", GOLDEN_SET_PROPERTY)
    assert check["passed"] is False and check["training_data"] == "foreign"
    assert runs["Pusher"].outputs["pushed_model"][0][1]["pushed"] == 0
    assert _published(root) == []
    if CASES[case][0] == "label-shifted":
        # On its own (poisoned) test split the model passes: only the golden set catches it.
        report = json_property(runs["EvaluationReport"], "report", "summary")
        assert report["accuracy"] >= 0.3 and report["validation_failures"] == [], report


def test_without_any_trusted_copy_the_run_is_refused_before_any_work(poisoned_sets, tmp_path, capsys):
    # Nowhere to find the canonical test files (the foreign data is tried too, and fails its digest).
    nowhere = [tmp_path / "no-debian", tmp_path / "no-cache"]
    root = tmp_path / "root"
    argv = ["run", "--profile", "test", "--root", str(root), "--allow-foreign-data"]
    code, _, err = run_cli(
        [*argv, "--data-dir", str(poisoned_sets["synthetic"])], capsys, golden_installed=nowhere
    )
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("fashion-tfx: error: no trusted golden set: ") and "no-cache" in lines[0]
    assert "no model can be blessed" in lines[0]
    assert not (root / "metadata.sqlite").exists()


def test_the_golden_set_check_fails_closed_without_a_golden_set(tmp_path):
    from components.evaluator.eval_config import accuracy_floor, largest_accuracy_drop, make_eval_config
    from components.evaluator.golden_set_check import golden_set_check

    assert accuracy_floor(make_eval_config(0.85, 0.0)) == pytest.approx(0.85)
    assert largest_accuracy_drop(make_eval_config(0.85, 0.02)) == pytest.approx(0.02)
    verdict = golden_set_check(str(tmp_path / "no-model"), 0.85, [str(tmp_path)], installed=[])
    assert verdict["passed"] is False and verdict["reason"].startswith("no trusted golden set")
    assert golden_set_check(str(tmp_path), None, [])["passed"] is False
    json.dumps(verdict)  # recorded on the blessing as JSON
    assert np.isfinite(verdict["floor"])
