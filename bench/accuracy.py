"""Accuracy against cost: the default cnn at 128×128 trained on more and more of the training set.

Run as `python -m bench.accuracy [--points 12000:12,50000:8]` (training images:epochs). Each point
trains the search space's default cnn (4×4 pooling stem, batch 64, cosine-decayed learning rate)
on the first N images of the pipeline's `train` split (same seed, same eval carve-out), upscaled
exactly as the ImageUpscaler does, and scores it on the official 10,000 test images. Results are
written after every point, so an interrupted run keeps what it measured. This is the cost curve
the `full` profile's accuracy anchor (≥ 94.0 %) is judged by on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench.common import RESULTS_DIR, figure, utc_now, write_results

TARGET = 0.94


def load_data(image_size: int, seed: int = 42):
    """Returns upscaled uint8 train/eval/test images and labels, split as the pipeline splits them."""
    from data import fashion_mnist as fm
    from data.idx import read_idx_pair
    from data.resize import upscale_images
    from data.splits import assign_splits, example_id

    location = fm.locate(None)
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
    return {k: (upscale_images(x, image_size), y.astype("int64")) for k, (x, y) in data.items()}


def dataset(images: np.ndarray, labels: np.ndarray, batch: int, shuffle: bool, seed: int = 42):
    """Feeds uint8 images scaled to [0, 1] with a channel axis, as the Transform graph does."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    scale = lambda x, y: (tf.cast(x, tf.float32)[..., None] / 255.0, y)  # noqa: E731
    return ds.batch(batch).map(scale, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def train_point(data, count: int, epochs: int, image_size: int) -> dict:
    """Trains the default cnn on `count` training images for `epochs`; returns accuracy and cost."""
    import keras
    import keras_tuner

    from models.families import build_model
    from models.search_space import DEFAULTS
    from models.settings import ModelSettings
    from models.trainer import cosine_learning_rate

    settings = ModelSettings(
        image_size=image_size, upscale=True, families=("cnn",), stems=(4,), batch_size=64, train_epochs=epochs
    )
    hp = keras_tuner.HyperParameters()
    for name, value in {**DEFAULTS, "family": "cnn", "stem": 4, "batch_size": 64}.items():
        hp.Fixed(name, value)
    keras.utils.set_random_seed(settings.seed)
    model = build_model(hp, settings)
    train_x, train_y = data["train"][0][:count], data["train"][1][:count]
    started = time.perf_counter()
    history = model.fit(
        dataset(train_x, train_y, 64, shuffle=True),
        epochs=epochs,
        validation_data=dataset(*data["eval"], 256, shuffle=False),
        callbacks=[
            keras.callbacks.LearningRateScheduler(cosine_learning_rate(DEFAULTS["learning_rate"], epochs))
        ],
        verbose=2,
    )
    seconds = time.perf_counter() - started
    _, accuracy = model.evaluate(dataset(*data["test"], 256, shuffle=False), verbose=0)
    return {
        "train_images": count,
        "epochs": epochs,
        "train_seconds": round(seconds, 1),
        "images_per_second": round(count * epochs / seconds, 1),
        "test_accuracy": round(float(accuracy), 4),
        "val_accuracy": [round(float(v), 4) for v in history.history["val_accuracy"]],
        "measured_at": utc_now(),
    }


def previous_points(path, replaced: set[tuple[int, int]]) -> list[dict]:
    """The curve points of an earlier results file, except those about to be measured again."""
    if not path.exists():
        return []
    curve = json.loads(path.read_text()).get("details", {}).get("curve", [])
    return [p for p in curve if (p["train_images"], p["epochs"]) not in replaced]


def main(argv: list[str] | None = None) -> None:
    """Runs the points and writes bench/results/accuracy.json after each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="12000:12,50000:8", help="comma-separated IMAGES:EPOCHS")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the other points of bench/results/accuracy.json (each is dated)",
    )
    args = parser.parse_args(argv)
    points = [tuple(int(v) for v in p.split(":")) for p in args.points.split(",")]
    data = load_data(args.image_size)
    curve = previous_points(RESULTS_DIR / "accuracy.json", set(points)) if args.keep else []
    for count, epochs in points:
        curve.append(train_point(data, count, epochs, args.image_size))
        best = max(curve, key=lambda p: p["test_accuracy"])
        figures = [
            figure(
                f"test accuracy, default cnn at {args.image_size}×{args.image_size} (4×4 stem), "
                f"{p['train_images']:,} training images × {p['epochs']} epochs",
                p["test_accuracy"],
                "",
                target=f"≥ {TARGET}" if p is best else "",
                met=(p["test_accuracy"] >= TARGET) if p is best else None,
            )
            for p in curve
        ]
        figures += [
            figure(
                f"training wall time, {p['train_images']:,} images × {p['epochs']} epochs",
                p["train_seconds"],
                "s",
            )
            for p in curve
        ]
        notes = (
            "Cost curve on 2 cores: the full profile (all 50,000 images, 2×2 stem in its search, up to "
            "40 epochs, Hyperband) is hours; these points bound what its budget buys."
        )
        write_results(
            "accuracy",
            figures,
            {"curve": curve, "notes": notes, "reproduce": ".venv/bin/python -m bench.accuracy"},
        )
        print(curve[-1])


if __name__ == "__main__":
    main()
