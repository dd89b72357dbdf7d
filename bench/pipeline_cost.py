"""The pipeline's own cost: a profile end to end, per-component wall time and peak memory.

Run as `python -m bench.pipeline_cost [--profile quick]`. Also measures the "TFX tax": the same
model trained by a plain Keras script on the same data for the same epochs, without any pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import figure, write_results
from models.settings import AUTO, FLOAT32
from pipeline import nodes
from pipeline.config import METADATA_FILE, make_config

PEAK_RSS_TARGET_GB = 6.0
# Issue #23's goals, cold (fresh root, no cache) on 2 cores: (most seconds end to end, least test accuracy).
FULL_PROFILE = "full"
GOALS = {"quick": (600, 0.93), FULL_PROFILE: (5400, 0.95)}
TFX_TAX_TARGET = 1.3
# A run that trained in float32 because the CPU has no bfloat16 units: its results sit beside the
# profile's own (pipeline_cost_float32.json), whose targets were set on a CPU with them.
FLOAT32_SUFFIX = f"_{FLOAT32}"
# The figures bench.report reads back (its table of the full profile's seeds).
END_TO_END_WHAT = "{profile} profile end to end (cold: fresh root, no cache)"
BLESSED_WHAT = "model blessed by the Evaluator"
TEST_ACCURACY_WHAT = "test accuracy (10,000 official test images, through serving_default)"


def run_pipeline_subprocess(profile: str, root: Path, extra: list[str]) -> tuple[float, float, str]:
    """Runs `fashion-tfx run` in a child process; returns (wall seconds, peak RSS in GB, stdout)."""
    command = [
        str(Path(sys.executable).with_name("fashion-tfx")),
        "run",
        "--profile",
        profile,
        "--root",
        str(root),
    ]
    started = time.perf_counter()
    process = subprocess.run(command + extra, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(
            f"pipeline run failed ({process.returncode}):\n{process.stdout}\n{process.stderr[-3000:]}"
        )
    # ru_maxrss of the children: the largest resident set any finished child reached, in KB on Linux.
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    return seconds, peak_gb, process.stdout


def component_times(root: Path) -> dict[str, float]:
    """Per-component wall time of the run, from ML Metadata."""
    from pipeline.metadata import component_runs

    return {run.node_id: round(run.seconds, 2) for run in component_runs(root / METADATA_FILE)}


def trained_arithmetic(root: Path) -> str | None:
    """The arithmetic the run's Trainer trained in, as it recorded (None: no Trainer output, or a run
    recorded before the Trainer wrote it)."""
    from bench.plain_keras import run_details
    from models.trainer import ARITHMETIC

    try:
        return run_details(root)[ARITHMETIC]
    except FileNotFoundError:
        return None


def main(argv: list[str] | None = None) -> None:
    """Measures and writes bench/results/pipeline_cost.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--root", help="run root (default: a fresh temporary folder)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the plain Keras baseline")
    parser.add_argument(
        "--seed",
        type=int,
        help="the run's seed (its eval split and training); the results file is then named after it "
        "(pipeline_cost_full_seed1.json), so a second seed sits beside the profile's own",
    )
    args = parser.parse_args(argv)
    load_start = os.getloadavg()
    root = Path(args.root or tempfile.mkdtemp(prefix="bench-pipeline-"))
    seed_args = ["--seed", str(args.seed)] if args.seed is not None else []
    seconds, peak_gb, summary = run_pipeline_subprocess(args.profile, root, ["--no-cache", *seed_args])
    times = component_times(root)
    most_seconds, least_accuracy = GOALS.get(args.profile, (None, None))
    figures = [
        figure(
            END_TO_END_WHAT.format(profile=args.profile),
            round(seconds, 1),
            "s",
            target=f"≤ {most_seconds} s" if most_seconds else "",
            met=seconds <= most_seconds if most_seconds else None,
        ),
        figure(
            "peak RSS of the pipeline process",
            round(peak_gb, 2),
            "GB",
            target=f"≤ {PEAK_RSS_TARGET_GB} GB",
            met=peak_gb <= PEAK_RSS_TARGET_GB,
        ),
    ]
    figures += [figure(f"{name} wall time", value, "s") for name, value in times.items()]
    figures += model_figures(root, least_accuracy)
    plain: dict = {}
    tax = None if args.no_baseline else tfx_tax(root, seconds, plain)
    if tax:
        figures.append(tax)
    name = "pipeline_cost" if args.profile == "quick" else f"pipeline_cost_{args.profile}"
    reproduce = f".venv/bin/python -m bench.pipeline_cost --profile {args.profile}"
    if args.seed is not None:
        name, reproduce = f"{name}_seed{args.seed}", f"{reproduce} --seed {args.seed}"
    arithmetic = trained_arithmetic(root)
    if arithmetic == FLOAT32 and make_config(args.profile, root).model.precision == AUTO:
        name += FLOAT32_SUFFIX  # the CPU had no bfloat16 units
    path = write_results(
        name,
        figures,
        {
            "reproduce": reproduce + (" --no-baseline" if args.no_baseline else ""),
            "profile": args.profile,
            "seed": args.seed if args.seed is not None else make_config(args.profile, root).seed,
            "test_time_flip": exported_averaging(root),
            "arithmetic": arithmetic,
            "root": str(root),
            "component_seconds": times,
            "plain_keras": plain,
            "load_average_at_start": load_start,
            "load_average_at_end": os.getloadavg(),
            "summary": summary[-4000:],
            "notes": (
                (
                    "Training ran in float32, as this CPU showed no bfloat16 units; the profile's time "
                    "targets were set on CPUs with them. "
                    if name.endswith(FLOAT32_SUFFIX)
                    else ""
                )
                + "The plain Keras baseline trains the Trainer's model (its hyper-parameters) on the run's "
                "upscaled examples decoded once into NumPy, for the epochs the Trainer ran, and tests it; "
                "it does not ingest, tune, upscale, export, evaluate with TFMA or push, so the ratio "
                "counts all of that as the pipeline's tax (see details.plain_keras and component_seconds)."
            ),
        },
    )
    print(json.dumps(figures, indent=2))
    print(f"wrote {path}")


