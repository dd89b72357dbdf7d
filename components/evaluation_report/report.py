"""Reading TFMA's output into plain numbers and rendering them as JSON, Markdown and a PNG.

One source of truth for the per-class figures: TFMA's multi-class confusion matrix of top-1
predictions. Recall (diagonal / row sum), precision (diagonal / column sum) and the accuracy the
report shows are all derived from it, so the table and the matrix cannot disagree; TFMA's own
accuracy (the figure the blessing thresholds were applied to) is checked against it.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
from tfx.dsl.io import fileio

from components.evaluator.eval_config import ACCURACY, accuracy_floor, largest_accuracy_drop
from components.evaluator.golden_set_check import GOLDEN_SET_LIMITS
from data.classes import CLASS_NAMES

REPORT_JSON = "evaluation.json"
REPORT_MARKDOWN = "evaluation.md"
CONFUSION_PNG = "confusion_matrix.png"

CANDIDATE, BASELINE = "candidate", "baseline"
NEVER_PREDICTED = "undefined: never predicted"
NO_EXAMPLES = "undefined: no test images of this class"
# TFMA's accuracy and the matrix's must agree; a difference beyond float noise means the two were
# not computed on the same predictions, and the report says so.
AGREEMENT_TOLERANCE = 1e-6


def _model_role(model_name: str) -> str | None:
    """TFMA names the models 'candidate' and 'baseline' when there is a baseline, '' when not."""
    if model_name in ("", CANDIDATE):
        return CANDIDATE
    return BASELINE if model_name == BASELINE else None


def _value(metric_value) -> float | None:
    """Returns a metric's number, or None when absent or NaN."""
    if not metric_value.HasField("double_value"):
        return None
    value = metric_value.double_value.value
    return None if math.isnan(value) else value


def per_class_from_matrix(matrix: np.ndarray) -> list[dict[str, Any]]:
    """Derives each class's recall and precision from a confusion matrix of top-1 predictions.

    Args:
        matrix: [actual, predicted] counts.

    Returns:
        One dict per class: `class_id`, `class`, `examples` (row sum), `predicted` (column sum),
        `correct`, `recall`, `precision`; an undefined figure is None with a `*_note` saying why.
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    rows = []
    for i in range(matrix.shape[0]):
        correct, examples, predicted = int(matrix[i, i]), int(matrix[i].sum()), int(matrix[:, i].sum())
        row: dict[str, Any] = {
            "class_id": i,
            "class": CLASS_NAMES[i],
            "examples": examples,
            "predicted": predicted,
            "correct": correct,
            "recall": correct / examples if examples else None,
            "precision": correct / predicted if predicted else None,
        }
        if not examples:
            row["recall_note"] = NO_EXAMPLES
        if not predicted:
            row["precision_note"] = NEVER_PREDICTED
        rows.append(row)
    return rows


def matrix_summary(matrix: np.ndarray) -> dict[str, Any]:
    """Returns accuracy, example count, mean recall and the per-class rows of one model's matrix."""
    matrix = np.asarray(matrix, dtype=np.int64)
    total = int(matrix.sum())
    per_class = per_class_from_matrix(matrix)
    recalls = [row["recall"] for row in per_class if row["recall"] is not None]
    return {
        "accuracy": float(np.trace(matrix)) / total if total else None,
        "example_count": total,
        "mean_recall": float(np.mean(recalls)) if recalls else None,
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }


def read_confusion_matrices(evaluation_uri: str) -> dict[str, np.ndarray]:
    """Returns role (candidate, baseline) -> the overall slice's confusion matrix of top-1 predictions."""
    import tensorflow_model_analysis as tfma

    n = len(CLASS_NAMES)
    matrices: dict[str, np.ndarray] = {}
    for record in tfma.load_plots(evaluation_uri):
        if record.slice_key.single_slice_keys:
            continue
        for kv in record.plot_keys_and_values:
            role = _model_role(kv.key.model_name)
            if role is None:
                continue
            matrix = matrices.setdefault(role, np.zeros((n, n), dtype=np.int64))
            # MultiClassConfusionMatrixPlot's default single threshold (0.0): each example counts
            # once, under the class of its highest probability (top-1).
            for at_threshold in kv.value.multi_class_confusion_matrix_at_thresholds.matrices[:1]:
                for entry in at_threshold.entries:
                    if entry.predicted_class_id >= 0:
                        matrix[entry.actual_class_id, entry.predicted_class_id] = round(
                            entry.num_weighted_examples
                        )
    return matrices


