"""The serving SavedModel: raw 28×28 images in; upscale, Transform graph and model inside; three signatures.

Signatures (the contract with serving clients):
    serving_default(examples: string [N]) -> probabilities float32 [N, 10], class_id int64 [N],
        class_name string [N]; `examples` are serialized tf.Examples with the raw 28×28 PNG `image`.
    predict_images(images: float32 [N, 28, 28], grey levels 0-255) -> the same three outputs.
    embed(images: float32 [N, 28, 28]) -> embedding float32 [N, D].
Besides, `embed_transformed` (not a signature) maps Transform-output images to embeddings: the trunk
that a later run's Trainer reloads, frozen, for transfer learning from this model.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_transform as tft

from fashion_tfx.data.examples import IMAGE_KEY
from fashion_tfx.data.fashion_mnist import CLASS_NAMES
from fashion_tfx.models.families import TRUNK_ENDPOINT, classifier_of, embedding_model
from fashion_tfx.models.preprocessing import IMAGE_XF, decode_images
from fashion_tfx.models.search_space import ModelSettings

SERVING_DEFAULT, PREDICT_IMAGES, EMBED = "serving_default", "predict_images", "embed"
PROBABILITIES, CLASS_ID, CLASS_NAME, EMBEDDING = "probabilities", "class_id", "class_name", "embedding"


class ServingModule(tf.Module):
    """Holds the model, its embedding sub-model and the Transform layer, and defines the signatures."""

    def __init__(
        self, model: keras.Model, tf_transform_output: tft.TFTransformOutput, settings: ModelSettings
    ):
        super().__init__(name="fashion_serving")
        self.classifier = classifier_of(model)
        self.embedder = embedding_model(model)
        self.tft_layer = tf_transform_output.transform_features_layer()
        self._source = settings.source_size
        self._size = settings.image_size
        self._upscale = settings.upscale
        self._interpolation = settings.interpolation
        image_spec = tf.TensorSpec([None, self._source, self._source], tf.float32, name="images")
        xf_spec = tf.TensorSpec([None, self._size, self._size, 1], tf.float32, name=IMAGE_XF)
        self.serve_examples = tf.function(
            self._serve_examples, input_signature=[tf.TensorSpec([None], tf.string, name="examples")]
        )
        self.predict_images = tf.function(self._predict_images, input_signature=[image_spec])
        self.embed = tf.function(self._embed, input_signature=[image_spec])
        setattr(self, TRUNK_ENDPOINT, tf.function(self._embed_transformed, input_signature=[xf_spec]))

    def _transform(self, images_uint8: tf.Tensor) -> tf.Tensor:
        """Raw images uint8 [N, 28, 28] -> the Transform graph's `image_xf`, as in training."""
        if self._upscale:
            from fashion_tfx.components.upscaler.resize import upscale_images_tf

            images_uint8 = upscale_images_tf(
                images_uint8, self._size, interpolation=self._interpolation, source_size=self._source
            )
        # The Transform graph takes PNG bytes, as the (upscaled) examples hold them; PNG is lossless.
        # Level 0 (stored, no deflate): the same pixels come back, at a third of the encode+decode
        # time of the default level (measured at batch 64, 128×128), which dominated serving.
        png = tf.map_fn(
            lambda image: tf.io.encode_png(image[..., tf.newaxis], compression=0),
            images_uint8,
            fn_output_signature=tf.TensorSpec([], tf.string),
        )
        return self.tft_layer({IMAGE_KEY: tf.reshape(png, [-1, 1])})[IMAGE_XF]

    def _classify(self, image_xf: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities = self.classifier(image_xf, training=False)
        class_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        class_name = tf.gather(tf.constant(CLASS_NAMES), class_id)
        return {PROBABILITIES: probabilities, CLASS_ID: class_id, CLASS_NAME: class_name}

    def _serve_examples(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        features = tf.io.parse_example(examples, {IMAGE_KEY: tf.io.FixedLenFeature([], tf.string)})
        images = decode_images(features[IMAGE_KEY], self._source)[..., 0]
        return self._classify(self._transform(images))

    def _predict_images(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._classify(self._transform(to_uint8(images)))

    def _embed(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {EMBEDDING: self.embedder(self._transform(to_uint8(images)), training=False)}

    def _embed_transformed(self, image_xf: tf.Tensor) -> tf.Tensor:
        return self.embedder(image_xf, training=False)


def to_uint8(images: tf.Tensor) -> tf.Tensor:
    """Grey levels as floats (0-255) -> uint8, rounding to the nearest level and checking the range."""
    checks = [
        tf.debugging.assert_greater_equal(images, 0.0, message="grey levels must lie in [0, 255]"),
        tf.debugging.assert_less_equal(images, 255.0, message="grey levels must lie in [0, 255]"),
    ]
    with tf.control_dependencies(checks):
        return tf.cast(tf.round(images), tf.uint8)


def export_serving_model(
    model: keras.Model, tf_transform_output: tft.TFTransformOutput, settings: ModelSettings, export_dir: str
) -> ServingModule:
    """Writes the serving SavedModel with its three signatures into `export_dir`.

    Returns:
        The exported module (callable in-process, e.g. by tests).
    """
    module = ServingModule(model, tf_transform_output, settings)
    signatures = {
        SERVING_DEFAULT: module.serve_examples.get_concrete_function(),
        PREDICT_IMAGES: module.predict_images.get_concrete_function(),
        EMBED: module.embed.get_concrete_function(),
    }
    tf.saved_model.save(module, export_dir, signatures=signatures)
    return module
