"""Training images/s of the quick and full profiles' models in float32 and in bfloat16, on this CPU.

Run as `python -m bench.precision [--images 1280] [--epochs 1]`. Each profile's model (its settings and
default hyper-parameters: the recipe it trains) trains on the first N training images, upscaled as the
pipeline upscales them and held in memory in [0, 1] (the input pipeline is left out), once in each
arithmetic, in one process. `precision: auto` trains in bfloat16 only where the CPU has bfloat16 units
(`models.settings.BFLOAT16_UNITS`); this measures what that choice is worth on the machine it runs on.
The results file is named after what `auto` picks here (precision_float32.json on a CPU without the
units, precision_mixed_bfloat16.json on one with them), so the two kinds of CPU sit side by side.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

import numpy as np

from bench.accuracy import OPENCV, load_data, resize
from bench.common import figure, units_words, write_results
from bench.training import images_per_second
from models.settings import AUTO, FLOAT32, MIXED_BFLOAT16, ModelSettings, bfloat16_units, training_policy
from pipeline.config import make_config

BENCHMARK = "precision"
PROFILES = ("quick", "full")
IMAGES_PER_SECOND_WHAT = "{profile} profile's model, training in {policy}"


def results_name(policy: str) -> str:
    """Returns the results file's name (without .json) for a CPU on which `auto` trains in `policy`."""
    return f"{BENCHMARK}_{policy}"


def profile_rates(settings: ModelSettings, images: np.ndarray, labels: np.ndarray, epochs: int) -> dict:
    """Returns the family, the batch and the training images/s in each arithmetic of the settings' model
    (its default hyper-parameters) on 28×28 uint8 `images`, upscaled as the settings say."""
    from models.search_space import search_space

    values = search_space(settings).values
    upscaled = resize(images, OPENCV + settings.interpolation, settings.image_size)
    scaled = (upscaled.astype(np.float32) / 255.0)[..., None]
    rates = {
        policy: images_per_second(
            values, dataclasses.replace(settings, precision=policy), scaled, labels, epochs
        )
        for policy in (FLOAT32, MIXED_BFLOAT16)
    }
    return {"family": values["family"], "batch_size": values["batch_size"], **rates}


def main(argv: list[str] | None = None) -> None:
    """Measures and writes bench/results/precision_<what auto picks here>.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1280, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    if args.images < 1 or args.epochs < 1:
        parser.error("--images and --epochs must be at least 1")
    load_start = os.getloadavg()
    images, labels = load_data()["train"]
    images, labels = images[: args.images], labels[: args.images]
    auto = training_policy(AUTO)
    figures, measured = [], {}
    for profile in PROFILES:
        settings = make_config(profile, ".").model  # a config needs a root; unused
        rates = profile_rates(settings, images, labels, args.epochs)
        what = IMAGES_PER_SECOND_WHAT.format(profile=profile, policy="{}")
        figures.append(figure(what.format(FLOAT32), round(rates[FLOAT32], 1), "images/s"))
        figures.append(
            figure(
                what.format(MIXED_BFLOAT16),
                round(rates[MIXED_BFLOAT16], 1),
                "images/s",
                baseline=round(rates[FLOAT32], 1),
                baseline_what=f"{FLOAT32}, same run",
            )
        )
        measured[profile] = rates
    path = write_results(
        results_name(auto),
        figures,
        {
            "reproduce": f".venv/bin/python -m bench.precision --images {args.images} --epochs {args.epochs}",
            "auto_picks": auto,
            "images": len(labels),  # at most the train split's
            "epochs": args.epochs,
            "measured": measured,
            "load_average_at_start": load_start,
            "load_average_at_end": os.getloadavg(),
            "notes": (
                f"`precision: {AUTO}` trains in {auto} here ({units_words(bfloat16_units())}). Model-only "
                "throughput: images in memory, no input pipeline, no validation pass; both arithmetics "
                "in the same run, so their ratio is this CPU's."
            ),
        },
    )
    print(json.dumps(figures, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
