"""The end-of-run summary: what ran or was cached, how long each took, and what came out."""

from __future__ import annotations

import json
import posixpath

from tfx.dsl.io import fileio

from fashion_tfx.components.drift_gate.component import ANOMALIES_PROPERTY
from fashion_tfx.components.evaluation_report.component import SUMMARY_PROPERTY as REPORT_SUMMARY_PROPERTY
from fashion_tfx.components.example_gen import spec as example_gen_spec
from fashion_tfx.components.serving_check.component import RESULT_PROPERTY as SMOKE_RESULT_PROPERTY
from fashion_tfx.data.fashion_mnist import CLASS_NAMES
from fashion_tfx.data.splits import SPLITS
from fashion_tfx.pipeline.local_runner import RunResult
from fashion_tfx.pipeline.metadata import json_property


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def split_class_counts(result: RunResult) -> dict[str, dict[str, int]] | None:
    """Returns split -> class id -> count, from the ExampleGen artifact this run used."""
    run = result.component("IdxExampleGen")
    if run is None:
        return None
    return json_property(run, example_gen_spec.EXAMPLES, example_gen_spec.CLASS_COUNTS_PROPERTY)


def model_lines(result: RunResult) -> list[str]:
    """Returns the tuned hyper-parameters and where the trained model and its curves are, if they ran."""
    lines = []
    tuner = result.component("Tuner")
    if tuner is not None and tuner.outputs.get("best_hyperparameters"):
        path = posixpath.join(tuner.outputs["best_hyperparameters"][0][0], "best_hyperparameters.txt")
        if fileio.exists(path):
            with fileio.open(path) as source:
                values = json.load(source).get("values", {})
            shown = {k: v for k, v in values.items() if not k.startswith("tuner/")}
            lines += ["", "  tuned hyper-parameters: " + ", ".join(f"{k}={v}" for k, v in shown.items())]
            lines.append(f"  tuning trials:  {tuner.outputs['tuner_results'][0][0]}")
    trainer = result.component("Trainer")
    if trainer is not None and trainer.outputs.get("model"):
        lines += [] if lines else [""]
        lines.append(f"  trained model:  {trainer.outputs['model'][0][0]}/Format-Serving")
        lines.append(f"  training curves and TensorBoard logs: {trainer.outputs['model_run'][0][0]}")
    return lines


def release_lines(result: RunResult) -> list[str]:
    """Returns test accuracy, the blessing, where the model was pushed and the smoke check's verdict."""
    lines: list[str] = []
    report = result.component("EvaluationReport")
    headline = json_property(report, "report", REPORT_SUMMARY_PROPERTY) if report else None
    if headline:
        accuracy = headline.get("accuracy")
        shown = f"{accuracy:.4f}" if accuracy is not None else "n/a"
        verdict = "BLESSED" if headline["blessed"] else "NOT blessed"
        lines += ["", f"  test accuracy: {shown} on {headline['example_count']} images; {verdict}"]
        lines += [f"    failed: {failure}" for failure in headline.get("validation_failures", [])]
        for uri, _ in report.outputs.get("report", []):
            lines.append(f"  evaluation report: {uri}/evaluation.md")
    pusher = result.component("Pusher")
    for _, props in pusher.outputs.get("pushed_model", []) if pusher else []:
        if props.get("pushed") == 1 and props.get("already_serving") == 1:
            lines.append(f"  already serving: {props.get('pushed_destination')} (no new version pushed)")
        elif props.get("pushed") == 1:
            lines.append(f"  pushed to: {props.get('pushed_destination')}")
        else:
            lines.append("  not pushed: only blessed models ship; the served version is unchanged")
    check = result.component("ServingSmokeCheck")
    outcome = json_property(check, "result", SMOKE_RESULT_PROPERTY) if check else None
    if outcome and outcome.get("checked"):
        lines.append(
            f"  smoke check: loaded in a fresh process, {len(outcome['signatures'])} signatures answered "
            f"on {outcome['canary_images']} canary images; TF Serving config {outcome['models_config']}"
        )
    return lines


def render(result: RunResult) -> str:
    """Formats the run summary as plain text."""
    config = result.config
    status = "finished" if result.ok else "FAILED"
    lines = [f"fashion-tfx: {config.profile} profile {status} in {_duration(result.seconds)}", ""]
    width = max([len(c.node_id) for c in result.components] + [9])
    lines.append(f"  {'component':<{width}}  {'state':<8}  {'time':>8}")
    for run in result.components:
        lines.append(f"  {run.node_id:<{width}}  {run.state:<8}  {_duration(run.seconds):>8}")
    executed = sum(r.state == "executed" for r in result.components)
    cached = sum(r.state == "cached" for r in result.components)
    resolved = sum(r.state == "resolved" for r in result.components)
    lines.append(f"  {executed} executed, {cached} cached, {resolved} resolved")
    counts = split_class_counts(result)
    if counts:
        lines += ["", "  splits and class balance:"]
        header = "".join(f"{i:>7}" for i in range(len(CLASS_NAMES)))
        lines.append(f"  {'split':<6}{'total':>8}{header}")
        for split, per_class in sorted(counts.items(), key=lambda item: SPLITS.index(item[0])):
            row = "".join(f"{per_class.get(str(i), 0):>7}" for i in range(len(CLASS_NAMES)))
            lines.append(f"  {split:<6}{sum(per_class.values()):>8}{row}")
        lines.append("  classes: " + ", ".join(f"{i} {name}" for i, name in enumerate(CLASS_NAMES)))
    gate = result.component("DriftGate")
    anomalies = json_property(gate, "verdict", ANOMALIES_PROPERTY) if gate else None
    if anomalies:
        lines += ["", "  data anomalies (the run went on: stop_on_anomalies is off):"]
        lines += [f"    {split}: {line}" for split, found in anomalies.items() for line in found]
    lines += model_lines(result)
    lines += release_lines(result)
    lines += ["", f"  artifacts:   {config.pipeline_root}", f"  ML Metadata: {config.metadata_path}"]
    if not result.ok:
        failed = [r.node_id for r in result.components if r.state in ("failed", "running")]
        where = f" in {failed[0]}" if failed else ""
        lines += ["", f"error{where}: {result.error}"]
    return "\n".join(lines)
