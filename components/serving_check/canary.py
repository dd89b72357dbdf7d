"""The smoke check's fresh process: load a SavedModel and run every signature on canary images.

Run as `python -m components.serving_check.canary --model-dir DIR --examples FILE...`;
prints one JSON line and exits non-zero if the model does not load or does not answer correctly.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from pipeline.s3 import exit_after, register_s3_filesystem_for

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def read_canary_images(example_files: list[str], count: int) -> tuple[np.ndarray, list[str]]:
    """Returns up to `count` raw 28×28 images (and their ids) from gzip TFRecord files of tf.Examples."""
    import tensorflow as tf

    from data.examples import read_example

    images, ids = [], []
    dataset = tf.data.TFRecordDataset(example_files, compression_type="GZIP").take(count)
    for record in dataset:
        image, _, example_id, _ = read_example(record.numpy())
        images.append(image)
        ids.append(example_id)
    if not images:
        raise ValueError(f"no canary examples in {example_files}")
    return np.stack(images).astype(np.float32), ids


def check_model(model_dir: str, images: np.ndarray, ids: list[str]) -> dict:
    """Calls every signature and checks the answers are complete, finite and consistent.

    Raises:
        ServingError: a signature is missing, fails, or answers inconsistently.
    """
    from serving.bundle import ServingBundle
    from serving.local import LocalModel
    from serving.payloads import make_payload
    from serving.signatures import (
        EMBED,
        EMBEDDING,
        INPUT_NAMES,
        PREDICT_IMAGES,
        PROBABILITIES,
        SERVING_DEFAULT,
        ServingError,
    )

    # First as TF Serving loads a version: restore op, warm-up replay, then Session::Run per request.
    bundle = ServingBundle(model_dir)
    try:
        replayed = bundle.replay_warmup()
        served = bundle.run(PREDICT_IMAGES, {INPUT_NAMES[PREDICT_IMAGES]: images})
        bundle_signatures = sorted(bundle.signatures)
    finally:
        bundle.close()
    model = LocalModel(model_dir)
    payload = make_payload(images, ids)
    by_images = model.predict(payload, PREDICT_IMAGES)
    by_examples = model.predict(payload, SERVING_DEFAULT)
    embedding = model.call(EMBED, {INPUT_NAMES[EMBED]: images})[EMBEDDING]
    problems = []
    for name, predictions in ((PREDICT_IMAGES, by_images), (SERVING_DEFAULT, by_examples)):
        sums = predictions.probabilities.sum(axis=1)
        if not np.all(np.isfinite(predictions.probabilities)) or not np.allclose(sums, 1.0, atol=1e-3):
            problems.append(f"{name}: probabilities are not finite distributions (sums {sums.tolist()})")
    if not np.allclose(served[PROBABILITIES], by_images.probabilities, atol=1e-5):
        problems.append("TF Serving's loader and tf.saved_model.load answer predict_images differently")
    if not np.array_equal(by_images.class_id, by_examples.class_id):
        problems.append("predict_images and serving_default disagree on the class of the same images")
    if embedding.shape[0] != len(images) or not np.all(np.isfinite(embedding)):
        problems.append(f"embed: bad embedding of shape {list(embedding.shape)}")
    if problems:
        raise ServingError("; ".join(problems))
    return {
        "model_dir": model_dir,
        "signatures": sorted(model.signatures),
        "tf_serving_loader": {"warmup_requests_replayed": replayed, "signatures": bundle_signatures},
        "canary_images": len(images),
        "classes": list(by_images.class_name),
        "embedding_size": int(embedding.shape[1]),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point of the fresh process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--examples", nargs="+", required=True, help="gzip TFRecord files of raw examples")
    parser.add_argument("--count", type=int, default=8)
    args = parser.parse_args(argv)
    register_s3_filesystem_for(args.model_dir, *args.examples)
    try:
        images, ids = read_canary_images(args.examples, args.count)
        result = check_model(args.model_dir, images, ids)
    except Exception as err:  # the parent reports whatever went wrong, in one line
        print(json.dumps({"ok": False, "error": f"{type(err).__name__}: {err}"}))
        return 1
    print(json.dumps({"ok": True, **result}))
    return 0


if __name__ == "__main__":
    exit_after(main)
