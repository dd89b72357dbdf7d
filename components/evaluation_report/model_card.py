"""A blessed model's card in the Model Card Toolkit's schema (v0.0.2), and its record, as JSON and Markdown.

The toolkit itself cannot be installed beside TFX 1.16 (it pins TFMA < 0.42), so this module fills the
schema's fields itself (`model_card.json`, validated against the toolkit's own schema file in
`model_card.schema.json` by the tests). What the schema has no field for (hyper-parameters, history,
the full evaluation, ML Metadata ids) is the model's record, `model_record.json`, beside the card; the
card names its run, code and record in the fields the schema has (`model_details`).

Derivation (`model_record`, `performance_metrics`, `data_sections`, `limitations`) is kept apart from
prose (`build_model_card`, `render_model_card`). Every path in both files is run-relative (or a bucket
URI): they ship with the model, away from the machine that built it.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import numpy as np
import tensorflow as tf

from components.evaluation_report.report import (
    CONFUSION_PNG,
    describe_model,
    format_figure,
    golden_set_line,
)
from components.evaluation_report.spec import MODEL_CARD_JSON, MODEL_CARD_MARKDOWN, MODEL_RECORD_JSON
from data.classes import CLASS_NAMES
from data.resize import SOURCE_SIZE
from models.settings import COSINE, FLIP_AVERAGING_WORDS, FLOAT32, own_hyperparameters
from models.trainer import ARITHMETIC, CURVES_PNG
from serving.versions import SAVED_MODEL_FILE

SCHEMA_VERSION = "0.0.2"
# The toolkit's own schema file of that version, vendored (see schema/SOURCE.md).
SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "schema", "model_card.schema.json")
# How many of the lowest-recall classes the limitations name (at most 3: the wording names them).
WEAKEST_CLASSES = 3
CONFUSIONS_PER_CLASS = 2


def read_json(path: str) -> Any:
    """Reads a JSON file through tf.io.gfile; None when it does not exist.

    Args:
        path: the file (local or on a bucket).
    """
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


DATA_LINK = "https://github.com/zalandoresearch/fashion-mnist"
SPLIT_USES = {
    "train": "training",
    "eval": "validation (early stopping, tuning)",
    "test": "evaluation and blessing",
}


def model_record(
    report: dict[str, Any],
    *,
    signatures: dict[str, Any],
    hyperparameters: dict[str, Any] | None,
    training: dict[str, Any] | None,
    history: dict[str, list[float]] | None,
    lineage: dict[str, Any],
) -> dict[str, Any]:
    """Collects what the card summarises, as data: the model's lineage, training and evaluation.

    Args:
        report: the evaluation report (`report.build_report`).
        signatures: `read_signatures` of the exported model.
        hyperparameters: the Trainer's hyperparameters.json (`values` and `settings`).
        training: the Trainer's training.json (epochs, seconds, parameter counts, code fingerprint).
        history: the Trainer's per-epoch history.
        lineage: `pipeline_name`, `pipeline_run_id`, `report_execution_id` and `artifacts` (run-relative
            references).

    Returns:
        A JSON-ready dict; `served_version` is None until the Pusher ships the model (`stamp_served_version`).
    """
    values = (hyperparameters or {}).get("values", {})
    settings = (hyperparameters or {}).get("settings", {})
    training = training or {}
    baseline = report.get("baseline")
    return {
        **lineage,
        "served_version": None,
        "code_fingerprint": training.get("code_fingerprint"),
        "family": values.get("family", (settings.get("families") or ["?"])[0]),
        "parameters": training.get("parameters"),
        "source_size": settings.get("source_size", SOURCE_SIZE),
        "image_size": settings.get("image_size"),
        "hyperparameters": {
            k: v for k, v in own_hyperparameters(values).items() if not k.startswith("tuner/")
        },
        "recipe": recipe_sentence(
            values,
            settings,
            (hyperparameters or {}).get("source"),
            (hyperparameters or {}).get(ARITHMETIC),
        ),
        "training": {
            "epochs": training.get("epochs", len((history or {}).get("loss", []))),
            "seconds": training.get("seconds"),
            "history": history or {},
        },
        "evaluation": {
            "model": report.get("model"),
            "accuracy": report["accuracy"],
            "example_count": report["example_count"],
            "per_class": report["per_class"],
            "confusion_matrix": report["confusion_matrix"],
            "thresholds": report["thresholds"],
            "golden_set": report.get("golden_set"),
            "verdict": report["verdict"],
            "baseline": {"model": baseline.get("model"), "accuracy": baseline["accuracy"]}
            if baseline
            else None,
            "comparison": report.get("comparison"),
        },
        "signatures": signatures,
    }


def recipe_sentence(
    values: dict[str, Any], settings: dict[str, Any], source: str | None, arithmetic: str | None = None
) -> str:
    """Returns how the model was trained, in a sentence: optimiser, schedule, batch, augmentation, and
    whether predictions average each image with its mirror image.

    Args:
        values: the hyper-parameters trained with.
        settings: the model settings (`ModelSettings.to_custom_config`).
        source: `tuned` (the Tuner's best trial) or `defaults` (the profile's recipe), if recorded.
        arithmetic: what training computed in (`float32`, `mixed_bfloat16`), if recorded.
    """
    if not values:
        return "not recorded"
    optimizer = settings.get("optimizer", "adam")
    augmentations = settings.get("augmentations") or []
    schedule = settings.get("schedule", COSINE)  # runs from before the setting existed decayed by cosine
    momentum = settings.get("weight_averaging")
    parts = [
        f"{optimizer} at a peak rate of {values.get('learning_rate')}"
        + (" with Nesterov momentum 0.9" if optimizer == "sgd" else ""),
        f"weight decay {settings.get('weight_decay') or 0}",
        f"{settings.get('warmup_epochs') or 0} warm-up epochs then a {schedule} decay",
        f"batch {values.get('batch_size')}",
        f"label smoothing {values.get('label_smoothing', 0.0)}",
        f"augmentation {', '.join(augmentations)} at {values.get('augment_probability')}"
        + (" each" if len(augmentations) > 1 else ""),
    ]
    if momentum:
        parts.append(
            f"weights averaged over the training steps (exponential moving average, momentum {momentum})"
        )
    if arithmetic:
        # Served in float32 whatever the training arithmetic (the export is a float32 copy).
        parts.append(f"trained in {arithmetic} arithmetic, served in {FLOAT32}")
    if settings.get("test_time_flip"):
        parts.append(FLIP_AVERAGING_WORDS)
    chosen = {"tuned": "the Tuner's best trial", "defaults": "the profile's recipe"}.get(source or "")
    return "; ".join(parts) + (f" ({chosen})" if chosen else "")


def data_sections(
    split_class_counts: dict[str, dict[str, int]] | None, data_source: str, data_fingerprint: str
) -> list[dict[str, str]]:
    """Returns the schema's `data` entries: one per split, with its size, use and class balance."""
    counts = split_class_counts or {}
    sections = []
    for split, use in SPLIT_USES.items():
        per_class = counts.get(split, {})
        balance = ", ".join(f"{name} {per_class.get(str(c), 0)}" for c, name in enumerate(CLASS_NAMES))
        sections.append(
            {
                "name": f"Fashion-MNIST {split} split",
                "link": DATA_LINK,
                "description": f"{sum(per_class.values()):,} images for {use}; "
                f"per class: {balance or 'n/a'}. Source: {data_source or 'n/a'}; "
                f"data fingerprint {data_fingerprint or 'n/a'}.",
            }
        )
    return sections


