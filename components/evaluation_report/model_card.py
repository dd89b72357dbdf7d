"""A blessed model's card in the Model Card Toolkit's schema (v0.0.2) plus lineage, as JSON and Markdown.

The toolkit itself cannot be installed beside TFX 1.16 (it pins TFMA < 0.42), so this module fills the
schema's fields itself: model_details, model_parameters, quantitative_analysis and considerations. A
`lineage` section (pipeline run, ML Metadata ids, code fingerprint) is this project's addition.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import numpy as np
import tensorflow as tf

from components.evaluation_report.report import CONFUSION_PNG, describe_model
from data.classes import CLASS_NAMES
from data.resize import SOURCE_SIZE
from models.trainer import CURVES_PNG
from serving.versions import SAVED_MODEL_FILE

SCHEMA_VERSION = "0.0.2"
WEAKEST_CLASSES = (
    3  # (at most 3: the wording names them)  how many of the lowest-recall classes the limitations name
)
CONFUSIONS_PER_CLASS = 2


def read_json(path: str) -> Any:
    """Reads a JSON file through tf.io.gfile; None when it does not exist."""
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as source:
        return json.load(source)


def read_signatures(saved_model_dir: str) -> dict[str, dict[str, dict[str, str]]]:
    """Returns signature -> inputs/outputs -> name -> 'dtype [shape]', read from saved_model.pb itself."""
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(saved_model_dir, SAVED_MODEL_FILE), "rb") as source:
        saved_model.ParseFromString(source.read())

    def describe(tensor) -> str:
        dims = "unknown rank" if tensor.tensor_shape.unknown_rank else None
        dims = dims or ", ".join("N" if d.size < 0 else str(d.size) for d in tensor.tensor_shape.dim)
        return f"{types_pb2.DataType.Name(tensor.dtype).removeprefix('DT_').lower()} [{dims}]"

    signatures = {}
    for name, signature in sorted(saved_model.meta_graphs[0].signature_def.items()):
        if name.startswith("__"):  # TF's internal init op, not a callable signature
            continue
        signatures[name] = {
            "inputs": {k: describe(v) for k, v in sorted(signature.inputs.items())},
            "outputs": {k: describe(v) for k, v in sorted(signature.outputs.items())},
        }
    return signatures


def _png_base64(path: str) -> str | None:
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path, "rb") as source:
        return base64.b64encode(source.read()).decode("ascii")


def limitations(report: dict[str, Any]) -> list[dict[str, str]]:
    """Names the weakest classes and what they are usually mistaken for, from the confusion matrix."""
    matrix = np.asarray(report["confusion_matrix"])
    rows = [r for r in report["per_class"] if r["recall"] is not None]
    missed = [r for r in rows if r["recall"] < 1.0]  # classes with at least one confusion
    found = []
    for row in sorted(missed, key=lambda r: r["recall"])[:WEAKEST_CLASSES]:
        i, examples = row["class_id"], row["examples"]
        confusions = [
            (int(matrix[i, j]), j)
            for j in np.argsort(-matrix[i], kind="stable")
            if j != i and matrix[i, j] > 0
        ][:CONFUSIONS_PER_CLASS]
        mistaken = ", ".join(
            f"{CLASS_NAMES[j]} ({count}/{examples}, {count / examples:.1%})" for count, j in confusions
        )
        found.append(
            {
                "description": f"{row['class']}: recall {row['recall']:.3f}, "
                f"{('the lowest', 'second lowest', 'third lowest')[len(found)]} of {len(rows)} classes; "
                + f"mistaken most often for {mistaken}."
            }
        )
    if rows and not missed:
        found.append({"description": "Every test image was recognised: too few or too easy test images "
                      "to show this model's weak classes."})  # fmt: skip
    for row in report["per_class"]:
        if row["precision"] is None:
            found.append({"description": f"{row['class']} was never predicted on the test split: "
                          "its precision is undefined."})  # fmt: skip
    found.append(
        {
            "description": f"Evaluated on {report['example_count']:,} test images: each figure's sampling "
            "error is about sqrt(p(1-p)/n) (n = images of that class for recall)."
        }
    )
    found.append(
        {
            "description": f"Trained on Fashion-MNIST only: centred {SOURCE_SIZE}x{SOURCE_SIZE} grey-level "
            "product photos on a black background. Other images (natural photos, colour, several objects) "
            "are out of its domain."
        }
    )
    return found


def build_model_card(
    report: dict[str, Any],
    *,
    model_name: str,
    signatures: dict[str, Any],
    hyperparameters: dict[str, Any] | None,
    training: dict[str, Any] | None,
    history: dict[str, list[float]] | None,
    split_class_counts: dict[str, dict[str, int]] | None,
    data_source: str,
    data_fingerprint: str,
    lineage: dict[str, Any],
    graphics_dir: str,
) -> dict[str, Any]:
    """Assembles the model card of the evaluated model.

    Args:
        report: the evaluation report (`report.build_report`).
        model_name: the served model's name.
        signatures: `read_signatures` of the exported model.
        hyperparameters: the Trainer's hyperparameters.json (`values` and `settings`).
        training: the Trainer's training.json (epochs, seconds, parameter counts, code fingerprint).
        history: the Trainer's per-epoch history.
        split_class_counts: split -> class id -> count, from ExampleGen.
        data_source: where the data was read from.
        data_fingerprint: a digest of the data's content.
        lineage: pipeline run and ML Metadata ids.
        graphics_dir: folder holding confusion_matrix.png and training_curves.png (embedded as base64).

    Returns:
        A JSON-ready dict with the schema's sections and `lineage`.
    """
    values = (hyperparameters or {}).get("values", {})
    settings = (hyperparameters or {}).get("settings", {})
    training = training or {}
    family = values.get("family", (settings.get("families") or ["?"])[0])
    architecture = (
        f"{family} (Keras), {training.get('parameters', '?'):,} parameters"
        if training.get("parameters") is not None
        else f"{family} (Keras)"
    )
    shown_hp = {k: v for k, v in values.items() if not k.startswith("tuner/")}
    counts = split_class_counts or {}
    data = []
    for split in ("train", "eval", "test"):
        per_class = counts.get(split, {})
        balance = ", ".join(f"{name} {per_class.get(str(c), 0)}" for c, name in enumerate(CLASS_NAMES))
        use = {
            "train": "training",
            "eval": "validation (early stopping, tuning)",
            "test": "evaluation and blessing",
        }
        data.append(
            {
                "name": f"Fashion-MNIST {split} split",
                "link": "https://github.com/zalandoresearch/fashion-mnist",
                "description": f"{sum(per_class.values()):,} images for {use[split]}; "
                f"per class: {balance or 'n/a'}. "
                f"Source: {data_source or 'n/a'}; data fingerprint {data_fingerprint or 'n/a'}.",
            }
        )
    metrics = [
        {"type": "accuracy", "value": report["accuracy"], "slice": "overall"},
        {"type": "mean_recall", "value": report["mean_recall"], "slice": "overall"},
    ]
    for row in report["per_class"]:
        for metric in ("recall", "precision"):
            if row[metric] is not None:  # undefined figures are named in the limitations instead
                metrics.append({"type": metric, "value": row[metric], "slice": f"label={row['class']}"})
    baseline = report.get("baseline")
    if baseline:
        metrics += [
            {"type": "baseline_accuracy", "value": baseline["accuracy"], "slice": "overall"},
            {"type": "accuracy_change", "value": report["comparison"]["accuracy_change"], "slice": "overall"},
        ]
    graphics = [
        {"name": name, "image": image}
        for name, image in (
            (
                "Confusion matrix (test split, row-normalised colour, counts)",
                _png_base64(os.path.join(graphics_dir, CONFUSION_PNG)),
            ),
            (
                "Training curves (loss and accuracy per epoch)",
                _png_base64(os.path.join(graphics_dir, CURVES_PNG)),
            ),
        )
        if image
    ]
    epochs = training.get("epochs", len((history or {}).get("loss", [])))
    return {
        "schema_version": SCHEMA_VERSION,
        "model_details": {
            "name": model_name,
            "overview": f"Classifies {SOURCE_SIZE}x{SOURCE_SIZE} grey-level Fashion-MNIST images into "
            f"{len(CLASS_NAMES)} clothing classes. {report['verdict']}",
            "documentation": (
                f"A {family} network trained {epochs} epochs in {training.get('seconds', '?')} s; the "
                f"served graph upscales images from {settings.get('source_size', SOURCE_SIZE)} to "
                f"{settings.get('image_size', '?')} pixels, so clients send raw {SOURCE_SIZE}x{SOURCE_SIZE} "
                "images."
            ),
            "owners": [{"name": "fashion-tfx pipeline", "contact": ""}],
            "version": {
                "name": describe_model(report.get("model")),
                "diff": f"against the baseline {describe_model(baseline.get('model'))}: accuracy "
                f"{report['comparison']['accuracy_change']:+.4f}"
                if baseline
                else "first blessed model: no baseline",
            },
            "references": [{"reference": "https://github.com/zalandoresearch/fashion-mnist"}],
        },
        "model_parameters": {
            "model_architecture": architecture,
            "data": data,
            "input_format": "; ".join(
                f"{name}: " + ", ".join(f"{k} {v}" for k, v in sig["inputs"].items())
                for name, sig in signatures.items()
            ),
            "output_format": "; ".join(
                f"{name}: " + ", ".join(f"{k} {v}" for k, v in sig["outputs"].items())
                for name, sig in signatures.items()
            ),
        },
        "quantitative_analysis": {
            "performance_metrics": metrics,
            "graphics": {
                "description": "Evaluation on the test split and training history.",
                "collection": graphics,
            },
        },
        "considerations": {
            "users": [{"description": "Developers of Fashion-MNIST demos and of this pipeline."}],
            "use_cases": [
                {"description": "Classifying Fashion-MNIST-like product images through TF Serving."}
            ],
            "limitations": limitations(report),
            "tradeoffs": [
                {
                    "description": "Blessing gates on overall accuracy only: per-class recall may drop "
                    "against the baseline while the model is still blessed (see the per-class changes)."
                }
            ],
            "ethical_considerations": [
                {"name": "Clothing images carry no personal data.", "mitigation_strategy": "none needed"}
            ],
        },
        # Not part of the toolkit's schema (whose top level forbids extra properties): this project's
        # record of where the model came from.
        "lineage": {
            **lineage,
            "code_fingerprint": training.get("code_fingerprint"),
            "hyperparameters": shown_hp,
            "training": {"epochs": epochs, "seconds": training.get("seconds"), "history": history or {}},
            "evaluation": {
                "accuracy": report["accuracy"],
                "example_count": report["example_count"],
                "per_class": report["per_class"],
                "confusion_matrix": report["confusion_matrix"],
                "thresholds": report["thresholds"],
                "baseline": {"model": baseline.get("model"), "accuracy": baseline["accuracy"]}
                if baseline
                else None,
                "comparison": report.get("comparison"),
            },
            "signatures": signatures,
        },
    }


def _cell(value: float | None, note: str | None = None) -> str:
    return (note or "undefined") if value is None else f"{value:.3f}"


def render_model_card(card: dict[str, Any]) -> str:
    """Formats the model card as Markdown (the pictures are the files beside it)."""
    details, parameters = card["model_details"], card["model_parameters"]
    considerations, lineage = card["considerations"], card["lineage"]
    evaluation = lineage["evaluation"]
    lines = [
        f"# Model card: {details['name']}, {details['version']['name']}",
        "",
        details["overview"],
        "",
        "## Model",
        "",
        f"- architecture: {parameters['model_architecture']}",
        f"- {details['documentation']}",
        "- hyper-parameters: " + ", ".join(f"`{k}={v}`" for k, v in lineage["hyperparameters"].items()),
        "",
        "| signature | inputs | outputs |",
        "|---|---|---|",
    ]
    for name, signature in lineage["signatures"].items():
        inputs = ", ".join(f"`{k}` {v}" for k, v in signature["inputs"].items())
        outputs = ", ".join(f"`{k}` {v}" for k, v in signature["outputs"].items())
        lines.append(f"| `{name}` | {inputs} | {outputs} |")
    lines += ["", "## Data", ""]
    lines += [f"- **{d['name']}**: {d['description']}" for d in parameters["data"]]
    training = lineage["training"]
    lines += [
        "",
        "## Training",
        "",
        f"{training['epochs']} epochs in {training['seconds']} s.",
        "",
        f"![training curves]({CURVES_PNG})",
        "",
        "## Evaluation (test split)",
        "",
        f"- accuracy **{evaluation['accuracy']:.4f}** on {evaluation['example_count']:,} images",
    ]
    if evaluation["baseline"]:
        lines.append(
            f"- baseline {describe_model(evaluation['baseline']['model'])}: accuracy "
            f"{evaluation['baseline']['accuracy']:.4f}; "
            f"change {evaluation['comparison']['accuracy_change']:+.4f}"
        )
    else:
        lines.append("- baseline: none (no model had been blessed before)")
    thresholds = evaluation["thresholds"]
    floor, drop = thresholds["min_accuracy"], thresholds["max_accuracy_drop"]
    lines.append(
        f"- thresholds: accuracy at least {floor:g}; largest drop against the baseline "
        + ("n/a (no baseline)" if drop is None else f"{drop:g}")
    )
    changes = {c["class_id"]: c for c in (evaluation["comparison"] or {}).get("per_class", [])}
    lines += [
        "",
        "| class | test images | recall | precision | Δ recall vs baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in evaluation["per_class"]:
        change = changes.get(row["class_id"], {}).get("recall_change")
        lines.append(
            f"| {row['class']} | {row['examples']} | {_cell(row['recall'], row.get('recall_note'))} "
            f"| {_cell(row['precision'], row.get('precision_note'))} | "
            f"{'n/a' if change is None else f'{change:+.3f}'} |"
        )
    lines += ["", f"![confusion matrix]({CONFUSION_PNG})", "", "## Known limitations", ""]
    lines += [f"- {item['description']}" for item in considerations["limitations"]]
    lines += [f"- {item['description']}" for item in considerations["tradeoffs"]]
    lines += ["", "## Lineage", ""]
    for key in ("pipeline_name", "pipeline_run_id", "report_execution_id", "code_fingerprint"):
        lines.append(f"- {key.replace('_', ' ')}: `{lineage.get(key)}`")
    for key, ref in lineage.get("artifacts", {}).items():
        if ref:
            execution = f", execution {ref['execution_id']}" if ref.get("execution_id") is not None else ""
            lines.append(f"- {key}: artifact #{ref.get('artifact_id')}{execution}, `{ref['uri']}`")
    lines.append("")
    return "\n".join(lines)


def write_model_card(card: dict[str, Any], output_dir: str) -> None:
    """Writes model_card.json and model_card.md into `output_dir`."""
    from components.evaluation_report.spec import MODEL_CARD_JSON, MODEL_CARD_MARKDOWN

    with tf.io.gfile.GFile(os.path.join(output_dir, MODEL_CARD_JSON), "w") as out:
        json.dump(card, out, indent=1)
    with tf.io.gfile.GFile(os.path.join(output_dir, MODEL_CARD_MARKDOWN), "w") as out:
        out.write(render_model_card(card))
