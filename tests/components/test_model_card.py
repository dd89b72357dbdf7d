"""The model card without TFX: its sections from a known evaluation, limitations read off the matrix."""

from __future__ import annotations

import json

import numpy as np
import pytest

from components.evaluation_report.model_card import (
    SCHEMA_VERSION,
    build_model_card,
    render_model_card,
    write_model_card,
)
from components.evaluation_report.report import (
    BASELINE,
    CANDIDATE,
    assemble_report,
    plot_confusion_matrix,
)

SIGNATURES = {
    "serving_default": {
        "inputs": {"examples": "string [N]"},
        "outputs": {"probabilities": "float [N, 10]", "class_id": "int64 [N]"},
    }
}
# The toolkit's schema v0.0.2: the top level allows these fields only; `lineage` is this project's.
SCHEMA_FIELDS = {
    "schema_version",
    "model_details",
    "model_parameters",
    "quantitative_analysis",
    "considerations",
}


def _matrix() -> np.ndarray:
    """10 images per class; Shirt (6) confused with T-shirt/top (0) 3 times and Pullover (2) once;
    Coat (4) with Pullover twice; Dress (3) never predicted (all 10 go to Coat)."""
    matrix = np.diag([10] * 10)
    matrix[6, 6], matrix[6, 0], matrix[6, 2] = 6, 3, 1
    matrix[4, 4], matrix[4, 2] = 8, 2
    matrix[3, 3], matrix[3, 4] = 0, 10
    return matrix


def _card(tmp_path, with_baseline: bool = True) -> dict:
    baseline_matrix = np.diag([10] * 10)
    matrices = {CANDIDATE: _matrix(), **({BASELINE: baseline_matrix} if with_baseline else {})}
    candidate = {"uri": "/root/pipeline/Trainer/model/7", "artifact_id": 21, "execution_id": 7}
    baseline = {"uri": "/root/pipeline/Trainer/model/3", "artifact_id": 9, "execution_id": 3}
    report = assemble_report(
        matrices, {}, {"min_accuracy": 0.3, "max_accuracy_drop": None}, [], True, candidate, baseline
    )
    plot_confusion_matrix(_matrix(), str(tmp_path / "confusion_matrix.png"))
    return build_model_card(
        report,
        model_name="fashion-tfx",
        signatures=SIGNATURES,
        hyperparameters={
            "values": {"family": "cnn", "learning_rate": 0.001, "tuner/epochs": 2},
            "settings": {},
        },
        training={"epochs": 3, "seconds": 12.5, "parameters": 1234, "code_fingerprint": "abc"},
        history={"loss": [1.0, 0.5, 0.4]},
        split_class_counts={"test": {str(c): 10 for c in range(10)}, "train": {"0": 5}},
        data_source="/data",
        data_fingerprint="f00d",
        lineage={
            "pipeline_name": "fashion-tfx",
            "pipeline_run_id": "run-1",
            "artifacts": {"model": candidate},
        },
        graphics_dir=str(tmp_path),
    )


def test_card_follows_the_toolkit_schema_and_carries_the_evaluation(tmp_path):
    card = _card(tmp_path)
    assert set(card) == SCHEMA_FIELDS | {"lineage"} and card["schema_version"] == SCHEMA_VERSION
    metrics = {
        (m["type"], m["slice"]): m["value"] for m in card["quantitative_analysis"]["performance_metrics"]
    }
    assert metrics[("accuracy", "overall")] == pytest.approx(0.84)
    assert metrics[("recall", "label=Shirt")] == pytest.approx(0.6)
    assert metrics[("precision", "label=Coat")] == pytest.approx(8 / 18)
    assert ("precision", "label=Dress") not in metrics  # undefined: named under limitations instead
    assert metrics[("accuracy_change", "overall")] == pytest.approx(-0.16)
    assert card["model_parameters"]["model_architecture"] == "cnn (Keras), 1,234 parameters"
    assert "T-shirt/top 5, Trouser 0" in card["model_parameters"]["data"][0]["description"]
    assert card["model_parameters"]["input_format"] == "serving_default: examples string [N]"
    graphics = card["quantitative_analysis"]["graphics"]["collection"]
    assert [g["name"].split(" (")[0] for g in graphics] == ["Confusion matrix"]  # no curves file given
    assert card["lineage"]["hyperparameters"] == {"family": "cnn", "learning_rate": 0.001}
    assert card["lineage"]["code_fingerprint"] == "abc"


def test_limitations_name_the_weakest_classes_and_their_usual_confusions(tmp_path):
    limits = [item["description"] for item in _card(tmp_path)["considerations"]["limitations"]]
    assert (
        limits[0]
        == "Dress: recall 0.000, the lowest of 10 classes; mistaken most often for Coat (10/10, 100.0%)."
    )
    assert limits[1] == (
        "Shirt: recall 0.600, second lowest of 10 classes; mistaken most often for "
        "T-shirt/top (3/10, 30.0%), Pullover (1/10, 10.0%)."
    )
    assert limits[2].startswith("Coat: recall 0.800, third lowest")
    assert "Dress was never predicted on the test split: its precision is undefined." in limits


def test_markdown_and_json_are_written_and_agree(tmp_path):
    card = _card(tmp_path, with_baseline=False)
    write_model_card(card, str(tmp_path))
    assert json.loads((tmp_path / "model_card.json").read_text()) == card
    page = (tmp_path / "model_card.md").read_text()
    assert page.startswith("# Model card: fashion-tfx, model #21 (Trainer execution 7)")
    assert "| Dress | 10 | 0.000 | undefined: never predicted | n/a |" in page
    assert "| Shirt | 10 | 0.600 | 1.000 | n/a |" in page
    assert "- baseline: none (no model had been blessed before)" in page
    assert "- model: artifact #21, execution 7, `/root/pipeline/Trainer/model/7`" in page
    assert render_model_card(card) == page