def performance_metrics(report: dict[str, Any]) -> list[dict[str, str]]:
    """Returns the schema's performance metrics (values as strings, as the schema types them)."""
    figures: list[tuple[str, float, str]] = [
        ("accuracy", report["accuracy"], "overall"),
        ("mean_recall", report["mean_recall"], "overall"),
    ]
    golden_set = report.get("golden_set") or {}
    if "accuracy" in golden_set:
        figures.append(("accuracy", golden_set["accuracy"], "golden set"))
    for row in report["per_class"]:
        for metric in ("recall", "precision"):
            if row[metric] is not None:  # undefined figures are named in the limitations instead
                figures.append((metric, row[metric], f"label={row['class']}"))
    if report.get("baseline"):
        figures += [
            ("baseline_accuracy", report["baseline"]["accuracy"], "overall"),
            ("accuracy_change", report["comparison"]["accuracy_change"], "overall"),
        ]
    return [{"type": kind, "value": repr(float(value)), "slice": where} for kind, value, where in figures]


def graphics(graphics_dir: str) -> list[dict[str, str]]:
    """Returns the card's pictures found in `graphics_dir`, embedded as base64 (as the schema asks)."""
    pictures = (
        ("Confusion matrix (test split, row-normalised colour, counts)", CONFUSION_PNG),
        ("Training curves (loss and accuracy per epoch)", CURVES_PNG),
    )
    found = [(name, _png_base64(os.path.join(graphics_dir, file))) for name, file in pictures]
    return [{"name": name, "image": image} for name, image in found if image]


