"""Serving cost of the exported SavedModel: latency at batch 1 and throughput at batch 64, per signature.

Run as `python -m bench.serving --root RUN_ROOT` after a pipeline run. Both sides are loaded and run the
way TF Serving runs a model (`serving.bundle.ServingBundle`: the graph-mode loader, one `Session::Run` per
request, prepared as a session callable so little Python sits between the timer and the graph):
- served: the Trainer's SavedModel, `serving_default` (serialized tf.Examples with 28×28 PNGs) and
  `predict_images` (28×28 grey levels), on real test images;
- baseline: the bare Keras classifier that the served graph calls (same architecture and
  hyper-parameters, rebuilt: its cost does not depend on the weight values), exported as its own
  SavedModel whose one signature takes already-upscaled images scaled to [0, 1].
The gap is the in-graph preprocessing; to say what dominates it, the same stages are timed one by one
(parse, PNG header checks and decode, upscale, pixel scaling, the model). The earlier method, TF2's
`tf.saved_model.load` signatures against the bare model as a concrete function, is recorded beside it:
its signature wrapper adds Python work to the served side only, which TF Serving does not run.
Ratios are measured within one process and one run, callers taking turns call by call, and the load
average at start and end is recorded: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import figure, write_results
from bench.plain_keras import _latest_output, fixed_hyperparameters, load_split, run_details_or_exit
from pipeline import nodes

LATENCY_CALLS = 1000
THROUGHPUT_CALLS = 150
OVERHEAD_TARGET = 1.1
P50_TARGET_MS = 10.0
BARE = "bare Keras model"


def time_calls(function, inputs: list, warmup: int = 10) -> np.ndarray:
    """Calls `function` on each input in turn (after `warmup` calls); returns the seconds of each call."""
    for batch in inputs[:warmup]:
        function(batch)
    seconds = []
    for batch in inputs:
        started = time.perf_counter()
        result = function(batch)
        # TF2 results are eager tensors: reading one forces the computation to finish (a session's
        # results are NumPy arrays already).
        if isinstance(result, dict):
            next(iter(result.values())).numpy()
        elif hasattr(result, "numpy"):
            result.numpy()
        seconds.append(time.perf_counter() - started)
    return np.asarray(seconds)


def time_interleaved(
    callers: dict, size: int, calls: int, warmup: int, tensors: bool = True
) -> dict[str, np.ndarray]:
    """Times every caller on `calls` batches of `size`, taking turns call by call (in rotating order).

    On a shared machine the load drifts over seconds; taking turns exposes every caller to the same
    load, so their ratios hold even when the absolute times move.

    Args:
        callers: name -> (function, items to cut batches from).
        tensors: make the batches TF tensors before timing (for TF2 functions; a session is fed NumPy).

    Returns:
        name -> the seconds of each call.
    """
    import tensorflow as tf

    # Batches made before timing: converting one (4 MB of upscaled floats for the bare model, 200 KB
    # of raw images for the served graph) is the caller's cost, not the model's.
    convert = tf.constant if tensors else (lambda batch: batch)
    inputs = {
        name: [convert(batch) for batch in _batches(items, size, calls)]
        for name, (_, items) in callers.items()
    }
    for name, (call, _) in callers.items():
        for batch in inputs[name][:warmup]:
            call(batch)
    names = list(callers)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for i in range(calls):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            seconds[name].append(time_calls(callers[name][0], [inputs[name][i]], warmup=0)[0])
    return {name: np.asarray(values) for name, values in seconds.items()}


def _batches(items: np.ndarray, size: int, count: int) -> list[np.ndarray]:
    return [items[(i * size) % (len(items) - size) :][:size] for i in range(count)]


def export_bare_model(classifier, settings, path: str) -> None:
    """The baseline as its own SavedModel: the classifier (as the served graph calls it), fed `image_xf`,
    saved as the served model is (`models.export.save_for_tf_serving`)."""
    import tensorflow as tf

    from models.export import save_for_tf_serving
    from models.preprocessing import IMAGE_XF
    from serving.signatures import PROBABILITIES, SERVING_DEFAULT

    spec = tf.TensorSpec([None, settings.image_size, settings.image_size, 1], tf.float32, name=IMAGE_XF)
    module = tf.Module()
    module.serve = tf.function(
        lambda x: {PROBABILITIES: classifier(x, training=False)}, input_signature=[spec]
    )
    save_for_tf_serving(module, path, {SERVING_DEFAULT: module.serve.get_concrete_function()})


def main(argv: list[str] | None = None) -> None:
    """Measures and writes bench/results/serving.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="root of a finished pipeline run")
    parser.add_argument(
        "--model-dir",
        help="time this SavedModel instead of the run's (e.g. a re-export of the same architecture)",
    )
    args = parser.parse_args(argv)
    import keras
    import tensorflow as tf
    from tfx.utils import path_utils

    from data.resize import upscale_images
    from models.families import build_classifier
    from models.settings import ModelSettings
    from serving.bundle import ServingBundle
    from serving.signatures import INPUT_NAMES, PREDICT_IMAGES, SERVING_DEFAULT

    root = Path(args.root)
    load_start = os.getloadavg()
    details = run_details_or_exit(parser, root)
    settings = ModelSettings.from_custom_config(details["settings"])
    model_dir = args.model_dir or path_utils.serving_model_dir(_latest_output(root, nodes.TRAINER, "model"))
    raw_uri = _latest_output(root, nodes.EXAMPLE_GEN, "examples")
    files = sorted(Path(raw_uri, "Split-test").glob("*.gz"))
    records = [r.numpy() for r in tf.data.TFRecordDataset([str(f) for f in files], "GZIP").take(1000)]
    images, _ = load_split(raw_uri, "test")
    grey = (images[:1000, ..., 0] * 255.0).round().astype("float32")  # 28×28 grey levels, as clients send
    scaled = (upscale_images(grey.astype("uint8"), settings.image_size).astype("float32") / 255.0)[..., None]
    examples = np.asarray(records, dtype=object)

    hp = fixed_hyperparameters(details["hyperparameters"])
    keras.utils.set_random_seed(settings.seed)
    classifier = build_classifier(hp, settings)  # what the served graph calls, in float32 as exported
    with tempfile.TemporaryDirectory(prefix="bench-serving-bare-") as bare_dir:
        export_bare_model(classifier, settings, bare_dir)
        served, bare = ServingBundle(model_dir), ServingBundle(bare_dir)  # loaded: the folder may go
    callers = {
        SERVING_DEFAULT: (served.callable(SERVING_DEFAULT), examples),
        PREDICT_IMAGES: (served.callable(PREDICT_IMAGES), grey),
        BARE: (bare.callable(SERVING_DEFAULT), scaled),
    }
    latency, throughput = _measure(callers, tensors=False)

    # The earlier method, recorded beside: TF2 signatures against the bare model as a concrete function.
    loaded = tf.saved_model.load(model_dir)
    spec = tf.TensorSpec([None, settings.image_size, settings.image_size, 1], tf.float32)
    bare_function = tf.function(lambda x: classifier(x, training=False), input_signature=[spec])
    examples_fn, images_fn = loaded.signatures[SERVING_DEFAULT], loaded.signatures[PREDICT_IMAGES]
    tf2_callers = {
        SERVING_DEFAULT: (lambda b: examples_fn(**{INPUT_NAMES[SERVING_DEFAULT]: b}), examples),
        PREDICT_IMAGES: (lambda b: images_fn(**{INPUT_NAMES[PREDICT_IMAGES]: b}), grey),
        BARE: (bare_function.get_concrete_function(), scaled),
    }
    tf2_latency, tf2_throughput = _measure(tf2_callers, tensors=True)

    stages = stage_breakdown(loaded, settings, records, grey)
    figures = []
    bare_p50 = latency[BARE]["p50_ms"]
    for name in (SERVING_DEFAULT, PREDICT_IMAGES):
        p50 = latency[name]["p50_ms"]
        figures += [
            figure(
                f"{name}: p50 latency, batch 1",
                round(p50, 2),
                "ms",
                baseline=round(bare_p50, 2),
                baseline_what="bare Keras model as its own SavedModel, fed upscaled scaled pixels; "
                "both run as TF Serving runs them (graph-mode loader, Session::Run)",
                target=f"≤ {P50_TARGET_MS} ms and overhead ≤ {OVERHEAD_TARGET}×",
                met=p50 <= P50_TARGET_MS and p50 / bare_p50 <= OVERHEAD_TARGET,
            ),
            figure(
                f"{name}: p99 latency, batch 1",
                round(latency[name]["p99_ms"], 2),
                "ms",
                baseline=round(latency[BARE]["p99_ms"], 2),
                baseline_what=BARE,
            ),
            figure(
                f"{name}: throughput, batch 64",
                round(throughput[name], 1),
                "images/s",
                baseline=round(throughput[BARE], 1),
                baseline_what=BARE,
                ratio=throughput[BARE] / throughput[name],
                target=f"overhead (bare/served) ≤ {OVERHEAD_TARGET}×",
                met=throughput[BARE] / throughput[name] <= OVERHEAD_TARGET,
            ),
            figure(
                f"{name}: p50 latency, batch 1, TF2 in-process (the earlier method)",
                round(tf2_latency[name]["p50_ms"], 2),
                "ms",
                baseline=round(tf2_latency[BARE]["p50_ms"], 2),
                baseline_what="bare Keras model as a concrete function; the served side alone pays the "
                "loaded signature's Python wrapper",
            ),
        ]
    dominant = max((k for k in stages["batch_64_ms"] if k != "model"), key=stages["batch_64_ms"].get)
    measured = f"a re-export at {args.model_dir} of" if args.model_dir else "the run's"
    path = write_results(
        "serving",
        figures,
        {
            "reproduce": f".venv/bin/python -m bench.serving --root {args.root}"
            + (f" --model-dir {args.model_dir}" if args.model_dir else ""),
            "model_dir": model_dir,
            "latency_ms": latency,
            "throughput_images_per_s": throughput,
            "tf2_in_process": {"latency_ms": tf2_latency, "throughput_images_per_s": tf2_throughput},
            "stage_ms_per_call": stages,
            "threads": {
                "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            },
            "load_average_at_start": load_start,
            "load_average_at_end": os.getloadavg(),
            "notes": (
                f"Model measured: {measured} {_model_description(details, settings)}. "
                "Both sides run through serving.bundle.ServingBundle (TF Serving's loading and "
                "Session::Run, without its network front end). Serving overhead is the in-graph "
                "preprocessing; at batch 64 "
                f"its costliest stage is '{dominant}' (stage_ms_per_call: p50 of {STAGE_CALLS} calls, each "
                "stage its own tf.function, so each pays a call's fixed cost). The served graph applies the "
                "Transform graph's pixel scaling (preprocessing.scale_pixels) to the upscaled pixels "
                "directly; "
                "the export checks that the Transform graph is still decode-then-scale_pixels, so no PNG is "
                "encoded in serving."
            ),
        },
    )
    print(
        json.dumps(
            {"latency_ms": latency, "throughput": throughput, "tf2": tf2_latency, "stages": stages}, indent=1
        )
    )
    print(f"wrote {path}")


def _measure(callers: dict, tensors: bool) -> tuple[dict, dict]:
    """p50/p99 ms at batch 1 and median images/s at batch 64, per caller."""
    ones = time_interleaved(callers, 1, LATENCY_CALLS, warmup=10, tensors=tensors)
    manys = time_interleaved(callers, 64, THROUGHPUT_CALLS, warmup=3, tensors=tensors)
    latency = {
        name: {
            "p50_ms": float(np.percentile(ones[name], 50) * 1e3),
            "p99_ms": float(np.percentile(ones[name], 99) * 1e3),
        }
        for name in callers
    }
    # The median call, not the mean: one call slowed by another process should not decide it.
    throughput = {name: float(64 / np.median(manys[name])) for name in callers}
    return latency, throughput


STAGE_CALLS = 50


def _model_description(details: dict, settings) -> str:
    """E.g. `resnet stem=4 lr=0.1 batch=128 … blocks=3 width=16 at 128×128`: the family's own values, and
    whether each prediction averages the image with its mirror image (the bare side then does too)."""
    from models.console import format_hyperparameters
    from models.settings import FLIP_AVERAGING_WORDS

    size = settings.image_size
    described = f"{format_hyperparameters(details['hyperparameters'])} at {size}×{size}"
    if settings.test_time_flip:
        described += f", {FLIP_AVERAGING_WORDS} (on both sides)"
    return described


def stage_breakdown(loaded, settings, records, grey) -> dict:
    """Times each step the serving graph takes, as separate tf.functions; p50 ms per call."""
    import tensorflow as tf

    from data.resize import upscale_images_tf
    from models.export import to_grey_levels
    from models.preprocessing import decode_images, scale_pixels
    from serving.png_graph_checks import png_contract_checks

    size, source = settings.image_size, settings.source_size

    @tf.function
    def parse_check_decode(examples):
        features = tf.io.parse_example(examples, {"image": tf.io.FixedLenFeature([], tf.string)})
        with tf.control_dependencies(png_contract_checks(features["image"], source)):
            return decode_images(features["image"], source)[..., 0]

    @tf.function
    def check_grey_levels(images):
        return to_grey_levels(images)

    @tf.function
    def upscale(images):
        return upscale_images_tf(
            images, size, interpolation=settings.interpolation, source_size=source, as_float=True
        )

    @tf.function
    def scale(images):
        return scale_pixels(images[..., tf.newaxis])

    result = {}
    for batch in (1, 64):
        examples = tf.constant(records[:batch])
        floats = tf.constant(grey[:batch])
        uint8 = tf.cast(floats, tf.uint8)
        big = upscale(uint8)
        steps = {
            "parse + PNG header checks + decode 28×28": (parse_check_decode, examples),
            "grey-level range check + round (predict_images, embed)": (check_grey_levels, floats),
            "upscale 28→128": (upscale, uint8),
            "scale pixels (the Transform graph's step)": (scale, big),
            "model (embed_transformed trunk)": (loaded.embed_transformed, scale(big)),
        }
        timings = {}
        for name, (fn, x) in steps.items():
            seconds = time_calls(lambda v, fn=fn: fn(v), [x] * STAGE_CALLS, warmup=5)
            timings[name if "model" not in name else "model"] = round(float(np.median(seconds) * 1e3), 3)
        result[f"batch_{batch}_ms"] = timings
    return result


if __name__ == "__main__":
    main()
