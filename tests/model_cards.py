"""Model cards for the tests: a sample card and record of a known evaluation, and the schema check."""

from __future__ import annotations

import json
import re

import jsonschema
import numpy as np

from components.evaluation_report.model_card import (
    SCHEMA_FILE,
    build_model_card,
    data_sections,
    model_record,
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
GOLDEN_SET = {"passed": True, "accuracy": 0.912, "examples": 1000, "floor": 0.3}
# An absolute path of a machine: nothing shipped with a model may carry one.
ABSOLUTE_PATH = re.compile(r"""(^|[\s`'"(])/[A-Za-z]""")


def validate_against_toolkit_schema(card: dict) -> None:
    """Raises jsonschema.ValidationError unless the card follows the Model Card Toolkit's schema."""
    with open(SCHEMA_FILE, encoding="utf-8") as source:
        # The published file writes one reference as `#definitions/graphic`, which today's jsonschema
        # (rightly) refuses as a JSON pointer; the toolkit's older resolver read it as `#/definitions/…`.
        schema = json.loads(source.read().replace('"#definitions/', '"#/definitions/'))
    jsonschema.validate(card, schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def _matrix() -> np.ndarray:
    """10 images per class; Shirt (6) confused with T-shirt/top (0) 3 times and Pullover (2) once;
    Coat (4) with Pullover twice; Dress (3) never predicted (all 10 go to Coat)."""
    matrix = np.diag([10] * 10)
    matrix[6, 6], matrix[6, 0], matrix[6, 2] = 6, 3, 1
    matrix[4, 4], matrix[4, 2] = 8, 2
    matrix[3, 3], matrix[3, 4] = 0, 10
    return matrix


def sample_model_card(tmp_path, with_baseline: bool = True) -> tuple[dict, dict]:
    """Returns (card, record) of a known evaluation; its confusion matrix picture is written to `tmp_path`."""
    baseline_matrix = np.diag([10] * 10)
    matrices = {CANDIDATE: _matrix(), **({BASELINE: baseline_matrix} if with_baseline else {})}
    candidate = {"uri": "Trainer/model/7", "artifact_id": 21, "run": "run-1"}
    baseline = {"uri": "ServingBaseline/baseline/6", "artifact_id": 9, "run": "run-1", "served_version": 17}
    report = assemble_report(
        matrices,
        {},
        {"min_accuracy": 0.3, "max_accuracy_drop": None},
        [],
        True,
        candidate,
        baseline,
        GOLDEN_SET,
    )
    plot_confusion_matrix(_matrix(), str(tmp_path / "confusion_matrix.png"))
    record = model_record(
        report,
        signatures=SIGNATURES,
        hyperparameters={
            "values": {"family": "cnn", "learning_rate": 0.001, "tuner/epochs": 2},
            "settings": {},
        },
        training={"epochs": 3, "seconds": 12.5, "parameters": 1234, "code_fingerprint": "abc"},
        history={"loss": [1.0, 0.5, 0.4]},
        lineage={
            "pipeline_name": "fashion-tfx",
            "pipeline_run_id": "run-1",
            "artifacts": {"model": candidate},
        },
    )
    card = build_model_card(
        report,
        record,
        model_name="fashion-tfx",
        data=data_sections(
            {"test": {str(c): 10 for c in range(10)}, "train": {"0": 5}}, "canonical Fashion-MNIST", "f00d"
        ),
        graphics_dir=str(tmp_path),
    )
    return card, record
