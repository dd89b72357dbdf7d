"""No training/serving skew: the component's upscale + Transform + model agrees with every signature."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from support import make_images

from data.examples import make_example
from data.resize import upscale_images
from models.export import export_serving_model
from models.families import build_model, embedding_model
from models.preprocessing import TransformedBatches
from models.search_space import search_space
from models.settings import ModelSettings

COUNT = 240
SIZE = 32


def _raw_images(seed: int) -> tuple[np.ndarray, np.ndarray]:
    # Class-dependent stripes plus noise (learnable, and with many grey levels to resize).
    return make_images(COUNT, seed, contrast=170, noise=85, shuffle=False)


def _serialized(images: np.ndarray, labels: np.ndarray) -> tf.Tensor:
    return tf.constant(
        [
            make_example(im, int(lb), f"skew:{i}").SerializeToString()
            for i, (im, lb) in enumerate(zip(images, labels, strict=True))
        ]
    )


def test_training_path_and_every_serving_signature_agree(transform_output_32, tmp_path, seed):
    images, labels = _raw_images(seed)
    # float32, as the Trainer exports (a bfloat16-trained model is exported as its float32 copy).
    settings = ModelSettings(
        image_size=SIZE, upscale=True, interpolation="linear", stems=(1,), seed=seed, precision="float32"
    )
    hp = search_space(settings)
    hp.values.update(cnn_blocks=2, cnn_filters=16, augment_probability=0.0)
    model = build_model(hp, settings)
    batches = TransformedBatches(transform_output_32)

    # The training path: the component's OpenCV upscale, its PNG examples, the Transform graph, the model.
    upscaled = upscale_images(images, SIZE, interpolation="linear")
    image_xf, label_xf = batches.transform(_serialized(upscaled, labels))
    np.testing.assert_array_equal(label_xf.numpy(), labels)
    model.fit(image_xf, label_xf, batch_size=32, epochs=4, verbose=0)
    expected = model(image_xf, training=False).numpy()
    expected_embedding = embedding_model(model)(image_xf, training=False).numpy()
    assert len(set(expected.argmax(axis=1))) >= 3, "an untrained-looking model makes the class check vacuous"

    export_serving_model(model, transform_output_32, settings, str(tmp_path / "serving"))
    loaded = tf.saved_model.load(str(tmp_path / "serving"))
    raw = tf.constant(images.astype(np.float32))
    outputs = {
        "serving_default": loaded.signatures["serving_default"](examples=_serialized(images, labels)),
        "predict_images": loaded.signatures["predict_images"](images=raw),
    }

    for name, out in outputs.items():
        probabilities = out["probabilities"].numpy()
        assert probabilities.shape == (COUNT, 10), name
        np.testing.assert_array_equal(out["class_id"].numpy(), expected.argmax(axis=1), err_msg=name)
        difference = np.abs(probabilities - expected).max()
        assert difference <= 1e-4, f"{name}: max |Δprob| = {difference}"
    embedding = loaded.signatures["embed"](images=raw)["embedding"].numpy()
    assert embedding.shape == expected_embedding.shape
    np.testing.assert_allclose(embedding, expected_embedding, rtol=1e-5, atol=1e-4)
