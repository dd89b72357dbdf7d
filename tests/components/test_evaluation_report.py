"""The evaluation report without TFMA: per-class figures from a known matrix, verdicts, Markdown, picture."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from components.evaluation_report.report import (
    BASELINE,
    CANDIDATE,
    NEVER_PREDICTED,
    assemble_report,
    confusion_title,
    per_class_from_matrix,
    plot_confusion_matrix,
    render_markdown,
)
from components.evaluator.golden_set_check import GOLDEN_SET_LIMITS

CANDIDATE_REF = {"uri": "Trainer/model/17", "artifact_id": 30, "run": "2026-12-05T23:16:52.892198"}
BASELINE_REF = {
    "uri": "ServingBaseline/baseline/15",
    "artifact_id": 12,
    "run": None,
    "served_version": 1796508204,
}
GOLDEN_PASSED = {"passed": True, "accuracy": 0.768, "examples": 1000, "floor": 0.3}
THRESHOLDS = {"min_accuracy": 0.3, "max_accuracy_drop": 0.0}


def known_matrix() -> np.ndarray:
    """4 test images per class; Dress (3) is never predicted: its images all go to Coat (4);
    one Shirt (6) is taken for a T-shirt/top (0). 35 of 40 correct."""
    matrix = np.diag([4] * 10)
    matrix[3, 3], matrix[3, 4] = 0, 4
    matrix[6, 6], matrix[6, 0] = 3, 1
    return matrix


def test_per_class_figures_are_the_matrix_ratios_and_never_predicted_is_named():
    rows = per_class_from_matrix(known_matrix())
    assert [r["examples"] for r in rows] == [4] * 10
    assert rows[4]["predicted"] == 8 and rows[4]["recall"] == 1.0 and rows[4]["precision"] == 0.5
    assert rows[6]["recall"] == 0.75 and rows[0]["precision"] == 0.8
    assert rows[3]["recall"] == 0.0 and rows[3]["precision"] is None
    assert rows[3]["precision_note"] == NEVER_PREDICTED
    assert all("precision_note" not in r for i, r in enumerate(rows) if i != 3)


def test_mean_recall_equals_accuracy_on_balanced_classes_and_tfma_disagreement_is_flagged():
    report = assemble_report({CANDIDATE: known_matrix()}, {CANDIDATE: 0.875}, THRESHOLDS, [], True)
    assert report["accuracy"] == pytest.approx(35 / 40)
    assert report["mean_recall"] == pytest.approx(report["accuracy"], abs=1e-12)
    assert report["warnings"] == []
    off = assemble_report({CANDIDATE: known_matrix()}, {CANDIDATE: 0.80}, THRESHOLDS, [], True)
    assert off["warnings"] and "0.800000 differs from its confusion matrix's 0.875000" in off["warnings"][0]


def test_markdown_says_undefined_never_a_blank_and_agrees_with_the_matrix():
    report = assemble_report({CANDIDATE: known_matrix()}, {}, THRESHOLDS, [], True, CANDIDATE_REF)
    page = render_markdown(report)
    assert "| 3 | Dress | 4 | 0 | 0.000 | undefined: never predicted |" in page
    assert "| 4 | Coat | 4 | 8 | 1.000 | 0.500 |" in page
    assert "||" not in page.replace("|---|", "").replace("| |", "")  # no empty cell in the tables
    assert "| 6 Shirt | 1 | 0 | 0 | 0 | 0 | 0 | 3 | 0 | 0 | 0 |" in page
    assert "no blessed baseline" in report["verdict"] and report["verdict"].startswith(
        "Blessed: accuracy 0.8750"
    )


def test_a_regression_on_one_class_is_visible_even_when_accuracy_improves():
    baseline = np.diag([4] * 10)
    baseline[3, 3], baseline[3, 4] = 2, 2  # the baseline: Dress half right, Shirt all right
    baseline[5, 5], baseline[5, 7] = 0, 4  # and every Sandal taken for a Sneaker
    report = assemble_report(
        {CANDIDATE: known_matrix(), BASELINE: baseline},
        {},
        THRESHOLDS,
        [],
        True,
        CANDIDATE_REF,
        BASELINE_REF,
    )
    assert report["comparison"]["accuracy_change"] == pytest.approx(35 / 40 - 34 / 40)
    changes = {c["class"]: c for c in report["comparison"]["per_class"]}
    assert changes["Shirt"]["recall_change"] == pytest.approx(-0.25)
    assert changes["Dress"]["recall_change"] == pytest.approx(-0.5)
    assert changes["Sandal"]["recall_change"] == pytest.approx(1.0)
    assert changes["Dress"]["precision_change"] is None  # undefined for the candidate
    page = render_markdown(report)
    assert "Recall dropped for: Dress (-0.500), Shirt (-0.250)." in page
    assert "| baseline | served version 1796508204 | 0.8500 | 40 |" in page
    assert "against the baseline, served version 1796508204 with accuracy 0.8500" in report["verdict"]


def test_an_unblessed_model_says_why_and_against_which_baseline():
    untrained = np.zeros((10, 10), dtype=int)
    untrained[:, 2] = 4  # everything predicted as Pullover: accuracy 0.1
    failures = [
        {"metric": "sparse_categorical_accuracy", "change": False, "value": 0.1},
        {"metric": "sparse_categorical_accuracy", "change": True, "value": -0.775},
    ]
    report = assemble_report(
        {CANDIDATE: untrained, BASELINE: known_matrix()},
        {},
        THRESHOLDS,
        failures,
        False,
        CANDIDATE_REF,
        BASELINE_REF,
    )
    assert report["verdict"] == (
        "Not blessed: accuracy 0.1000 is below the floor of 0.3; it falls 0.7750 below the baseline's "
        "accuracy, where no drop is allowed (baseline: served version 1796508204, accuracy 0.8750; "
        "change -0.7750). Golden set: not checked."
    )
    assert render_markdown(report).count("Golden set: not checked.") == 1
    rows = per_class_from_matrix(untrained)
    assert sum(r["precision"] is None for r in rows) == 9


def test_the_golden_set_is_the_verdicts_second_gate_in_json_and_markdown():
    report = assemble_report(
        {CANDIDATE: known_matrix()}, {}, THRESHOLDS, [], True, CANDIDATE_REF, None, GOLDEN_PASSED
    )
    assert report["golden_set"] == GOLDEN_PASSED
    assert report["verdict"] == (
        "Blessed: accuracy 0.8750 meets the floor of 0.3; there was no blessed baseline to compare against, "
        "so only the floor applied. Golden set: accuracy 0.7680 on 1,000 canonical test images "
        f"(SHA-256 verified), floor 0.3: passed; {GOLDEN_SET_LIMITS}."
    )
    page = render_markdown(report)
    assert page.startswith(
        "# Evaluation on the test split: the candidate of run 2026-12-05T23:16:52.892198\n"
    )
    # Said once, in the bold verdict at the top, not again on a line of its own.
    assert f"**{report['verdict']}**" in page and page.count("Golden set: ") == 1
    # TFMA passed the model on the test split; the golden set alone withdrew the blessing.
    failed = {**GOLDEN_PASSED, "passed": False, "accuracy": 0.25}
    refused = assemble_report(
        {CANDIDATE: known_matrix()}, {}, THRESHOLDS, [], False, CANDIDATE_REF, None, failed
    )
    assert refused["verdict"] == (
        "Not blessed: the golden-set check failed (no blessed baseline existed). Golden set: accuracy 0.2500 "
        "on 1,000 canonical test images (SHA-256 verified), floor 0.3: FAILED, so NOT blessed; "
        f"{GOLDEN_SET_LIMITS}."
    )
    assert "floor 0.3: FAILED, so NOT blessed; it catches gross poisoning" in render_markdown(refused)


def test_confusion_matrix_png_is_a_readable_picture_with_its_title(tmp_path):
    report = assemble_report({CANDIDATE: known_matrix()}, {}, THRESHOLDS, [], True, CANDIDATE_REF)
    title = confusion_title(report)
    assert (
        "the candidate of run 2026-12-05T23:16:52.892198" in title and "accuracy 0.8750 on 40 images" in title
    )
    path = tmp_path / "cm.png"
    plot_confusion_matrix(known_matrix(), str(path), title)
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] >= 700 and image.shape[1] >= 800
    assert image.std() > 20  # not a blank canvas