def read_tfma_accuracy(evaluation_uri: str) -> dict[str, float]:
    """Returns role -> TFMA's overall accuracy (the figure the thresholds were applied to)."""
    import tensorflow_model_analysis as tfma

    accuracy: dict[str, float] = {}
    for record in tfma.load_metrics(evaluation_uri):
        if record.slice_key.single_slice_keys:
            continue
        for kv in record.metric_keys_and_values:
            role, value = _model_role(kv.key.model_name), _value(kv.value)
            if kv.key.name == ACCURACY and not kv.key.is_diff and role and value is not None:
                accuracy[role] = value
    return accuracy


def read_thresholds(evaluation_uri: str) -> dict[str, float | None]:
    """Returns the accuracy floor and the largest allowed drop that the Evaluator applied.

    Read from the EvalConfig TFMA wrote beside its results (after TFX dropped the change threshold
    when there was no baseline), so the report shows what was applied, not what was configured.
    """
    from tensorflow_model_analysis.writers import eval_config_writer

    eval_config = eval_config_writer.load_eval_run(evaluation_uri)[0]
    if eval_config is None:
        return {"min_accuracy": None, "max_accuracy_drop": None}
    return {
        "min_accuracy": accuracy_floor(eval_config),
        "max_accuracy_drop": largest_accuracy_drop(eval_config),
    }


def read_validation_failures(evaluation_uri: str) -> list[dict[str, Any]]:
    """Returns TFMA's failed thresholds: metric, whether it is the change against the baseline, value."""
    import tensorflow_model_analysis as tfma

    validation = tfma.load_validation_result(evaluation_uri)
    failures = []
    for per_slice in validation.metric_validations_per_slice:
        for failure in per_slice.failures:
            failures.append(
                {
                    "metric": failure.metric_key.name,
                    "change": failure.metric_key.is_diff,
                    "value": _value(failure.metric_value),
                }
            )
    return failures


def run_relative(uri: str, pipeline_root: str | None = None) -> str:
    """Returns an artifact's path as a person reads it beside the run: relative to the pipeline root.

    A bucket URI stays whole (it names the same place on every machine); a local path loses the
    build machine's part: the pipeline root when known, else all but TFX's `<node>/<output>/<id>` tail.
    """
    if "://" in uri:
        return uri
    if pipeline_root and uri.startswith(pipeline_root.rstrip("/") + "/"):
        return uri[len(pipeline_root.rstrip("/")) + 1 :]
    return "/".join(uri.rstrip("/").split("/")[-3:])


def artifact_reference(
    uri: str | None, artifact_id: int | None, run_id: str | None = None, pipeline_root: str | None = None
) -> dict[str, Any] | None:
    """Identifies an artifact (a model, its evaluation, …): run-relative path, ML Metadata id, the run."""
    if not uri:
        return None
    return {"uri": run_relative(uri, pipeline_root), "artifact_id": artifact_id, "run": run_id}


def describe_model(reference: dict[str, Any] | None) -> str:
    """'served version 17…' or 'the candidate of run …': the one name a person reads for a model."""
    if not reference:
        return "no model"
    if reference.get("served_version") is not None:
        return f"served version {reference['served_version']}"
    if reference.get("run"):
        return f"the candidate of run {reference['run']}"
    return f"model {reference['uri']}"


def format_figure(value: float | None, note: str | None = None) -> str:
    """A table cell of the report and the model card: the figure, or why it is undefined (never blank)."""
    if value is None:
        return note or "undefined"
    return f"{value:.3f}"


def compare_per_class(candidate: list[dict], baseline: list[dict]) -> list[dict[str, Any]]:
    """Returns, per class, the candidate's and the baseline's recall and precision and their changes."""
    rows = []
    for new, old in zip(candidate, baseline, strict=True):
        row: dict[str, Any] = {"class_id": new["class_id"], "class": new["class"]}
        for metric in ("recall", "precision"):
            row[metric], row[f"baseline_{metric}"] = new[metric], old[metric]
            both = new[metric] is not None and old[metric] is not None
            row[f"{metric}_change"] = new[metric] - old[metric] if both else None
        rows.append(row)
    return rows


