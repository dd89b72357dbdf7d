"""Accuracy against cost: the recipes, their parts and the upscale, trained outside TFX on the same data.

Run as `python -m bench.accuracy [--points 12000:12,50000:8] [--variants recipe,float32,...]`
(training images:epochs; variants from `VARIANTS`). Each point trains one variant with the model code
(`build_model`: bfloat16 where the CPU has the units, augmentation after the stem) on the first N
images of the pipeline's `train` split (same seed, same eval carve-out), upscaled as the variant says,
and scores it on the eval split (what a recipe decision reads) and on the official 10,000 test images
(reported only), each with and without test-time flip averaging (the same weights).
A variant changes one choice against its recipe (`recipe`: the model settings' defaults; `resnet
recipe`: the full profile's), so its row measures that choice at a fixed budget. Results are written
after every point, so an interrupted run keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from bench.common import COMMIT_AT_START, RESULTS_DIR, figure, utc_now, write_results
from bench.plain_keras import fixed_hyperparameters
from models.search_space import DEFAULTS
from models.settings import AUTO, FLOAT32, LINEAR, ModelSettings, training_policy
from pipeline.config import make_config

TARGET = 0.95
# This benchmark's name: its results are bench/results/<BENCHMARK>.json.
BENCHMARK = "accuracy"
# A resize method's prefix when OpenCV does it: `opencv <interpolation>` (data.resize's names).
OPENCV = "opencv "
# The variant keys that are ModelSettings fields.
_SETTINGS_KEYS = (
    "optimizer",
    "learning_rate",
    "weight_decay",
    "warmup_epochs",
    "schedule",
    "weight_averaging",
    "augmentations",
)
# The cnn recipe: the model settings' defaults (Adam, the classic transformations) at batch 64.
CNN_RECIPE = dict(
    resize=OPENCV + ModelSettings.interpolation,
    image_size=128,
    stem=4,
    precision=AUTO,
    label_smoothing=DEFAULTS["label_smoothing"],
    augment=ModelSettings.augment_probability,
    family="cnn",
    batch_size=64,
    **{k: getattr(ModelSettings, k) for k in _SETTINGS_KEYS},
)
# The full profile's recipe (pipeline.config PROFILES["full"]): ResNet-20, SGD with Nesterov momentum
# and weight decay after a warm-up, flip, pad-and-crop and random erasing.
_FULL = make_config("full", ".").model  # the profile's model settings (a config needs a root; unused)
RESNET_RECIPE = dict(
    CNN_RECIPE,
    family=_FULL.families[0],
    augment=_FULL.augment_probability,
    batch_size=_FULL.batch_size,
    **{k: getattr(_FULL, k) for k in _SETTINGS_KEYS},
)
# The names of the two recipes that variants change one choice against.
CNN_RECIPE_NAME = "recipe"
RESNET_RECIPE_NAME = "resnet recipe"
# One change each against a recipe.
VARIANTS: dict[str, dict] = {
    CNN_RECIPE_NAME: CNN_RECIPE,
    FLOAT32: {**CNN_RECIPE, "precision": FLOAT32},
    "no label smoothing": {**CNN_RECIPE, "label_smoothing": 0.0},
    "no augmentation": {**CNN_RECIPE, "augment": 0.0},
    # The quick profile's augmentation at its 5-epoch budget (issue #23): the classic five at 0.2 against
    # the mirror image alone, and against the full profile's set, each at 0.5.
    "cnn: flip only": {**CNN_RECIPE, "augmentations": ("flip",), "augment": 0.5},
    "cnn: flip crop erase": {
        **CNN_RECIPE,
        "augmentations": _FULL.augmentations,
        "augment": _FULL.augment_probability,
    },
    # The upscale question (issue #13): native 28×28 (no stem) against three ways to reach 128×128.
    "native 28": {**CNN_RECIPE, "resize": "none", "image_size": 28, "stem": 1},
    "tf bilinear 128": {**CNN_RECIPE, "resize": "tf.image.resize bilinear"},
    "opencv cubic 128": {**CNN_RECIPE, "resize": OPENCV + "cubic"},
    "opencv area 128": {**CNN_RECIPE, "resize": OPENCV + "area"},
    # The full profile's recipe and its parts (issue #23).
    RESNET_RECIPE_NAME: RESNET_RECIPE,
    "resnet: cnn family": {**RESNET_RECIPE, "family": "cnn"},
    "resnet: adam": {**RESNET_RECIPE, "optimizer": "adam", "learning_rate": 1e-3, "weight_decay": 0.0},
    "resnet: classic augmentation": {
        **RESNET_RECIPE,
        "augmentations": CNN_RECIPE["augmentations"],
        "augment": CNN_RECIPE["augment"],
    },
    "resnet: no erasing": {**RESNET_RECIPE, "augmentations": ("flip", "crop")},
    "resnet: no label smoothing": {**RESNET_RECIPE, "label_smoothing": 0.0},
    "resnet: batch 64": {**RESNET_RECIPE, "batch_size": 64},
    "resnet: linear to zero": {**RESNET_RECIPE, "schedule": LINEAR},
    # An average over about the last 1,000 steps (a few epochs of the full profile).
    "resnet: weight averaging": {**RESNET_RECIPE, "weight_averaging": 0.999},
}

# The keys of a point's four accuracies (`train_point` writes them; bench.report reads them).
TEST_FLIP = "test_accuracy"
TEST_SINGLE = "test_accuracy_without_flip_averaging"
VAL_SINGLE = "final_val_accuracy"
VAL_FLIP = "final_val_accuracy_flip_averaged"
# What accuracy.json's points mean (its `notes`; bench.report prints this, the current wording, for
# files written before it).
NOTES = (
    "A variant changes one choice against its recipe (VARIANTS in bench/accuracy.py). Rows of one "
    "budget may come from separate runs: each point records its commit, date and machine load. "
    f"{TEST_FLIP} is with test-time flip averaging (the full profile serves it; the quick profile "
    f"does not), {TEST_SINGLE} the same weights without it; {VAL_SINGLE} and {VAL_FLIP} are the "
    "eval split's, which recipe decisions read. `before #13` points are the model code before the "
    "recipe changes."
)
# The upscale question's rows (issue #13).
UPSCALE_VARIANTS = ("native 28", CNN_RECIPE_NAME, "tf bilinear 128", "opencv cubic 128", "opencv area 128")
# The cnn recipe's parts: a row without one, and the part it takes away.
PARTS = {
    "no label smoothing": "label smoothing",
    "no augmentation": "augmentation",
    FLOAT32: "bfloat16 training",
}
# Each recipe, and the prefix of the variants that change one choice against it.
RECIPES = {CNN_RECIPE_NAME: "cnn: ", RESNET_RECIPE_NAME: "resnet: "}
_unknown = (set(UPSCALE_VARIANTS) | set(PARTS) | set(RECIPES)) - set(VARIANTS)
if _unknown:
    raise ValueError(f"bench.accuracy groups name variants that VARIANTS lacks: {sorted(_unknown)}")


def profile_variant(settings: ModelSettings) -> str | None:
    """The variant with a profile's model `settings` (its recipe, when no Tuner result is used), if any.

    Epochs are the budget's, not the variant's: a table at another budget trains the same settings for
    other epochs. Raises ValueError if two variants match, since the table could not say which.
    """
    matches = []
    for name, variant in VARIANTS.items():
        spec = {**CNN_RECIPE, **variant}
        same = (
            (spec["family"],) == settings.families
            and (spec["stem"],) == settings.stems
            and spec["image_size"] == settings.image_size
            and spec["resize"] == OPENCV + settings.interpolation
            and spec["batch_size"] == settings.batch_size
            and spec["augment"] == settings.augment_probability
            and spec["precision"] == settings.precision
            and spec["label_smoothing"] == DEFAULTS["label_smoothing"]
            and all(spec[k] == getattr(settings, k) for k in _SETTINGS_KEYS)
        )
        if same:
            matches.append(name)
    if len(matches) > 1:
        raise ValueError(f"variants {matches} all train as these settings; VARIANTS must tell them apart")
    return matches[0] if matches else None


def resize(images: np.ndarray, method: str, size: int) -> np.ndarray:
    """Returns uint8 images at `size` by `method` (`none`, `opencv <interpolation>`, tf bilinear)."""
    if method == "none":
        return images
    if method.startswith(OPENCV):
        from data.resize import upscale_images

        return upscale_images(images, size, interpolation=method.removeprefix(OPENCV))
    if method == "tf.image.resize bilinear":
        import tensorflow as tf

        resized = tf.image.resize(images[..., None].astype("float32"), (size, size), method="bilinear")
        return np.clip(np.round(resized.numpy()[..., 0]), 0, 255).astype(np.uint8)
    raise ValueError(f"unknown resize method {method!r}")


def load_data(seed: int = 42, data_dir: str | None = None):
    """Returns 28×28 uint8 train/eval/test images and labels, split as the pipeline splits them.

    Args:
        seed: the split's and the shuffle's seed.
        data_dir: the canonical IDX files' folder; by default `data.fashion_mnist.locate`'s search.
    """
    from data import fashion_mnist as fm
    from data.idx import read_idx_pair
    from data.splits import assign_splits, example_id

    location = fm.locate(data_dir)
    train_x, train_y = read_idx_pair(
        *(fm.file_path(location.directory, n) for n in (fm.TRAIN_IMAGES, fm.TRAIN_LABELS))
    )
    test_x, test_y = read_idx_pair(
        *(fm.file_path(location.directory, n) for n in (fm.TEST_IMAGES, fm.TEST_LABELS))
    )
    splits = assign_splits(
        [example_id(fm.TRAIN_IMAGES, i) for i in range(len(train_y))],
        train_y,
        [example_id(fm.TEST_IMAGES, i) for i in range(len(test_y))],
        test_y,
        eval_fraction=1 / 6,
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    train_positions = rng.permutation(splits["train"][1])
    data = {
        "train": (train_x[train_positions], train_y[train_positions]),
        "eval": (train_x[splits["eval"][1]], train_y[splits["eval"][1]]),
        "test": (test_x, test_y),
    }
    return {k: (x, y.astype("int64")) for k, (x, y) in data.items()}


def dataset(images: np.ndarray, labels: np.ndarray, batch: int, shuffle: bool, seed: int = 42):
    """Feeds uint8 images scaled to [0, 1] with a channel axis, as the Transform graph does."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    scale = lambda x, y: (tf.cast(x, tf.float32)[..., None] / 255.0, y)  # noqa: E731
    return ds.batch(batch).map(scale, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def train_point(data, count: int, epochs: int, variant: str) -> dict:
    """Trains the cnn of `variant` on `count` training images for `epochs`; returns accuracy and cost."""
    import dataclasses

    import keras

    from models.families import build_model, weight_averaging_callbacks
    from models.trainer import learning_rate_schedule

    spec = {**CNN_RECIPE, **VARIANTS[variant]}
    load_start = os.getloadavg()
    size = spec["image_size"]
    batch = spec["batch_size"]
    started = time.perf_counter()
    images = {k: (resize(x, spec["resize"], size), y) for k, (x, y) in data.items()}
    resize_seconds = time.perf_counter() - started
    settings = ModelSettings(
        image_size=size,
        upscale=size != 28,
        families=(spec["family"],),
        stems=(spec["stem"],),
        batch_size=batch,
        train_epochs=epochs,
        precision=spec["precision"],
        augment_probability=spec["augment"],
        test_time_flip=True,  # measured both ways below, on the same weights
        **{k: spec[k] for k in _SETTINGS_KEYS},
    )
    values = {
        **DEFAULTS,
        "learning_rate": settings.learning_rate,
        "family": spec["family"],
        "stem": spec["stem"],
        "batch_size": batch,
        "label_smoothing": spec["label_smoothing"],
        "augment_probability": spec["augment"],
    }
    hp = fixed_hyperparameters(values)
    keras.utils.set_random_seed(settings.seed)
    model = build_model(hp, settings)
    train_x, train_y = images["train"][0][:count], images["train"][1][:count]
    started = time.perf_counter()
    history = model.fit(
        dataset(train_x, train_y, batch, shuffle=True),
        epochs=epochs,
        validation_data=dataset(*images["eval"], 256, shuffle=False),
        callbacks=[
            *weight_averaging_callbacks(settings),
            keras.callbacks.LearningRateScheduler(
                learning_rate_schedule(
                    settings.schedule, settings.learning_rate, epochs, settings.warmup_epochs
                )
            ),
        ],
        verbose=2,
    )
    seconds = time.perf_counter() - started
    test = dataset(*images["test"], 256, shuffle=False)
    validation = dataset(*images["eval"], 256, shuffle=False)
    _, flip_averaged = model.evaluate(test, verbose=0)
    _, val_flip_averaged = model.evaluate(validation, verbose=0)
    # The same weights without test-time flipping (its two layers hold no weights).
    plain = build_model(hp, dataclasses.replace(settings, test_time_flip=False))
    plain.set_weights(model.get_weights())
    _, single = plain.evaluate(test, verbose=0)
    _, val_single = plain.evaluate(validation, verbose=0)
    return {
        "variant": variant,
        **{k: list(v) if isinstance(v, tuple) else v for k, v in spec.items()},
        "policy": training_policy(spec["precision"]),
        "train_images": count,
        "epochs": epochs,
        "resize_seconds": round(resize_seconds, 1),
        "train_seconds": round(seconds, 1),
        "images_per_second": round(count * epochs / seconds, 1),
        TEST_FLIP: round(float(flip_averaged), 4),
        TEST_SINGLE: round(float(single), 4),
        "val_accuracy": [round(float(v), 4) for v in history.history["val_accuracy"]],
        # What the training did, read back from it (not from the spec).
        "learning_rates": [float(v) for v in history.history["learning_rate"]],
        "weights_averaged": bool(model.optimizer.use_ema),
        # What a recipe decision reads: the eval split (carved from the training file), never the test.
        VAL_SINGLE: round(float(val_single), 4),
        VAL_FLIP: round(float(val_flip_averaged), 4),
        # Another job on the 2 cores slows images/s (not accuracy): the 1-minute load says if one ran.
        "load_average_at_start": [round(v, 2) for v in load_start],
        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        "measured_at": utc_now(),
        "commit": COMMIT_AT_START,
    }


def recipe_of(variant: str) -> str:
    """Returns the recipe that `variant` changes one choice against (a recipe's own name for a recipe)."""
    if variant in RECIPES:
        return variant
    return RESNET_RECIPE_NAME if variant.startswith(RECIPES[RESNET_RECIPE_NAME]) else CNN_RECIPE_NAME


def arithmetic_mismatch(curve: list[dict], variant: str, count: int, epochs: int, policy: str) -> str | None:
    """Says why a row of `variant` measured here, in `policy` (its recipe's arithmetic here), could not
    be set beside the rows of the same budget it is compared with; None if it can.

    A variant is compared with its recipe's row; a recipe with its variants' rows. A row in another
    arithmetic would make each comparison change two things.
    """
    recipe = recipe_of(variant)
    compared = [
        p
        for p in curve
        if p["train_images"] == count
        and p["epochs"] == epochs
        and p.get("variant") != variant
        and (p.get("variant") == recipe if variant != recipe else recipe_of(p.get("variant", "")) == recipe)
    ]
    other = next((p for p in compared if p.get("policy", policy) != policy), None)
    if other is None:
        return None
    return (
        f"{variant!r} at {count}:{epochs} would be compared with the {other['variant']!r} row of that "
        f"budget, which trained in {other['policy']}; on this CPU the {recipe!r} recipe trains in {policy}, "
        "so the comparison would change two things. Run it on a CPU like that row's "
        "(models.settings.BFLOAT16_UNITS), or measure both rows again here"
    )


def previous_points(path, replaced: set[tuple[str, int, int]]) -> list[dict]:
    """The points of an earlier results file, except those about to be measured again.

    Points from before the variants existed (the model code before issue #13) count as `before #13`.
    """
    if not path.exists():
        return []
    curve = json.loads(path.read_text()).get("details", {}).get("curve", [])
    return [
        p for p in curve if (p.get("variant", "before #13"), p["train_images"], p["epochs"]) not in replaced
    ]


def describe(point: dict) -> str:
    """A point's label: its variant, images and epochs."""
    return (
        f"{point.get('variant', 'before #13')}: {point['train_images']:,} images × {point['epochs']} epochs"
    )


def main(argv: list[str] | None = None) -> None:
    """Runs every variant at every point and writes bench/results/accuracy.json after each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="12000:12,50000:8", help="comma-separated IMAGES:EPOCHS")
    parser.add_argument("--variants", default="recipe", help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the other points of bench/results/accuracy.json (each is dated)",
    )
    args = parser.parse_args(argv)
    points = [tuple(int(v) for v in p.split(":")) for p in args.points.split(",")]
    variants = [v.strip() for v in args.variants.split(",")]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    runs = [(v, count, epochs) for count, epochs in points for v in variants]
    curve = previous_points(RESULTS_DIR / f"{BENCHMARK}.json", set(runs)) if args.keep else []
    for variant, count, epochs in runs:
        here = training_policy({**CNN_RECIPE, **VARIANTS[recipe_of(variant)]}["precision"])
        mismatch = arithmetic_mismatch(curve, variant, count, epochs, here)
        if mismatch:
            parser.error(mismatch)
    data = load_data()
    for variant, count, epochs in runs:
        curve.append(train_point(data, count, epochs, variant))
        best = max(curve, key=lambda p: p[TEST_FLIP])
        figures = [
            figure(
                f"test accuracy, {describe(p)}",
                p[TEST_FLIP],
                "",
                target=f"≥ {TARGET}" if p is best else "",
                met=(p[TEST_FLIP] >= TARGET) if p is best else None,
            )
            for p in curve
        ]
        figures += [figure(f"training wall time, {describe(p)}", p["train_seconds"], "s") for p in curve]
        for fig, point in zip(figures, curve + curve, strict=True):
            fig.update({k: point[k] for k in ("commit", "commit_source") if k in point})
        write_results(
            BENCHMARK,
            figures,
            {"curve": curve, "notes": NOTES, "reproduce": ".venv/bin/python -m bench.accuracy"},
        )
        print(curve[-1])


if __name__ == "__main__":
    main()
