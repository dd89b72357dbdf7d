"""Reading TFMA's output into plain numbers and rendering them as JSON, Markdown and a PNG."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
import tensorflow_model_analysis as tfma
from tfx.dsl.io import fileio

from fashion_tfx.data.fashion_mnist import CLASS_NAMES
from fashion_tfx.pipeline.evaluation import ACCURACY

REPORT_JSON = "evaluation.json"
REPORT_MARKDOWN = "evaluation.md"
CONFUSION_PNG = "confusion_matrix.png"


def _value(metric_value) -> float | None:
    """Returns a metric's number, or None when absent or undefined (NaN: e.g. precision of a class
    that was never predicted)."""
    if not metric_value.HasField("double_value"):
        return None
    value = metric_value.double_value.value
    return None if math.isnan(value) else value


def _failure(failure) -> str:
    bounds = failure.metric_threshold
    parts = []
    if bounds.HasField("value_threshold"):
        parts.append(f"at least {bounds.value_threshold.lower_bound.value:g}")
    if bounds.HasField("change_threshold"):
        parts.append(f"a change of at least {bounds.change_threshold.absolute.value:g} against the baseline")
    value = _value(failure.metric_value)
    shown = "n/a" if value is None else f"{value:.4f}"
    name = failure.metric_key.name + (" (change)" if failure.metric_key.is_diff else "")
    return f"{name} = {shown}, needs {' and '.join(parts)}"


def read_evaluation(evaluation_uri: str, blessed: bool) -> dict[str, Any]:
    """Collects accuracy, example count, per-class precision/recall and the confusion matrix.

    Args:
        evaluation_uri: the Evaluator's `evaluation` artifact folder.
        blessed: the Evaluator's verdict.

    Returns:
        A JSON-ready dict.
    """
    overall: dict[str, float] = {}
    per_class = {i: {"class": CLASS_NAMES[i]} for i in range(len(CLASS_NAMES))}
    for record in tfma.load_metrics(evaluation_uri):
        keys = record.slice_key.single_slice_keys
        for kv in record.metric_keys_and_values:
            key, value = kv.key, _value(kv.value)
            # With a baseline, TFMA also reports the baseline's metrics and the differences.
            if value is None or key.is_diff or key.model_name not in ("", "candidate"):
                continue
            if not keys:
                if key.sub_key.HasField("class_id"):
                    per_class[key.sub_key.class_id.value][key.name] = value
                elif key.name in (ACCURACY, "example_count"):
                    overall[key.name] = value
            elif keys[0].column == "label" and key.name == "example_count" and not key.sub_key.ListFields():
                per_class[int(keys[0].int64_value)]["examples"] = int(value)
    matrix = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)), dtype=np.int64)
    for record in tfma.load_plots(evaluation_uri):
        if record.slice_key.single_slice_keys:
            continue
        for kv in record.plot_keys_and_values:
            if kv.key.model_name not in ("", "candidate"):
                continue
            # MultiClassConfusionMatrixPlot's single default threshold (0.0): the argmax class.
            for at_threshold in kv.value.multi_class_confusion_matrix_at_thresholds.matrices[:1]:
                for entry in at_threshold.entries:
                    if entry.predicted_class_id >= 0:
                        matrix[entry.actual_class_id, entry.predicted_class_id] = int(
                            entry.num_weighted_examples
                        )
    validation = tfma.load_validation_result(evaluation_uri)
    failures = [
        _failure(f) for per_slice in validation.metric_validations_per_slice for f in per_slice.failures
    ]
    return {
        "accuracy": overall.get(ACCURACY),
        "example_count": int(overall.get("example_count", matrix.sum())),
        "blessed": blessed,
        "validation_failures": failures,
        "per_class": [per_class[i] for i in range(len(CLASS_NAMES))],
        "confusion_matrix": matrix.tolist(),
    }


def render_markdown(report: dict[str, Any]) -> str:
    """Formats the report as a Markdown page."""
    accuracy = report["accuracy"]
    lines = [
        "# Evaluation on the test split",
        "",
        f"- accuracy: **{accuracy:.4f}**" if accuracy is not None else "- accuracy: not computed",
        f"- examples: {report['example_count']}",
        f"- blessed: **{'yes' if report['blessed'] else 'no'}**",
    ]
    lines += [f"- failed threshold: {failure}" for failure in report["validation_failures"]]
    lines += ["", "| class | name | precision | recall | examples |", "|---:|---|---:|---:|---:|"]
    for i, row in enumerate(report["per_class"]):
        precision, recall = row.get("precision"), row.get("recall")
        lines.append(
            f"| {i} | {row['class']} | {'' if precision is None else f'{precision:.3f}'} | "
            f"{'' if recall is None else f'{recall:.3f}'} | {row.get('examples', '')} |"
        )
    lines += ["", f"![confusion matrix]({CONFUSION_PNG})", ""]
    return "\n".join(lines)


def plot_confusion_matrix(matrix: np.ndarray, path: str) -> None:
    """Draws the confusion matrix, with counts in the cells, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 7), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    threshold = matrix.max() / 2 if matrix.max() else 1
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(
            col,
            row,
            str(count),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if count > threshold else "black",
        )
    ax.set_title("Confusion matrix, test split")
    fig.tight_layout()
    with fileio.open(path, "wb") as out:
        fig.savefig(out, format="png")
    plt.close(fig)


def write_report(evaluation_uri: str, blessed: bool, output_dir: str) -> dict[str, Any]:
    """Writes evaluation.json, evaluation.md and confusion_matrix.png into `output_dir`."""
    report = read_evaluation(evaluation_uri, blessed)
    fileio.makedirs(output_dir)
    with fileio.open(os.path.join(output_dir, REPORT_JSON), "w") as out:
        json.dump(report, out, indent=2)
    with fileio.open(os.path.join(output_dir, REPORT_MARKDOWN), "w") as out:
        out.write(render_markdown(report))
    plot_confusion_matrix(np.array(report["confusion_matrix"]), os.path.join(output_dir, CONFUSION_PNG))
    return report
