"""The evaluation report's rendering, without TFMA: Markdown table and confusion-matrix picture."""

from __future__ import annotations

import cv2
import numpy as np

from fashion_tfx.components.evaluation_report.report import plot_confusion_matrix, render_markdown
from fashion_tfx.data.fashion_mnist import CLASS_NAMES


def _report(blessed: bool):
    per_class = [{"class": name, "precision": 0.9, "recall": 0.8, "examples": 4} for name in CLASS_NAMES]
    per_class[3]["precision"] = None  # never predicted: precision undefined
    return {
        "accuracy": 0.8125,
        "example_count": 40,
        "blessed": blessed,
        "validation_failures": []
        if blessed
        else ["sparse_categorical_accuracy = 0.1000, needs at least 0.3"],
        "per_class": per_class,
        "confusion_matrix": np.eye(10, dtype=int).tolist(),
    }


def test_markdown_has_headline_failures_and_per_class_rows():
    page = render_markdown(_report(blessed=False))
    assert "accuracy: **0.8125**" in page and "blessed: **no**" in page
    assert "failed threshold: sparse_categorical_accuracy = 0.1000, needs at least 0.3" in page
    rows = [line for line in page.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 10
    assert rows[9].startswith("| 9 | Ankle boot | 0.900 | 0.800 | 4 |")
    assert "| 3 | Dress |  | 0.800 | 4 |" in page


def test_confusion_matrix_png_is_a_readable_picture(tmp_path):
    matrix = np.random.default_rng(0).integers(0, 50, size=(10, 10))
    path = tmp_path / "cm.png"
    plot_confusion_matrix(matrix, str(path))
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] >= 600 and image.shape[1] >= 700
    assert image.std() > 20  # not a blank canvas