def model_identity(record: dict[str, Any]) -> str:
    """The card's name for its model: the served version once pushed, else the candidate of its run."""
    if record.get("served_version") is not None:
        return f"served version {record['served_version']}"
    return describe_model(record["evaluation"]["model"])


def build_model_card(
    report: dict[str, Any],
    record: dict[str, Any],
    *,
    model_name: str,
    data: list[dict[str, str]],
    graphics_dir: str,
) -> dict[str, Any]:
    """Writes the card's prose into the toolkit's schema (v0.0.2), from the report and the record.

    Args:
        report: the evaluation report (`report.build_report`).
        record: the model's record (`model_record`).
        model_name: the served model's name.
        data: the schema's data entries (`data_sections`).
        graphics_dir: folder holding confusion_matrix.png and training_curves.png.

    Returns:
        A JSON-ready dict with the schema's five top-level fields, and no other.
    """
    baseline = report.get("baseline")
    family, parameters = record["family"], record["parameters"]
    architecture = f"{family} (Keras)" + (f", {parameters:,} parameters" if parameters is not None else "")
    training = record["training"]
    signatures = record["signatures"]
    return {
        "schema_version": SCHEMA_VERSION,
        "model_details": {
            "name": model_name,
            "overview": f"Classifies {SOURCE_SIZE}x{SOURCE_SIZE} grey-level Fashion-MNIST images into "
            f"{len(CLASS_NAMES)} clothing classes. {report['verdict']}",
            "documentation": (
                f"A {family} network trained {training['epochs']} epochs in {training['seconds'] or '?'} s "
                f"({record.get('recipe', 'recipe not recorded')}); "
                f"the served graph upscales images from {record['source_size']} to "
                f"{record['image_size'] or '?'} pixels, so clients send raw {SOURCE_SIZE}x{SOURCE_SIZE} "
                f"images. Evaluated in pipeline run {record.get('pipeline_run_id')} of "
                f"{record.get('pipeline_name')}; code fingerprint {record.get('code_fingerprint')}. "
                "The full record (hyper-parameters, "
                f"history, evaluation, ML Metadata ids) is {MODEL_RECORD_JSON}, beside this card."
            ),
            "owners": [{"name": "fashion-tfx pipeline", "contact": ""}],
            "version": {
                "name": model_identity(record),
                "diff": f"against the baseline {describe_model(baseline.get('model'))}: accuracy "
                f"{report['comparison']['accuracy_change']:+.4f}"
                if baseline
                else "first blessed model: no baseline",
            },
            "references": [{"reference": DATA_LINK}],
            "path": (record.get("artifacts", {}).get("model") or {}).get("uri", ""),
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
            "performance_metrics": performance_metrics(report),
            "graphics": {
                "description": "Evaluation on the test split and training history.",
                "collection": graphics(graphics_dir),
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
                    "description": "Blessing gates on overall accuracy (on the test split and on the golden "
                    "set) only: per-class recall may drop against the baseline while the model is still "
                    "blessed (see the per-class changes)."
                }
            ],
            "ethical_considerations": [
                {"name": "Clothing images carry no personal data.", "mitigation_strategy": "none needed"}
            ],
        },
    }