def exported_averaging(root: Path) -> bool | None:
    """Whether the run's export averages each image with its mirror image, as its Trainer recorded
    (None: no Trainer output)."""
    from bench.plain_keras import run_details

    try:
        return bool(run_details(root)["settings"].get("test_time_flip"))
    except FileNotFoundError:
        return None


def model_figures(root: Path, least_accuracy: float | None = None) -> list:
    """The trained model's test accuracy and blessing, from the EvaluationReport and the Evaluator."""
    from pipeline.metadata import component_runs

    runs = {run.node_id: run for run in component_runs(root / METADATA_FILE)}
    figures = []
    evaluator = runs.get(nodes.EVALUATOR)
    if evaluator and evaluator.outputs.get("blessing"):
        blessed = bool(evaluator.outputs["blessing"][0][1].get("blessed"))
        figures.append(figure(BLESSED_WHAT, int(blessed), "", met=blessed))
    report = runs.get(nodes.EVALUATION_REPORT)
    if report and report.outputs.get("report"):
        evaluation = json.loads(Path(report.outputs["report"][0][0], "evaluation.json").read_text())
        accuracy = evaluation.get("accuracy")
        if accuracy is not None:
            figures.append(
                figure(
                    TEST_ACCURACY_WHAT,
                    round(float(accuracy), 4),
                    "",
                    target=f"≥ {least_accuracy}" if least_accuracy else "",
                    met=float(accuracy) >= least_accuracy if least_accuracy else None,
                )
            )
    return figures


def tfx_tax(root: Path, pipeline_seconds: float, timings: dict | None = None):
    """Times a plain Keras script on the same data; returns the ratio figure (None if unavailable)."""
    try:
        from bench.plain_keras import train_plain
    except ImportError:
        return None
    plain_seconds = train_plain(root, timings)
    return figure(
        "TFX tax: pipeline end to end vs plain Keras script",
        round(pipeline_seconds, 1),
        "s",
        baseline=round(plain_seconds, 1),
        baseline_what="plain Keras, same model, data and epochs",
        target=f"≤ {TFX_TAX_TARGET}×",
        met=pipeline_seconds / plain_seconds <= TFX_TAX_TARGET,
    )


if __name__ == "__main__":
    main()
