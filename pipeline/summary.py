"""The end-of-run summary: what ran or was cached, how long each took, and what came out."""

from __future__ import annotations

import errno
import json
import os
import posixpath
import sys

import tensorflow as tf
from tfx.dsl.io import fileio
from tfx.utils import path_utils

from components.anomaly_gate.component import ANOMALIES_PROPERTY
from components.evaluation_report.component import SUMMARY_PROPERTY as REPORT_SUMMARY_PROPERTY
from components.evaluation_report.report import golden_set_line
from components.evaluator.golden_set_check import GOLDEN_SET_PROPERTY
from components.example_gen import spec as example_gen_spec
from components.pusher.properties import (
    ALREADY_SERVING_PROPERTY,
    PUSHED_DESTINATION_PROPERTY,
    PUSHED_PROPERTY,
    PUSHED_VERSION_PROPERTY,
    STAGED_DESTINATION_PROPERTY,
)
from components.serving_check.component import RESULT_PROPERTY as SMOKE_RESULT_PROPERTY
from data.classes import CLASS_NAMES
from data.splits import SPLITS
from models.console import format_hyperparameters
from models.trainer import HYPERPARAMETERS_JSON
from models.tuner import TRIALS_JSON
from pipeline import nodes
from pipeline.config import is_uri
from pipeline.local_runner import RunResult
from pipeline.metadata import json_property
from serving.push import MODELS_CONFIG, TF_SERVING_IMAGE, serving_root_as_seen
from serving.signatures import ASSETS_EXTRA


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def split_class_counts(result: RunResult) -> dict[str, dict[str, int]] | None:
    """Returns split -> class id -> count, from the ExampleGen artifact this run used."""
    run = result.component(nodes.EXAMPLE_GEN)
    if run is None:
        return None
    return json_property(run, example_gen_spec.EXAMPLES, example_gen_spec.CLASS_COUNTS_PROPERTY)


def _read_json(path: str, kind: type):
    # The summary reports what it can: a missing, damaged or odd file is left out, never a traceback.
    try:
        with fileio.open(path) as source:
            value = json.load(source)
    except (OSError, ValueError, tf.errors.OpError):
        return None
    return value if isinstance(value, kind) else None


def tuner_line(trials: list[dict], tuner: str | None) -> str:
    """Returns how the search's best trial compares with its first (a random search's first trial is
    the defaults, the profile's recipe)."""
    scored = [t for t in trials if isinstance(t, dict) and isinstance(t.get("score"), (int, float))]
    if not scored:
        return "  Tuner: no trial finished"
    best = max(scored, key=lambda t: t["score"])
    first = scored[0]
    line = f"  Tuner: best of {len(trials)} trials: trial {best.get('trial', '?')} ({best['score']:.3f})"
    if tuner == "random" and best is not first:
        line += f"; the defaults' trial {first.get('trial', '?')}: {first['score']:.3f}"
    elif tuner == "random":
        line += ", the defaults' trial"
    return line


def model_lines(result: RunResult) -> list[str]:
    """Returns what the search found, what the Trainer trained with, and where the model and curves are."""
    lines = []
    tuner = result.component(nodes.TUNER)
    trainer = result.component(nodes.TRAINER)
    trained = None
    if trainer is not None and trainer.outputs.get("model_run"):
        trained = _read_json(posixpath.join(trainer.outputs["model_run"][0][0], HYPERPARAMETERS_JSON), dict)
    if tuner is not None and tuner.outputs.get("best_hyperparameters"):
        path = posixpath.join(tuner.outputs["best_hyperparameters"][0][0], "best_hyperparameters.txt")
        best = _read_json(path, dict)
        trials_dir = tuner.outputs["tuner_results"][0][0]
        trials = _read_json(posixpath.join(trials_dir, TRIALS_JSON), list)
        lines.append("")
        if trials:
            lines.append(tuner_line(trials, ((trained or {}).get("settings") or {}).get("tuner")))
        if trained and trained.get("source") == "defaults":
            lines.append(
                f"  trained: the profile's recipe, {format_hyperparameters(trained.get('values', {}))} "
                f"(use_tuned is off: short trials do not rank long trainings; trials: {trials_dir})"
            )
        elif best is not None:
            values = best.get("values", {})
            lines.append(f"  tuned: {format_hyperparameters(values)}  (trials: {trials_dir})")
    if trainer is not None and trainer.outputs.get("model"):
        lines += [] if lines else [""]
        lines.append(f"  trained model:  {path_utils.serving_model_dir(trainer.outputs['model'][0][0])}")
        lines.append(f"  training curves and TensorBoard logs: {trainer.outputs['model_run'][0][0]}")
    return lines


