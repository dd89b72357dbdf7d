"""TF Serving warm-up records: written by the export for every signature, answered the same on replay."""

from __future__ import annotations

import shutil
from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from serving.bundle import ServingBundle
from serving.signatures import ASSETS_EXTRA, WARMUP_FILE, ServingError


def _read_logs(model_dir) -> list[prediction_log_pb2.PredictionLog]:
    path = str(model_dir / ASSETS_EXTRA / WARMUP_FILE)
    return [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]


def test_warmup_requests_cover_every_signature_and_replay_to_the_recorded_answers(tiny_model_dir):
    logs = _read_logs(tiny_model_dir)
    assert 0 < len(logs) <= 1000, "TF Serving reads at most 1,000 warm-up records"
    bundle = ServingBundle(str(tiny_model_dir))  # loaded as TF Serving loads it: restore op, Session::Run
    per_signature = Counter(log.predict_log.request.model_spec.signature_name for log in logs)
    assert set(per_signature) == set(bundle.signatures) == {"serving_default", "predict_images", "embed"}
    assert bundle.replay_warmup() == len(logs)

    # The same requests through TF2's loader answer the same.
    loaded = tf.saved_model.load(str(tiny_model_dir))
    answers = {}
    for log in logs:
        request = log.predict_log.request
        name = request.model_spec.signature_name
        inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
        outputs = {k: v.numpy() for k, v in loaded.signatures[name](**inputs).items()}
        served = bundle.run(name, inputs)
        for key, value in outputs.items():
            if value.dtype.kind == "f":
                np.testing.assert_allclose(served[key], value, atol=1e-5, err_msg=f"{name}/{key}")
            else:
                np.testing.assert_array_equal(served[key], value, err_msg=f"{name}/{key}")
        answers[name, len(next(iter(inputs.values())))] = outputs

    # The same warm-up images go to every signature: both prediction signatures must agree on them,
    # and give distributions over the ten classes.
    for (name, batch), outputs in answers.items():
        if name == "embed":
            assert outputs["embedding"].shape[0] == batch and np.isfinite(outputs["embedding"]).all()
            continue
        np.testing.assert_allclose(outputs["probabilities"].sum(axis=1), 1.0, atol=1e-5)
        other = answers["predict_images" if name == "serving_default" else "serving_default", batch]
        np.testing.assert_allclose(outputs["probabilities"], other["probabilities"], atol=1e-5)
    assert any(batch > 1 for _, batch in answers), "warm up batched calls too"


def test_replay_refuses_a_record_answered_otherwise(tiny_model_dir, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    logs = _read_logs(model_dir)
    tampered = logs[0].predict_log.response.outputs
    key = next(k for k, v in tampered.items() if v.dtype == tf.float32.as_datatype_enum)
    values = tf.make_ndarray(tampered[key]) + 0.5
    tampered[key].CopyFrom(tf.make_tensor_proto(values))
    with tf.io.TFRecordWriter(str(model_dir / ASSETS_EXTRA / WARMUP_FILE)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    with pytest.raises(ServingError, match=rf"record 1 \(.*/{key}\) answers other than recorded"):
        ServingBundle(str(model_dir)).replay_warmup()


def test_tf_serving_loader_refuses_keras_variables_saved_through_a_module_attribute(tmp_path):
    """The trap the export avoids: TF2's loader runs such a model, TF Serving's does not."""
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(inputs))
    module = tf.Module()
    module.model = model  # tracked as a Keras model, as the export once did
    module.serve = tf.function(
        lambda x: {"y": model(x)}, input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")]
    )
    tf.saved_model.save(
        module, str(tmp_path), signatures={"serving_default": module.serve.get_concrete_function()}
    )
    x = np.ones((1, 4), np.float32)
    assert tf.saved_model.load(str(tmp_path)).signatures["serving_default"](x=x)["y"].shape == (1, 2)
    with pytest.raises(ServingError, match="Could not find variable dense"):
        ServingBundle(str(tmp_path)).run("serving_default", {"x": x})


def test_tensorflows_own_saved_model_cli_runs_every_signature(tiny_model_dir, tmp_path):
    """TensorFlow's `saved_model_cli run` loads as TF Serving does, independently of serving.bundle
    (before the export tracked its variables, it failed with "Could not find variable")."""
    import subprocess
    import sys
    from pathlib import Path

    from data.examples import serialize_examples

    cli = Path(sys.executable).with_name("saved_model_cli")
    images = np.random.default_rng(0).integers(0, 256, (2, 28, 28)).astype(np.float32)
    # Serialized examples as fixed-width bytes (dtype S), which NumPy saves without pickling; dtype S
    # drops trailing NUL bytes, so none may end with one.
    serialized = serialize_examples(images.astype(np.uint8))
    assert all(not e.endswith(b"\0") for e in serialized)
    examples = np.array(serialized, dtype=bytes)
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "examples.npy", examples)
    for signature in ("predict_images", "embed", "serving_default"):
        name = "examples" if signature == "serving_default" else "images"
        given = ["--inputs", f"{name}={tmp_path / f'{name}.npy'}"]
        run = subprocess.run(
            [
                str(cli),
                "run",
                "--dir",
                str(tiny_model_dir),
                "--tag_set",
                "serve",
                "--signature_def",
                signature,
            ]
            + given,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        expected = "embedding" if signature == "embed" else "probabilities"
        assert f"Result for output key {expected}" in run.stdout, run.stdout[-2000:]