def render_model_card(card: dict[str, Any], record: dict[str, Any]) -> str:
    """Formats the model card as Markdown (the pictures are the files beside it).

    Args:
        card: the schema's card (`build_model_card`).
        record: the model's record (`model_record`).
    """
    details, parameters = card["model_details"], card["model_parameters"]
    considerations, evaluation = card["considerations"], record["evaluation"]
    lines = [
        f"# Model card: {details['name']}, {details['version']['name']}",
        "",
        details["overview"],
        "",
        "## Model",
        "",
        f"- architecture: {parameters['model_architecture']}",
        f"- {details['documentation']}",
        "- hyper-parameters: " + ", ".join(f"`{k}={v}`" for k, v in record["hyperparameters"].items()),
        "",
        "| signature | inputs | outputs |",
        "|---|---|---|",
    ]
    for name, signature in record["signatures"].items():
        inputs = ", ".join(f"`{k}` {v}" for k, v in signature["inputs"].items())
        outputs = ", ".join(f"`{k}` {v}" for k, v in signature["outputs"].items())
        lines.append(f"| `{name}` | {inputs} | {outputs} |")
    lines += ["", "## Data", ""]
    lines += [f"- **{d['name']}**: {d['description']}" for d in parameters["data"]]
    training = record["training"]
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
        f"- {golden_set_line(evaluation.get('golden_set'))}",
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
            f"| {row['class']} | {row['examples']} | {format_figure(row['recall'], row.get('recall_note'))} "
            f"| {format_figure(row['precision'], row.get('precision_note'))} | "
            f"{'n/a' if change is None else f'{change:+.3f}'} |"
        )
    lines += ["", f"![confusion matrix]({CONFUSION_PNG})", "", "## Known limitations", ""]
    lines += [f"- {item['description']}" for item in considerations["limitations"]]
    lines += [f"- {item['description']}" for item in considerations["tradeoffs"]]
    lines += ["", "## Lineage", ""]
    lines.append(f"- served version: `{record.get('served_version') or 'not pushed yet'}`")
    for key in ("pipeline_name", "pipeline_run_id", "report_execution_id", "code_fingerprint"):
        lines.append(f"- {key.replace('_', ' ')}: `{record.get(key)}`")
    for key, ref in record.get("artifacts", {}).items():
        if ref:
            lines.append(f"- {key}: artifact #{ref.get('artifact_id')}, `{ref['uri']}`")
    lines.append("")
    return "\n".join(lines)


def _write_json(path: str, content: dict[str, Any]) -> None:
    with tf.io.gfile.GFile(path, "w") as out:
        json.dump(content, out, indent=1)


def write_model_card(card: dict[str, Any], record: dict[str, Any], output_dir: str) -> None:
    """Writes model_card.json, model_record.json and model_card.md into `output_dir`."""
    _write_json(os.path.join(output_dir, MODEL_CARD_JSON), card)
    _write_json(os.path.join(output_dir, MODEL_RECORD_JSON), record)
    with tf.io.gfile.GFile(os.path.join(output_dir, MODEL_CARD_MARKDOWN), "w") as out:
        out.write(render_model_card(card, record))


def stamp_served_version(card_dir: str, version: str, model_path: str) -> None:
    """Names the served version in a shipped card and record, and renders the Markdown again.

    Args:
        card_dir: the folder holding the card (a pushed version's `assets.extra/`).
        version: the version number TF Serving and clients see.
        model_path: the version's path relative to the serving root (`<model name>/<version>`).
    """
    card = read_json(os.path.join(card_dir, MODEL_CARD_JSON))
    record = read_json(os.path.join(card_dir, MODEL_RECORD_JSON))
    record["served_version"] = int(version)
    card["model_details"]["version"]["name"] = model_identity(record)
    card["model_details"]["path"] = model_path
    write_model_card(card, record, card_dir)