def data_lines(result: RunResult) -> list[str]:
    """Returns which data the run trained on, loudly when it is not the canonical Fashion-MNIST."""
    run = result.component(nodes.EXAMPLE_GEN)
    props = run.outputs.get(example_gen_spec.EXAMPLES, [("", {})])[0][1] if run else {}
    description = props.get(example_gen_spec.DESCRIPTION_PROPERTY)
    if not description:
        return []
    if props.get(example_gen_spec.PROVENANCE_PROPERTY) == "canonical":
        return [f"  data: {description}"]  # under the class balance it describes
    return ["", f"  WARNING: trained on {description}"]


def golden_set_lines(result: RunResult) -> list[str]:
    """Returns the golden-set verdict the blessing depends on (see components/evaluator)."""
    evaluator = result.component(nodes.EVALUATOR)
    verdict = json_property(evaluator, "blessing", GOLDEN_SET_PROPERTY) if evaluator else None
    return [f"  {golden_set_line(verdict)}"] if verdict else []


def pushed_version(result: RunResult) -> dict[str, str | bool] | None:
    """Returns this run's push, if any: `version`, `destination`, `staged` and `already` (serving)."""
    pusher = result.component(nodes.PUSHER)
    for _, props in pusher.outputs.get("pushed_model", []) if pusher else []:
        if props.get(PUSHED_PROPERTY) == 1:
            destination = str(props.get(PUSHED_DESTINATION_PROPERTY, "")).rstrip("/")
            return {
                "version": str(props.get(PUSHED_VERSION_PROPERTY) or posixpath.basename(destination)),
                "destination": destination,
                "staged": str(props.get(STAGED_DESTINATION_PROPERTY) or ""),
                "already": props.get(ALREADY_SERVING_PROPERTY) == 1,
            }
    return None


def served_version(result: RunResult) -> str | None:
    """The version this run pushed, if clients can load it now (published, and still there)."""
    pushed = pushed_version(result)
    return str(pushed["version"]) if pushed and fileio.exists(str(pushed["destination"])) else None


def release_lines(result: RunResult) -> list[str]:
    """Returns test accuracy, both blessing gates, the served version pushed and the smoke check's verdict."""
    lines: list[str] = []
    report = result.component(nodes.EVALUATION_REPORT)
    headline = json_property(report, "report", REPORT_SUMMARY_PROPERTY) if report else None
    if headline:
        accuracy = headline.get("accuracy")
        shown = f"{accuracy:.4f}" if accuracy is not None else "n/a"
        verdict = "BLESSED" if headline["blessed"] else "NOT blessed"
        lines += ["", f"  test accuracy: {shown} on {headline['example_count']} images; {verdict}"]
        lines += [f"    {headline['verdict']}"] if headline.get("verdict") else []
    # The report's verdict names the golden set; without a report (a run stopped after the Evaluator)
    # the check's own line does.
    lines += [] if headline else golden_set_lines(result)
    if headline:
        for uri, _ in report.outputs.get("report", []):
            lines.append(f"  evaluation report: {uri}/evaluation.md")
    pushed = pushed_version(result)
    if pushed:
        version, destination, staged = pushed["version"], str(pushed["destination"]), str(pushed["staged"])
        where = posixpath.dirname(destination)
        if not fileio.exists(destination) and staged and fileio.exists(staged):
            lines.append(f"  staged, not yet published (the smoke check publishes it): {staged}")
        elif not fileio.exists(destination):
            # Reused from an earlier run but deleted since: the error line says what to do.
            lines.append(f"  NOT served: {destination} no longer exists")
            return lines
        elif pushed["already"]:
            lines.append(f"  already serving: served version {version}, in {where}/ (nothing new pushed)")
        else:
            lines.append(
                f"  pushed: served version {version}, in {where}/ (model card in its {ASSETS_EXTRA}/)"
            )
    elif result.component(nodes.PUSHER) is not None:
        lines.append("  not pushed: only blessed models ship; the served version is unchanged")
    check = result.component(nodes.SMOKE_CHECK)
    outcome = json_property(check, "result", SMOKE_RESULT_PROPERTY) if check else None
    if outcome and outcome.get("checked") and not fileio.exists(outcome["models_config"]):
        lines.append(f"  TF Serving config {outcome['models_config']} no longer exists")
    elif outcome and outcome.get("checked"):
        replayed = (outcome.get("tf_serving_loader") or {}).get("warmup_requests_replayed")
        loader = f" (as TF Serving loads it: {replayed} warm-up requests replayed)" if replayed else ""
        lines.append(
            f"  smoke check: loaded in a fresh process{loader}, {len(outcome['signatures'])} signatures "
            f"answered on {outcome['canary_images']} canary images; "
            f"TF Serving config {outcome['models_config']}"
        )
    return lines


