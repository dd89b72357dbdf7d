"""Training images/s of the quick and full profiles' models in each arithmetic and kernel set, on this CPU.

Run as `python -m bench.precision [--images 2560] [--epochs 3]`. Each profile's model (its settings and
default hyper-parameters: the recipe it trains) trains on the first N training images, upscaled as the
pipeline upscales them and held in memory in [0, 1] (the input pipeline is left out), in three
configurations, each in a process of its own (TensorFlow reads its kernel switch when it starts):
- float32 on TensorFlow's own kernels (its default on a CPU without AVX-512 VNNI, AVX-VNNI, bfloat16
  units or AMX);
- float32 on oneDNN's kernels (what the pipeline switches on everywhere: `pipeline.ONEDNN`);
- bfloat16 on oneDNN's kernels (what `precision: auto` picks where the CPU has bfloat16 units).
Each figure is the timed epochs' images over their seconds, after a few warm-up steps; each epoch's
rate is recorded beside it. The results file is named after what `auto` picks here
(precision_float32.json on a CPU without bfloat16 units, precision_mixed_bfloat16.json on one with
them), so the two kinds of CPU sit side by side.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.common import figure, units_words, write_results
from bench.training import epoch_rates, throughput
from models.settings import AUTO, FLOAT32, MIXED_BFLOAT16, ModelSettings, bfloat16_units, training_policy
from pipeline import ONEDNN, ONEDNN_OFF, ONEDNN_ON
from pipeline.config import make_config

BENCHMARK = "precision"
PROFILES = ("quick", "full")
# (arithmetic, oneDNN's switch) of each measurement, and the one its ratio is taken against.
TENSORFLOW_KERNELS = (FLOAT32, ONEDNN_OFF)
ONEDNN_FLOAT32 = (FLOAT32, ONEDNN_ON)
ONEDNN_BFLOAT16 = (MIXED_BFLOAT16, ONEDNN_ON)
BASELINES = {TENSORFLOW_KERNELS: None, ONEDNN_FLOAT32: TENSORFLOW_KERNELS, ONEDNN_BFLOAT16: ONEDNN_FLOAT32}
KERNELS = {ONEDNN_OFF: "TensorFlow's kernels", ONEDNN_ON: "oneDNN"}
MEASURE = "--measure"  # the child process's mode: one profile, one configuration
MODULE = __spec__.name if __spec__ else __name__  # `bench.precision`, run as a module or imported
REPO = Path(__file__).resolve().parent.parent  # where `python -m bench.precision` resolves


class MeasurementError(RuntimeError):
    """A child measurement failed, or ran with other kernels than it was asked for."""


def results_name(policy: str) -> str:
    """Returns the results file's name (without .json) for a CPU on which `auto` trains in `policy`."""
    return f"{BENCHMARK}_{policy}"


def describe(configuration: tuple[str, str]) -> str:
    """Returns a configuration's words, e.g. `float32, oneDNN`."""
    policy, switch = configuration
    return f"{policy}, {KERNELS[switch]}"


def profile_rates(
    settings: ModelSettings, images: np.ndarray, labels: np.ndarray, epochs: int, policy: str
) -> dict:
    """Returns the family, the batch and each epoch's training images/s of the settings' model (its
    default hyper-parameters) in `policy`, on 28×28 uint8 `images` upscaled as the settings say."""
    from bench.accuracy import OPENCV, resize
    from models.search_space import search_space

    values = search_space(settings).values
    upscaled = resize(images, OPENCV + settings.interpolation, settings.image_size)
    scaled = (upscaled.astype(np.float32) / 255.0)[..., None]
    rates = epoch_rates(values, dataclasses.replace(settings, precision=policy), scaled, labels, epochs)
    return {"family": values["family"], "batch_size": values["batch_size"], "epoch_rates": rates}


def measure_here(profile: str, policy: str, count: int, epochs: int, data_dir: str | None) -> dict:
    """The child's work: one profile's rates in `policy`, on this process's kernels (recorded)."""
    from bench.accuracy import load_data
    from compat.tensorflow import onednn_enabled

    images, labels = load_data(data_dir=data_dir)["train"]
    settings = make_config(profile, ".").model  # a config needs a root; unused
    rates = profile_rates(settings, images[:count], labels[:count], epochs, policy)
    return {**rates, "images": min(count, len(labels)), "onednn": onednn_enabled()}


