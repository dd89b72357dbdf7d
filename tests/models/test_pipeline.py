"""Transform → Tuner → Trainer on tiny data with the LocalDagRunner; the export loads in a fresh process."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from data.fashion_mnist import locate
from models.trainer import CURVES_PNG, HISTORY_JSON
from models.tuner import TRIALS_CSV, TRIALS_JSON, TRIALS_PNG
from pipeline import nodes
from pipeline.config import make_config
from pipeline.fingerprint import code_fingerprint
from pipeline.local_runner import run_pipeline
from pipeline.pipeline import create_components

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Runs in a fresh interpreter: only TensorFlow and the SavedModel, none of the training code's state.
LOAD_AND_PREDICT = """
import glob, json, sys
import numpy as np
import tensorflow as tf

model = tf.saved_model.load(sys.argv[1])
files = glob.glob(sys.argv[2] + "/*.gz")
examples = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP").take(8)]
parsed = tf.io.parse_example(examples, {"image": tf.io.FixedLenFeature([], tf.string)})
images = np.stack([tf.io.decode_png(p, channels=1)[..., 0].numpy() for p in parsed["image"]])
images = images.astype("float32")
by_example = model.signatures["serving_default"](examples=tf.constant(examples))
by_image = model.signatures["predict_images"](images=tf.constant(images))
embedding = model.signatures["embed"](images=tf.constant(images))["embedding"]
print(json.dumps({
    "signatures": sorted(model.signatures),
    "probabilities": by_example["probabilities"].numpy().tolist(),
    "class_id": by_example["class_id"].numpy().tolist(),
    "class_name": [c.decode() for c in by_example["class_name"].numpy()],
    "image_class_id": by_image["class_id"].numpy().tolist(),
    "embedding_shape": list(embedding.shape),
}))
"""


def _uri(run, key: str) -> Path:
    return Path(run.outputs[key][0][0])


@pytest.mark.pipeline
def test_transform_tuner_trainer_run_and_the_export_loads_in_a_fresh_process(tiny_idx_dir, tmp_path):
    config = make_config(
        "test",
        tmp_path / "root",
        data_dir=str(tiny_idx_dir),
        data_fingerprint=locate(str(tiny_idx_dir), allow_foreign=True, allow_download=False).fingerprint,
        allow_foreign_data=True,
    )
    # The factory's data and model stages: the release is tested in tests/pipeline/test_release.py.
    result = run_pipeline(config, stream=io.StringIO(), stop_after=nodes.TRAINER)
    assert result.ok, result.error
    for node in ("Transform", "Tuner", "Trainer"):
        run = result.component(node)
        assert run is not None and run.state == "executed", f"{node}: {run}"

    tuner_results = _uri(result.component("Tuner"), "tuner_results")
    with open(tuner_results / TRIALS_CSV) as f:
        trials = list(csv.DictReader(f))
    assert trials and all(t["status"] == "COMPLETED" for t in trials)
    assert {"trial_id", "score", "family", "learning_rate", "batch_size", "stem"} <= set(trials[0])
    assert len(json.loads((tuner_results / TRIALS_JSON).read_text())) == len(trials)
    assert (tuner_results / TRIALS_PNG).read_bytes().startswith(PNG_MAGIC)
    best = json.loads(
        (_uri(result.component("Tuner"), "best_hyperparameters") / "best_hyperparameters.txt").read_text()
    )

    model_run = _uri(result.component("Trainer"), "model_run")
    history = json.loads((model_run / HISTORY_JSON).read_text())
    assert 1 <= len(history["val_accuracy"]) <= config.model.train_epochs
    assert (model_run / CURVES_PNG).read_bytes().startswith(PNG_MAGIC)
    assert any(name.startswith("events.out.tfevents") for _, _, files in os.walk(model_run) for name in files)

    serving = _uri(result.component("Trainer"), "model") / "Format-Serving"
    test_split = _uri(result.component("IdxExampleGen"), "examples") / "Split-test"
    out = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, str(serving), str(test_split)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["signatures"] == ["embed", "predict_images", "serving_default"]
    assert len(answer["probabilities"]) == 8 and all(len(p) == 10 for p in answer["probabilities"])
    assert all(abs(sum(p) - 1.0) < 1e-4 for p in answer["probabilities"])
    assert answer["class_id"] == answer["image_class_id"]
    assert answer["embedding_shape"] == [8, best["values"]["embedding_dim"]]
    from data.classes import CLASS_NAMES

    assert answer["class_name"] == [CLASS_NAMES[i] for i in answer["class_id"]]


def test_model_components_carry_the_code_fingerprint_and_the_tuner_is_optional(tmp_path):
    tuned = {c.id: c for c in create_components(make_config("test", tmp_path))}
    assert {"Transform", "Tuner", "Trainer"} <= set(tuned)
    for node in ("Transform", "Tuner", "Trainer"):
        assert (
            json.loads(tuned[node].exec_properties["custom_config"])["code_fingerprint"] == code_fingerprint()
        )
    untuned = {c.id: c for c in create_components(make_config("test", tmp_path, tuner="none"))}
    assert "Tuner" not in untuned and "Trainer" in untuned
