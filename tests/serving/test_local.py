"""The in-process backend: version resolution, predictions, and staying healthy after bad input."""

from __future__ import annotations

import numpy as np
import pytest
from support import FASHION_CLASS_NAMES

from models.search_space import DEFAULTS
from serving import payloads
from serving.local import LocalModel, resolve_model_dir
from serving.payloads import PayloadError
from serving.push import ServingRootError
from serving.signatures import ServingError
from serving.versions import served_versions


def _fake_versions(base, *versions):
    for version in versions:
        (base / str(version)).mkdir(parents=True)
        (base / str(version) / "saved_model.pb").write_bytes(b"")


def test_resolve_picks_the_highest_numeric_version(tmp_path):
    base = tmp_path / "fashion-tfx"
    _fake_versions(base, 9, 10, 2)
    (base / "11").mkdir()  # incomplete: no saved_model.pb
    (base / "latest").mkdir()
    assert served_versions(base) == [2, 9, 10]
    assert resolve_model_dir(serving_root=tmp_path) == base / "10"
    assert resolve_model_dir(model_dir=base) == base / "10"
    assert resolve_model_dir(model_dir=base / "9") == base / "9"
    assert resolve_model_dir(serving_root=tmp_path, version=2) == base / "2"


def test_resolve_reports_what_is_missing(tmp_path):
    with pytest.raises(ServingError, match="no SavedModel and no numeric version"):
        resolve_model_dir(serving_root=tmp_path)
    _fake_versions(tmp_path / "fashion-tfx", 1)
    with pytest.raises(ServingError, match=r"no version 5 \(found: \[1\]\)"):
        resolve_model_dir(serving_root=tmp_path, version=5)
    with pytest.raises(ServingRootError, match="invalid model name"):
        resolve_model_dir(serving_root=tmp_path, model_name="../fashion-tfx")


def test_loading_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(ServingError, match="cannot load the SavedModel"):
        LocalModel(tmp_path)


def test_both_signatures_match_the_expected_probabilities(local_model, good_images, expected):
    payload = payloads.make_payload(good_images, ["a", "b", "c"])
    want = expected(good_images)
    for signature in ("predict_images", "serving_default"):
        predictions = local_model.predict(payload, signature)
        np.testing.assert_allclose(predictions.probabilities, want, rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(predictions.class_id, want.argmax(axis=1))
        assert predictions.class_name == tuple(FASHION_CLASS_NAMES[i] for i in want.argmax(axis=1))
    assert len(set(want.argmax(axis=1))) > 1  # the fixture images are told apart


def _bad_payload(kind: str) -> payloads.Payload:
    """Payloads that bypass `make_payload`, as a caller of the library could build them."""
    images = {
        "wrong shape": np.zeros((2, 28, 27), np.float32),
        "wrong dtype": np.full((1, 28, 28), "x"),
        "out of range": np.full((1, 28, 28), 300.0, np.float32),
        "empty batch": np.zeros((0, 28, 28), np.float32),
        "oversized batch": np.zeros((300, 28, 28), np.float32),
        "oversized image": np.zeros((1, 56, 56), np.float32),
    }[kind]
    return payloads.Payload(images, tuple(f"i{n}" for n in range(len(images))), (None,) * len(images))


BAD_INPUTS = {
    "wrong shape": r"wrong shape \[2, 28, 27\]",
    "wrong dtype": "wrong dtype",
    "out of range": "i0: grey levels must be finite values in 0-255",
    "empty batch": "empty batch",
    "oversized batch": "oversized batch: 300 images, at most 256",
    "oversized image": r"wrong shape \[1, 56, 56\]",
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
@pytest.mark.parametrize("signature", ["predict_images", "serving_default"])
def test_bad_input_is_refused_and_the_model_still_answers(
    local_model, good_images, expected, kind, signature
):
    with pytest.raises(PayloadError, match=BAD_INPUTS[kind]):
        local_model.predict(_bad_payload(kind), signature)
    good = local_model.predict(payloads.make_payload(good_images, ["a", "b", "c"]), signature)
    np.testing.assert_allclose(good.probabilities, expected(good_images), rtol=1e-4, atol=1e-6)


def test_non_image_bytes_are_refused_and_the_model_still_answers(
    local_model, good_images, expected, tmp_path
):
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"%PDF-1.4 definitely not a png")
    with pytest.raises(PayloadError, match="fake.png: not a PNG image"):
        payloads.load_png_files([fake])
    good = local_model.predict(payloads.make_payload(good_images, ["a", "b", "c"]), "predict_images")
    np.testing.assert_allclose(good.probabilities, expected(good_images), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("signature", "inputs", "message"),
    [
        (
            "predict_images",
            {"images": np.zeros((1, 28, 27), np.float32)},
            r"shape \[1, 28, 27\] does not fit",
        ),
        ("predict_images", {"images": np.array([["a"]])}, "signature 'predict_images' failed"),
        ("predict_images", {"pixels": np.zeros((1, 28, 28), np.float32)}, r"takes input\(s\) \['images'\]"),
        ("serving_default", {"examples": np.array([b"not a tf.Example"], dtype=object)}, "failed"),
        ("serving_default", {"examples": np.array([b""], dtype=object)}, "failed"),
        ("classify", {"images": np.zeros((1, 28, 28), np.float32)}, "no signature 'classify'"),
    ],
)
def test_raw_calls_that_tf_rejects_leave_the_model_healthy(
    local_model, good_images, expected, signature, inputs, message
):
    with pytest.raises(ServingError, match=message):
        local_model.call(signature, inputs)
    outputs = local_model.call("predict_images", {"images": good_images.astype(np.float32)})
    np.testing.assert_allclose(outputs["probabilities"], expected(good_images), rtol=1e-4, atol=1e-6)


def test_embed_signature_is_not_a_prediction_signature(local_model, good_images):
    payload = payloads.make_payload(good_images, ["a", "b", "c"])
    with pytest.raises(ServingError, match="'embed' is not a prediction signature"):
        local_model.predict(payload, "embed")
    embedding = local_model.call("embed", {"images": good_images.astype(np.float32)})["embedding"]
    assert embedding.shape == (3, DEFAULTS["embedding_dim"])  # the tiny export's embedding layer