def golden_set_line(golden_set: dict[str, Any] | None) -> str:
    """One line on the blessing's second gate, the golden-set check (the report's and the summary's)."""
    if not golden_set:
        return "golden set: not checked"
    if "accuracy" not in golden_set:
        return f"golden set: could not run, so NOT blessed: {golden_set.get('reason')}"
    outcome = "passed" if golden_set["passed"] else "FAILED, so NOT blessed"
    return (
        f"golden set: accuracy {golden_set['accuracy']:.4f} on {golden_set['examples']:,} canonical test "
        f"images (SHA-256 verified), floor {golden_set['floor']:g}: {outcome}; {GOLDEN_SET_LIMITS}"
    )


def as_sentence(line: str) -> str:
    """A summary line as a sentence of the report: capital first letter, full stop."""
    return line[:1].upper() + line[1:] + "."


def verdict(report: dict[str, Any]) -> str:
    """Why the model was or was not blessed, against which baseline, then the golden-set check's line."""
    accuracy, thresholds, baseline = report["accuracy"], report["thresholds"], report.get("baseline")
    floor, drop = thresholds.get("min_accuracy"), thresholds.get("max_accuracy_drop")
    floor = "n/a" if floor is None else f"{floor:g}"
    golden_set = report.get("golden_set")
    # The golden set's line follows the test split's sentence: the blessing's second gate (said here
    # only: the Markdown page shows this verdict in bold at its top and does not repeat the line).
    second = f" {as_sentence(golden_set_line(golden_set))}"
    if report["blessed"]:
        sentence = f"Blessed: accuracy {accuracy:.4f} meets the floor of {floor}"
        if baseline:
            change = report["comparison"]["accuracy_change"]
            allowed = "no drop was allowed" if not drop else f"a drop of at most {drop:g} was allowed"
            return (
                sentence + f", and its change of {change:+.4f} against the baseline, "
                f"{describe_model(baseline['model'])} with accuracy {baseline['accuracy']:.4f}, "
                f"passes ({allowed})." + second
            )
        return (
            sentence
            + "; there was no blessed baseline to compare against, so only the floor applied."
            + second
        )
    reasons = []
    for failure in report["validation_failures"]:
        if failure["metric"] == ACCURACY and not failure["change"]:
            reasons.append(f"accuracy {accuracy:.4f} is below the floor of {floor}")
        elif failure["metric"] == ACCURACY and baseline:
            allowed = "no drop is allowed" if not drop else f"at most {drop:g} is allowed"
            reasons.append(f"it falls {-failure['value']:.4f} below the baseline's accuracy, where {allowed}")
        else:
            reasons.append(
                f"{failure['metric']}{' (change)' if failure['change'] else ''} failed its threshold"
            )
    if golden_set and not golden_set.get("passed"):
        reasons.append("the golden-set check failed")
    sentence = "Not blessed: " + ("; ".join(reasons) or "the Evaluator's validation failed")
    if baseline:
        return sentence + (
            f" (baseline: {describe_model(baseline['model'])}, accuracy {baseline['accuracy']:.4f}; "
            f"change {report['comparison']['accuracy_change']:+.4f})." + second
        )
    return sentence + " (no blessed baseline existed)." + second