def tool(name: str) -> str:
    """A command of this environment by its path (`.venv/bin/tensorboard`), so it runs as printed."""
    return os.path.join(os.path.dirname(sys.executable), name)


def tensorboard_command(result: RunResult) -> str | None:
    """Returns the TensorBoard command over the run's logs: curves, the trials' HParams, the projector.

    One local `--logdir` (the projector needs it): runs are then named by the component that wrote
    them, `Trainer/model_run/<id>/train`, `Tuner/tuner_results/<id>/hparams/trial-01`.
    """
    if result.component(nodes.TRAINER) is None and result.component(nodes.TUNER) is None:
        return None
    return f"{tool('tensorboard')} --logdir {result.config.pipeline_root}"


def mount_source(folder: str) -> str:
    """A folder as `docker run --mount source=` takes it: absolute, via `$PWD` when under this folder
    (the summary shortens the paths under the current folder, which a bind mount would not accept)."""
    absolute, here = os.path.abspath(folder), os.path.join(os.getcwd(), "")
    return "$PWD/" + absolute[len(here) :] if absolute.startswith(here) else absolute


def next_step_lines(result: RunResult) -> list[str]:
    """Returns the exact commands to try the model this run pushed, look at its logs and trace it."""
    config = result.config
    serving = str(config.serving_dir)
    lines = []
    if served_version(result):
        lines.append(
            f"    {tool('fashion-tfx')} predict --serving-root {serving} --index 0 --index 17 --split test"
        )
        seen_as = serving_root_as_seen(serving, config.serving_base_path)
        config_file = posixpath.join(seen_as, MODELS_CONFIG)
        mount = (
            ""
            if is_uri(seen_as)
            else f'--mount type=bind,source="{mount_source(serving)}",target={seen_as},readonly '
        )
        lines.append(
            f"    docker run --rm -p 8500:8500 -p 8501:8501 {mount}{TF_SERVING_IMAGE} "
            f"--model_config_file={config_file}"
        )
    board = tensorboard_command(result)
    lines += [f"    {board}"] if board else []
    if served_version(result) and not is_uri(str(config.root)):
        lines.append(f"    {tool('python')} -m pipeline.lineage --root {config.root}")
    return ["", "  next steps:", *lines] if lines else []


def component_line(result: RunResult) -> str:
    """Returns how many components executed, were cached or resolved, and the three longest."""
    executed = sum(r.state == "executed" for r in result.components)
    cached = sum(r.state == "cached" for r in result.components)
    resolved = sum(r.state == "resolved" for r in result.components)
    # Resolver nodes exist only in pipelines that still use them (this factory no longer does).
    line = f"  {executed} executed, {cached} cached" + (f", {resolved} resolved" if resolved else "")
    longest = sorted((r for r in result.components if r.state == "executed"), key=lambda r: -r.seconds)[:3]
    if longest:
        line += "; longest: " + ", ".join(f"{r.node_id} {_duration(r.seconds)}" for r in longest)
    return line


