"""TF Serving warm-up records: written by the export for every signature, answered the same on replay."""

from __future__ import annotations

from collections import Counter

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from models.export import WARMUP_DIR, WARMUP_FILE


def _read_logs(model_dir) -> list[prediction_log_pb2.PredictionLog]:
    path = str(model_dir / WARMUP_DIR / WARMUP_FILE)
    return [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]


def test_warmup_requests_cover_every_signature_and_replay_to_the_recorded_answers(tiny_model_dir):
    logs = _read_logs(tiny_model_dir)
    assert 0 < len(logs) <= 1000, "TF Serving reads at most 1,000 warm-up records"
    loaded = tf.saved_model.load(str(tiny_model_dir))
    per_signature = Counter(log.predict_log.request.model_spec.signature_name for log in logs)
    assert set(per_signature) == set(loaded.signatures) == {"serving_default", "predict_images", "embed"}

    answers = {}
    for log in logs:
        request, recorded = log.predict_log.request, log.predict_log.response
        name = request.model_spec.signature_name
        inputs = {key: tf.constant(tf.make_ndarray(proto)) for key, proto in request.inputs.items()}
        outputs = loaded.signatures[name](**inputs)
        assert set(outputs) == set(recorded.outputs), name
        for key, tensor in outputs.items():
            expected = tf.make_ndarray(recorded.outputs[key])
            if expected.dtype.kind == "f":
                np.testing.assert_allclose(tensor.numpy(), expected, atol=1e-5, err_msg=f"{name}/{key}")
            else:
                np.testing.assert_array_equal(tensor.numpy(), expected, err_msg=f"{name}/{key}")
        answers[name, len(next(iter(inputs.values())))] = {k: v.numpy() for k, v in outputs.items()}

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