def assemble_report(
    matrices: dict[str, np.ndarray],
    tfma_accuracy: dict[str, float],
    thresholds: dict[str, float | None],
    validation_failures: list[dict[str, Any]],
    blessed: bool,
    candidate: dict[str, Any] | None = None,
    baseline: dict[str, Any] | None = None,
    golden_set: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Builds the report from what TFMA produced (no TFMA needed: tests call it on known matrices).

    Args:
        matrices: role (candidate, baseline) -> confusion matrix of top-1 predictions.
        tfma_accuracy: role -> TFMA's accuracy, checked against the matrix's.
        thresholds: `min_accuracy` and `max_accuracy_drop` as applied (None: not applied).
        validation_failures: TFMA's failed thresholds (see `read_validation_failures`).
        blessed: the Evaluator's verdict.
        candidate: the evaluated model's reference (see `artifact_reference`).
        baseline: the baseline model's reference, when the Evaluator had one.
        golden_set: the Evaluator's golden-set check (`accuracy`, `examples`, `floor`, `passed`, or
            `reason`), the blessing's second gate.

    Returns:
        A JSON-ready dict: the candidate's figures (all derived from its confusion matrix), the
        thresholds, TFMA's failures, the baseline's figures and the per-class changes, a verdict.
    """
    report: dict[str, Any] = {
        "model": candidate,
        "blessed": blessed,
        **matrix_summary(matrices[CANDIDATE]),
        "tfma_accuracy": tfma_accuracy.get(CANDIDATE),
        "thresholds": thresholds,
        "validation_failures": validation_failures,
        "golden_set": golden_set,
        "baseline": None,
        "comparison": None,
        "warnings": [],
    }
    if BASELINE in matrices:
        report["baseline"] = {
            "model": baseline,
            **matrix_summary(matrices[BASELINE]),
            "tfma_accuracy": tfma_accuracy.get(BASELINE),
        }
        report["comparison"] = {
            "accuracy_change": report["accuracy"] - report["baseline"]["accuracy"],
            "per_class": compare_per_class(report["per_class"], report["baseline"]["per_class"]),
        }
    for role, figures in ((CANDIDATE, report), (BASELINE, report["baseline"])):
        measured = figures["tfma_accuracy"] if figures else None
        if measured is not None and abs(measured - figures["accuracy"]) > AGREEMENT_TOLERANCE:
            report["warnings"].append(
                f"the {role}'s TFMA accuracy {measured:.6f} differs from its confusion "
                f"matrix's {figures['accuracy']:.6f}"
            )
    report["verdict"] = verdict(report)
    return report


def build_report(
    evaluation_uri: str,
    blessed: bool,
    candidate: dict[str, Any] | None = None,
    baseline: dict[str, Any] | None = None,
    golden_set: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Reads the Evaluator's output folder and assembles the report (see `assemble_report`).

    Raises:
        ValueError: the evaluation holds no confusion matrix for the candidate.
    """
    matrices = read_confusion_matrices(evaluation_uri)
    if CANDIDATE not in matrices:
        raise ValueError(f"{evaluation_uri}: no MultiClassConfusionMatrixPlot for the candidate model")
    return assemble_report(
        matrices,
        read_tfma_accuracy(evaluation_uri),
        read_thresholds(evaluation_uri),
        read_validation_failures(evaluation_uri),
        blessed,
        candidate,
        baseline,
        golden_set,
    )


def _change(value: float | None) -> str:
    if value is None:
        return "n/a"
    mark = " ▼" if value < 0 else ""
    return f"{value:+.3f}{mark}"