def render(result: RunResult) -> str:
    """Formats the run summary as plain text."""
    config = result.config
    status = "finished" if result.ok else "INTERRUPTED" if result.interrupted else "FAILED"
    lines = [f"fashion-tfx: {config.profile} profile {status} in {_duration(result.seconds)}"]
    # Each component's line was on the progress display; the summary keeps the totals.
    lines.append(component_line(result))
    if result.metadata_error:
        lines.append(f"  could not read ML Metadata back ({result.metadata_error}): what ran is unknown")
    counts = split_class_counts(result)
    if counts:
        lines += ["", "  splits and class balance:"]
        header = "".join(f"{i:>7}" for i in range(len(CLASS_NAMES)))
        lines.append(f"  {'split':<6}{'total':>8}{header}")
        for split, per_class in sorted(counts.items(), key=lambda item: SPLITS.index(item[0])):
            row = "".join(f"{per_class.get(str(i), 0):>7}" for i in range(len(CLASS_NAMES)))
            lines.append(f"  {split:<6}{sum(per_class.values()):>8}{row}")
        lines.append("  classes: " + ", ".join(f"{i} {name}" for i, name in enumerate(CLASS_NAMES)))
    lines += data_lines(result)
    gate = result.component(nodes.ANOMALY_GATE)
    anomalies = json_property(gate, "verdict", ANOMALIES_PROPERTY) if gate else None
    if anomalies:
        lines += ["", "  data anomalies (the run went on: stop_on_anomalies is off):"]
        lines += [f"    {split}: {line}" for split, found in anomalies.items() for line in found]
    lines += model_lines(result)
    lines += release_lines(result)
    lines += next_step_lines(result) if result.ok else []
    lines += ["", f"  artifacts:   {config.pipeline_root}", f"  ML Metadata: {config.metadata_path}"]
    if result.log_path:
        incomplete = f" (incomplete: {result.log_error})" if result.log_error else ""
        lines.append(f"  log (everything the libraries printed): {result.log_path}{incomplete}")
    if result.interrupted:
        lines += ["", *interrupted_lines(result)]
    elif not result.ok:
        failed = [r.node_id for r in result.components if r.state in ("failed", "running")]
        where = f" in {failed[0]}" if failed else ""
        lines += ["", f"error{where}: {error_line(result)}"]
    return relative_to_cwd("\n".join(lines))


# What SQLite (ML Metadata), the OS and TensorFlow's file layer say when a disk fills up.
_DISK_FULL = ("database or disk is full", "No space left on device", "Disk quota exceeded")
_MAX_ERROR_CHARS = 600


def error_line(result: RunResult) -> str:
    """Returns the run's error as one line: a full disk said plainly, anything else its first line."""
    error = result.error
    text = str(error) or type(error).__name__
    if (isinstance(error, OSError) and error.errno == errno.ENOSPC) or any(s in text for s in _DISK_FULL):
        return (
            f"the disk holding {result.config.root} is full ({_first_line(text)}); free some space and "
            "rerun the same command: finished steps are reused"
        )
    return _first_line(text)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    # ML Metadata's errors quote the whole SQL statement after the reason.
    line = line.split(" query: ", 1)[0]
    return line if len(line) <= _MAX_ERROR_CHARS else line[: _MAX_ERROR_CHARS - 1] + "…"


def relative_to_cwd(text: str) -> str:
    """Shortens the paths inside the current folder (`runs/local/…` rather than `/home/…/runs/local/…`)."""
    return text.replace(os.path.join(os.getcwd(), ""), "")


def interrupted_lines(result: RunResult) -> list[str]:
    """Says what an interrupted run finished, what it stopped, and that the same command resumes it."""
    done = [r.node_id for r in result.components if r.state in ("executed", "cached", "resolved")]
    stopped = [r.node_id for r in result.components if r.state in ("running", "new")]
    lines = [f"{result.error} after {len(done)} finished step(s)"]
    if stopped:
        lines[0] += f", during {', '.join(stopped)}"
    lines.append(
        "  rerun the same command to resume: finished steps are reused (shown as cached), the interrupted "
        "one starts again"
    )
    return lines
