"""The notebook walkthrough runs, headless, against a real `test`-profile run: it cannot rot unseen."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

# Runs the real pipeline: outside the fast tier (`make test-fast`).
pytestmark = pytest.mark.pipeline

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "walkthrough.ipynb"


def test_walkthrough_executes_against_a_test_run(full_test_run, monkeypatch):
    assert full_test_run.returncode == 0, full_test_run.stderr[-3000:]
    monkeypatch.setenv("FASHION_TFX_ROOT", str(full_test_run.root))
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # the notebook quiets TensorFlow itself
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # The project's own kernel: jupyter_client starts "python3" with this interpreter (the venv's).
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails

    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    images = sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert images == 3  # fidelity grid, trials, training curves
    # Only answers: no TensorFlow start-up line, CUDA probe or library warning in any cell.
    noise = [
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("name") == "stderr"
    ]
    assert not noise, noise
    # TFDV's statistics (Facets) and anomalies views, as HTML.
    html = "".join(
        output.get("data", {}).get("text/html", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "facets-overview" in html
    assert "train: " in printed and " anomalies" in printed
    assert "ImageUpscaler" in printed and "executed" in printed
    assert "restored epoch" in printed and "epoch_accuracy" in printed
    assert "blessed: True" in printed
    assert f": {full_test_run.root / 'serving' / 'fashion-tfx'}/" in printed and "served version " in printed
    assert "code fingerprint: " in printed and "code fingerprint: None" not in printed
