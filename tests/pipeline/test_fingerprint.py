"""Cache keys follow the code: each custom step's fingerprint covers the code that makes its output."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from support import run_python

from pipeline.config import CHECKOUT_SETUP_FILE
from pipeline.fingerprint import (
    MODEL_CODE,
    PROJECT_PACKAGES,
    REPORT_CODE,
    UPSCALER_CODE,
    code_fingerprint,
    source_files,
)

REPO = Path(__file__).resolve().parents[2]


def _relative(roots: tuple[str, ...]) -> set[str]:
    return {path.relative_to(REPO).as_posix() for path in source_files(roots)}


def test_fingerprint_changes_with_the_source(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("x = 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        before = code_fingerprint(("pkg",))
        (package / "a.py").write_text("x = 2\n")
        assert code_fingerprint(("pkg",)) != before
    finally:
        sys.path.remove(str(tmp_path))


def test_model_code_covers_what_the_export_embeds_and_not_reports_or_downloads():
    model = _relative(MODEL_CODE)
    # The in-graph resize, the class names, the serving contract and the warm-up examples.
    assert {"models/trainer.py", "data/resize.py", "data/classes.py", "serving/signatures.py"} <= model
    assert "data/examples.py" in model
    assert {p for p in model if p.startswith("components/")} <= {
        "components/__init__.py",
        "components/tuner/__init__.py",
        "components/tuner/component.py",
        "components/tuner/executor.py",
    }
    assert "data/fashion_mnist.py" not in model  # the download code


def test_upscaler_code_covers_the_resize_and_not_the_model_or_the_report():
    upscaler = _relative(UPSCALER_CODE)
    assert {"components/upscaler/beam_upscale.py", "data/resize.py"} <= upscaler
    assert not {p for p in upscaler if p.startswith(("models/", "components/evaluation_report/"))}
    assert "components/evaluation_report/report.py" in _relative(REPORT_CODE)


# Runs the factory's data stage (ExampleGen to ImageUpscaler) from the code folder on PYTHONPATH and
# prints each step's state, and which folder the code came from.
RUN_DATA_STAGE = """
import json, os, sys
import pipeline
from pipeline import nodes
from pipeline.config import make_config
from pipeline.local_runner import run_pipeline

config = make_config("test", sys.argv[1], data_dir=sys.argv[2], image_size=32, allow_foreign_data=True)
result = run_pipeline(config, stream=open(os.devnull, "w"), stop_after=nodes.UPSCALER)
assert result.ok, result.error
print(json.dumps({"code": os.path.dirname(os.path.dirname(pipeline.__file__)),
                  "states": {c.node_id: c.state for c in result.components}}))
"""


def _copy_of_the_code(destination: Path) -> Path:
    destination.mkdir()
    for name in PROJECT_PACKAGES:
        shutil.copytree(REPO / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "fashion_tfx_artifacts.py", destination)
    # A checkout has its setup.py, which the runs name as the Beam steps' dependency (or TFX builds its own).
    shutil.copy(CHECKOUT_SETUP_FILE, destination)
    return destination


def _run_data_stage(code: Path, root: Path, data_dir: Path) -> dict[str, str]:
    process = run_python(RUN_DATA_STAGE, str(root), str(data_dir), cwd=code, pythonpath=code)
    assert process.returncode == 0, process.stderr[-3000:]
    answer = json.loads(process.stdout.strip().splitlines()[-1])
    assert Path(answer["code"]) == code  # the copy ran, not the checkout
    return answer["states"]


@pytest.mark.pipeline
def test_editing_the_resize_reruns_the_upscaler_and_editing_a_report_does_not(tmp_path, tiny_idx_dir):
    code = _copy_of_the_code(tmp_path / "code")
    root = tmp_path / "root"
    first = _run_data_stage(code, root, tiny_idx_dir)
    assert first["ImageUpscaler"] == "executed"

    # A change to how the evaluation report draws: not the upscaler's code, so its output is reused.
    report = code / "components" / "evaluation_report" / "report.py"
    report.write_text(report.read_text() + "\n# drawn differently\n")
    second = _run_data_stage(code, root, tiny_idx_dir)
    assert second["ImageUpscaler"] == "cached" and second["IdxExampleGen"] == "cached"

    # A change to the resize: the upscaled examples must be made again (the model would otherwise
    # train on the old upscale and serve the new one).
    resize = code / "data" / "resize.py"
    resize.write_text(resize.read_text() + "\n# resized differently\n")
    third = _run_data_stage(code, root, tiny_idx_dir)
    assert third["ImageUpscaler"] == "executed" and third["IdxExampleGen"] == "cached"


def test_a_report_edit_leaves_the_model_fingerprint_and_a_resize_edit_changes_it(tmp_path):
    code = _copy_of_the_code(tmp_path / "code")
    script = (
        "import json; from pipeline.fingerprint import *; "
        "print(json.dumps([code_fingerprint(r) for r in (MODEL_CODE, UPSCALER_CODE, REPORT_CODE)]))"
    )

    def fingerprints() -> list[str]:
        process = run_python(script, cwd=code, pythonpath=code)
        assert process.returncode == 0, process.stderr[-3000:]
        return json.loads(process.stdout)

    model, upscaler, report = fingerprints()
    drawing = code / "components" / "evaluation_report" / "report.py"
    drawing.write_text(drawing.read_text() + "\n# drawn differently\n")
    after_report = fingerprints()
    assert (
        after_report[:2] == [model, upscaler] and after_report[2] != report
    )  # the report reruns, not training
    resize = code / "data" / "resize.py"
    resize.write_text(resize.read_text() + "\n# resized differently\n")
    after_resize = fingerprints()
    assert after_resize[0] != model and after_resize[1] != upscaler