def render_markdown(report: dict[str, Any]) -> str:
    """Formats the report as a Markdown page: verdict, comparison, per-class table, matrix."""
    accuracy, thresholds = report["accuracy"], report["thresholds"]
    baseline, comparison = report.get("baseline"), report.get("comparison")
    floor, drop = thresholds.get("min_accuracy"), thresholds.get("max_accuracy_drop")
    lines = [
        f"# Evaluation on the test split: {describe_model(report.get('model'))}",
        "",
        f"**{report['verdict']}**",
        "",
        "| | model | accuracy | test images |",
        "|---|---|---:|---:|",
        f"| candidate | {describe_model(report.get('model'))} | {accuracy:.4f} | {report['example_count']} |",
    ]
    if baseline:
        lines.append(
            f"| baseline | {describe_model(baseline.get('model'))} | {baseline['accuracy']:.4f} "
            f"| {baseline['example_count']} |"
        )
        lines.append(f"| change | | {comparison['accuracy_change']:+.4f} | |")
    else:
        lines.append("| baseline | none: no model had been blessed | | |")
    lines += [
        "",
        "Thresholds: accuracy at least "
        + ("n/a" if floor is None else f"{floor:g}")
        + "; against the baseline, "
        + (
            "not applied (no baseline)"
            if drop is None
            else ("no drop allowed" if drop == 0 else f"a drop of at most {drop:g}")
        )
        + ".",
        f"Mean recall over classes: {format_figure(report['mean_recall'])} (equals the accuracy when the "
        "classes are balanced).",
    ]
    if report.get("model"):
        lines.append(f"Candidate: `{report['model']['uri']}`.")
    if baseline and baseline.get("model"):
        lines.append(f"Baseline: `{baseline['model']['uri']}`.")
    lines += [f"- warning: {warning}" for warning in report.get("warnings", [])]
    lines += [
        "",
        "## Per class",
        "",
        "From the confusion matrix below (top-1 predictions): recall = diagonal / row sum, "
        "precision = diagonal / column sum.",
        "",
    ]
    if comparison:
        lines += [
            "| class | name | test images | predicted | recall | Δ recall | precision | Δ precision |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row, change in zip(report["per_class"], comparison["per_class"], strict=True):
            lines.append(
                f"| {row['class_id']} | {row['class']} | {row['examples']} | {row['predicted']} "
                f"| {format_figure(row['recall'], row.get('recall_note'))} "
                f"| {_change(change['recall_change'])} "
                f"| {format_figure(row['precision'], row.get('precision_note'))} "
                f"| {_change(change['precision_change'])} |"
            )
        dropped = [c for c in comparison["per_class"] if (c["recall_change"] or 0) < 0]
        lines += [
            "",
            "Δ: change against the baseline (▼ a drop). Recall dropped for: "
            + (", ".join(f"{c['class']} ({c['recall_change']:+.3f})" for c in dropped) or "no class")
            + ".",
        ]
    else:
        lines += [
            "| class | name | test images | predicted | recall | precision |",
            "|---:|---|---:|---:|---:|---:|",
        ]
        for row in report["per_class"]:
            lines.append(
                f"| {row['class_id']} | {row['class']} | {row['examples']} | {row['predicted']} "
                f"| {format_figure(row['recall'], row.get('recall_note'))} "
                f"| {format_figure(row['precision'], row.get('precision_note'))} |"
            )
    lines += ["", "## Confusion matrix", "", f"![confusion matrix]({CONFUSION_PNG})", ""]
    lines += ["| actual \\ predicted | " + " | ".join(str(i) for i in range(len(CLASS_NAMES))) + " |"]
    lines += ["|---|" + "---:|" * len(CLASS_NAMES)]
    for i, counts in enumerate(report["confusion_matrix"]):
        lines.append(f"| {i} {CLASS_NAMES[i]} | " + " | ".join(str(c) for c in counts) + " |")
    lines.append("")
    return "\n".join(lines)


def confusion_title(report: dict[str, Any]) -> str:
    """The picture's title: which model, its accuracy, on how many images."""
    accuracy = report["accuracy"]
    shown = "n/a" if accuracy is None else f"{accuracy:.4f}"
    return (
        f"Confusion matrix, test split: {describe_model(report.get('model'))}\n"
        f"accuracy {shown} on {report['example_count']:,} images"
    )


def plot_confusion_matrix(matrix: np.ndarray, path: str, title: str = "Confusion matrix, test split") -> None:
    """Draws the confusion matrix as a PNG: colour = share of the actual class, cells = counts.

    Row-normalised colour keeps the off-diagonal confusions visible next to a dominant diagonal,
    and stays comparable between classes of different sizes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import PowerNorm

    matrix = np.asarray(matrix, dtype=np.int64)
    row_sums = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, row_sums, out=np.zeros(matrix.shape), where=row_sums > 0)
    fig, ax = plt.subplots(figsize=(8.5, 7.5), dpi=100)
    # A square-root scale: confusions of a few percent stay visible beside a diagonal near 1.
    image = ax.imshow(shares, cmap="Blues", norm=PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0))
    colorbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label("share of the actual class's images (square-root scale)")
    ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(
        range(len(CLASS_NAMES)),
        [f"{name} ({int(n)})" for name, n in zip(CLASS_NAMES, row_sums[:, 0], strict=True)],
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual (test images)")
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            ax.text(
                col,
                row,
                str(count),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if shares[row, col] > 0.35 else "black",
            )
    ax.set_title(title)
    fig.tight_layout()
    with fileio.open(path, "wb") as out:
        fig.savefig(out, format="png", bbox_inches="tight")  # long tick labels must not clip the axis title
    plt.close(fig)


def write_report(
    evaluation_uri: str,
    blessed: bool,
    output_dir: str,
    candidate: dict[str, Any] | None = None,
    baseline: dict[str, Any] | None = None,
    golden_set: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Writes evaluation.json, evaluation.md and confusion_matrix.png into `output_dir`.

    Returns:
        The report dict (as in evaluation.json).
    """
    report = build_report(evaluation_uri, blessed, candidate, baseline, golden_set)
    fileio.makedirs(output_dir)
    with fileio.open(os.path.join(output_dir, REPORT_JSON), "w") as out:
        json.dump(report, out, indent=2)
    with fileio.open(os.path.join(output_dir, REPORT_MARKDOWN), "w") as out:
        out.write(render_markdown(report))
    plot_confusion_matrix(
        np.array(report["confusion_matrix"]), os.path.join(output_dir, CONFUSION_PNG), confusion_title(report)
    )
    return report