def measure(
    profile: str, configuration: tuple[str, str], count: int, epochs: int, data_dir: str | None = None
) -> dict:
    """Runs one measurement in a fresh process with oneDNN's switch set; returns its record.

    Raises:
        MeasurementError: the child failed, wrote no record, or ran other kernels than it was asked for.
    """
    policy, switch = configuration
    what = f"{profile} profile, {describe(configuration)}"
    print(f"measuring: {what}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as folder:
        record_path = Path(folder) / "record.json"
        command = [sys.executable, "-m", MODULE, MEASURE, profile, policy, "--record", str(record_path)]
        command += ["--images", str(count), "--epochs", str(epochs)]
        if data_dir:
            command += ["--data-dir", data_dir]
        result = subprocess.run(
            command, env={**os.environ, ONEDNN: switch}, cwd=REPO, capture_output=True, text=True
        )
        if result.returncode != 0 or not record_path.is_file():
            raise MeasurementError(
                f"{what}: the measuring process exited {result.returncode} without a record; the end of "
                f"its error output:\n{result.stderr[-2000:]}"
            )
        record = json.loads(record_path.read_text())
    if record["onednn"] != (switch == ONEDNN_ON):
        raise MeasurementError(
            f"{what}: TensorFlow ran with oneDNN {'on' if record['onednn'] else 'off'} "
            f"although {ONEDNN}={switch}"
        )
    return record


def main(argv: list[str] | None = None) -> None:
    """Measures and writes bench/results/precision_<what auto picks here>.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2560, help="training images per epoch")
    parser.add_argument(
        "--epochs",
        type=int,
        default=3,
        help="timed epochs (the figure: all their images over all their seconds)",
    )
    parser.add_argument(MEASURE, nargs=2, metavar=("PROFILE", "POLICY"), help=argparse.SUPPRESS)
    parser.add_argument("--record", help=argparse.SUPPRESS)  # where a measuring process writes its record
    parser.add_argument("--data-dir", help="the canonical IDX files' folder (default: the usual search)")
    args = parser.parse_args(argv)
    if args.images < 1 or args.epochs < 1:
        parser.error("--images and --epochs must be at least 1")
    if args.measure:
        profile, policy = args.measure
        if profile not in PROFILES or policy not in (FLOAT32, MIXED_BFLOAT16) or not args.record:
            parser.error(
                f"{MEASURE} takes one of {PROFILES} and {FLOAT32} or {MIXED_BFLOAT16}, with --record"
            )
        record = measure_here(profile, policy, args.images, args.epochs, args.data_dir)
        Path(args.record).write_text(json.dumps(record))
        return
    load_start = os.getloadavg()
    auto = training_policy(AUTO)
    figures, measured = [], {}
    for profile in PROFILES:
        records = {
            configuration: measure(profile, configuration, args.images, args.epochs, args.data_dir)
            for configuration in BASELINES
        }
        rates = {
            configuration: throughput(record["epoch_rates"]) for configuration, record in records.items()
        }
        for configuration, baseline in BASELINES.items():
            figures.append(
                figure(
                    f"{profile} profile's model, training in {describe(configuration)}",
                    round(rates[configuration], 1),
                    "images/s",
                    baseline=round(rates[baseline], 1) if baseline else None,
                    baseline_what=f"{describe(baseline)}, same run" if baseline else "",
                )
            )
        measured[profile] = {describe(configuration): record for configuration, record in records.items()}
    path = write_results(
        results_name(auto),
        figures,
        {
            "reproduce": f".venv/bin/python -m {MODULE} --images {args.images} --epochs {args.epochs}",
            "auto_picks": auto,
            "epochs": args.epochs,
            "measured": measured,
            "load_average_at_start": load_start,
            "load_average_at_end": os.getloadavg(),
            "notes": (
                f"`precision: {AUTO}` trains in {auto} here ({units_words(bfloat16_units())}); the pipeline "
                f"runs oneDNN's kernels ({ONEDNN}={ONEDNN_ON}) unless its user turns them off. Model-only "
                "throughput: images in memory through tf.data, no validation pass; each figure is the timed "
                "epochs' images over their seconds, each configuration measured in a process of its own, all "
                "in the same run, so their ratios are this CPU's."
            ),
        },
    )
    print(json.dumps(figures, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
