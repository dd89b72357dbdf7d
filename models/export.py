"""The serving SavedModel: raw 28×28 images in; upscale, pixel scaling and model inside; three signatures.

Signatures (the contract with serving clients, named in `serving/signatures.py`):
    serving_default(examples: string [N]) -> probabilities float32 [N, 10], class_id int64 [N],
        class_name string [N]; `examples` are serialized tf.Examples with the raw 28×28 PNG `image`.
        The graph enforces the client's PNG contract itself (size in bytes, PNG signature, the
        header's dimensions and bit depth), before any pixel is decoded.
    predict_images(images: float32 [N, 28, 28], grey levels 0-255) -> the same three outputs.
    embed(images: float32 [N, 28, 28]) -> embedding float32 [N, D].
Besides, `embed_transformed` (not a signature) maps Transform-output images to embeddings: the trunk
that a later run's Trainer reloads, frozen, for transfer learning from this model.

Training reads upscaled PNGs and the Transform graph decodes them, then scales the pixels
(`preprocessing.scale_pixels`). Serving has pixels already, so it applies `scale_pixels` to them
directly rather than encoding PNGs for the Transform graph to decode again; `check_transform_is_scaling`
verifies at export, on probe images covering every grey level, that the Transform graph is still exactly
decode-then-`scale_pixels`, and the export fails otherwise (e.g. after an analyzer is added to it).
"""

from __future__ import annotations

import os
import types

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from data.classes import CLASS_NAMES
from data.examples import IMAGE_KEY
from data.graph import branch
from models.families import TRUNK_ENDPOINT, classifier_of, embedding_model
from models.preprocessing import (  # noqa: F401 (the export's checks, re-exported)
    IMAGE_XF,
    TransformMismatchError,
    check_transform_is_scaling,
    decode_images,
    decode_png_image,
    scale_pixels,
)
from models.settings import ModelSettings
from serving.png_graph_checks import good_pngs, png_contract_checks, refuse_unless
from serving.signatures import (
    ASSETS_EXTRA,
    CLASS_ID,
    CLASS_NAME,
    EMBED,
    EMBEDDING,
    INPUT_NAMES,
    PREDICT_IMAGES,
    PROBABILITIES,
    SERVING_DEFAULT,
    WARMUP_FILE,
)

WARMUP_BATCH_SIZES = (1, 64)


class ServingModule(tf.Module):
    """Holds the model and its embedding sub-model, and defines the signatures."""

    def __init__(self, model: keras.Model, settings: ModelSettings):
        super().__init__(name="fashion_serving")
        # Saved only through the Keras models, Keras 3 variables get checkpoint entries that TF Serving's
        # loader (graph mode: restore op, then Session::Run) never restores into the handles the
        # signatures read: every request fails with "Could not find variable" (keras-team/keras#19274),
        # while tf.saved_model.load runs it fine. So `save_for_tf_serving` tracks the tf.Variables the
        # functions capture, as Keras's ExportArchive does, and the Keras models stay out of the object
        # graph (a plain namespace is not tracked), which would store every weight twice.
        self._keras = types.SimpleNamespace(classifier=classifier_of(model), embedder=embedding_model(model))
        self._source = settings.source_size
        self._size = settings.image_size
        self._upscale = settings.upscale
        self._interpolation = settings.interpolation
        image_spec = tf.TensorSpec(
            [None, self._source, self._source], tf.float32, name=INPUT_NAMES[PREDICT_IMAGES]
        )
        xf_spec = tf.TensorSpec([None, self._size, self._size, 1], tf.float32, name=IMAGE_XF)
        self.serve_examples = tf.function(
            self._serve_examples,
            input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAMES[SERVING_DEFAULT])],
        )
        self.predict_images = tf.function(self._predict_images, input_signature=[image_spec])
        self.embed = tf.function(self._embed, input_signature=[image_spec])
        setattr(self, TRUNK_ENDPOINT, tf.function(self._embed_transformed, input_signature=[xf_spec]))

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """The three signatures, traced."""
        return {
            SERVING_DEFAULT: self.serve_examples.get_concrete_function(),
            PREDICT_IMAGES: self.predict_images.get_concrete_function(),
            EMBED: self.embed.get_concrete_function(),
        }

    def _transform(self, images: tf.Tensor) -> tf.Tensor:
        """Raw grey levels [N, 28, 28] (uint8, or whole-number floats) -> `image_xf`, as in training.

        Training's `image_xf` is `scale_pixels` of the upscaled uint8 pixels; whole-number floats hold
        the same values, so they are scaled without a cast to uint8 and back. A static batch of one
        takes the upscale's plain 2-D matmuls.
        """
        if self._upscale:
            from data.resize import upscale_images_tf

            images = upscale_images_tf(
                images,
                self._size,
                interpolation=self._interpolation,
                source_size=self._source,
                as_float=True,
            )
        return scale_pixels(images[..., tf.newaxis])

    def _classify(self, image_xf: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities = self._keras.classifier(image_xf, training=False)
        class_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        class_name = tf.gather(tf.constant(CLASS_NAMES), class_id)
        return {PROBABILITIES: probabilities, CLASS_ID: class_id, CLASS_NAME: class_name}

    # The served graphs' costs, measured through serving.bundle (bench.serving): a branch lowered into
    # Switch/Merge slows the whole graph, so each signature has one `branch` (kept whole): one image
    # (for serving_default, one good PNG) is decoded if need be and upscaled with plain 2-D matmuls;
    # anything else takes the general path (the PNG contract's checks, the batch decoding, the batched
    # matmuls).
    def _serve_examples(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        features = tf.io.parse_example(examples, {IMAGE_KEY: tf.io.FixedLenFeature([], tf.string)})
        png = tf.reshape(features[IMAGE_KEY], [-1])
        good = good_pngs(png, self._source)

        def one_image() -> tf.Tensor:
            return self._transform(decode_png_image(png[0], self._source)[tf.newaxis, ..., 0])

        def checked_batch() -> tf.Tensor:
            checks = [_refuse_empty(tf.size(png), "examples"), *png_contract_checks(png, self._source, good)]
            with tf.control_dependencies(checks):
                images = decode_images(png, self._source)[..., 0]
            return self._transform(images)

        single = tf.logical_and(tf.equal(tf.size(png), 1), tf.reduce_all(good))
        return self._classify(branch(single, one_image, checked_batch))

    def _grey_to_xf(self, images: tf.Tensor) -> tf.Tensor:
        in_range = tf.reduce_all(tf.logical_and(images >= 0.0, images <= 255.0))  # False for NaN
        single = tf.logical_and(tf.equal(tf.shape(images)[0], 1), in_range)

        def one_image() -> tf.Tensor:
            grey = tf.round(tf.reshape(images, [1, self._source, self._source]))
            return self._transform(grey)

        # Anything else is checked in detail (naming the bad image, or refusing an empty request).
        return branch(single, one_image, lambda: self._transform(to_grey_levels(images)))

    def _predict_images(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._classify(self._grey_to_xf(images))

    def _embed(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {EMBEDDING: self._keras.embedder(self._grey_to_xf(images), training=False)}

    def _embed_transformed(self, image_xf: tf.Tensor) -> tf.Tensor:
        return self._keras.embedder(image_xf, training=False)


def to_grey_levels(images: tf.Tensor) -> tf.Tensor:
    """Grey levels as floats in [0, 255] -> whole grey levels (float32); refuses an empty request, NaN
    and values outside [0, 255] (checked before rounding, so 255.4 is refused too).

    Rounds to the nearest level, as the client's cast to uint8 PNG pixels does (half to even).
    """
    count = tf.shape(images)[0]
    in_range = tf.logical_and(images >= 0.0, images <= 255.0)  # False for NaN
    # The signatures call this on their general path only (one good image skips it), so it may spend
    # the ops that find and name the first bad image on every call.
    per_image = tf.reduce_all(tf.reshape(in_range, [count, -1]), axis=1)
    message = "image {}: grey levels must lie in [0, 255] (finite values; no NaN)"
    checks = [_refuse_empty(count, "images"), refuse_unless(per_image, message, [])]
    with tf.control_dependencies(checks):
        return tf.round(images)


def _refuse_empty(count: tf.Tensor, what: str) -> tf.Operation:
    """An assertion that the request holds at least one item (an empty batch would otherwise fail deep
    inside the model with a shape error that says nothing of the request)."""
    return tf.debugging.Assert(count > 0, [f"empty request: no {what} (send at least one)"])


def warmup_images(count: int, side: int, seed: int = 0) -> np.ndarray:
    """Deterministic uint8 [count, side, side] images for warm-up: noise, blank, ramps and blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    kinds = [
        lambda: rng.integers(0, 256, (side, side)),
        lambda: np.zeros((side, side)),
        lambda: (xx + yy) * 255 / (2 * side - 2),
        lambda: 255.0 * (((xx - side / 2) ** 2 + (yy - side / 2) ** 2) < rng.uniform(20, 120)),
    ]
    return np.stack([kinds[i % len(kinds)]() for i in range(count)]).round().astype(np.uint8)


def warmup_inputs(signature: str, images: np.ndarray) -> np.ndarray:
    """The value a client sends to `signature` for `images` (uint8 [N, 28, 28])."""
    if signature == SERVING_DEFAULT:
        from data.examples import serialize_examples

        return np.array(serialize_examples(images, [f"warmup:{i}" for i in range(len(images))]), dtype=object)
    return images.astype(np.float32)


def write_warmup_requests(module: ServingModule, export_dir: str, source_size: int) -> str:
    """Writes TF Serving's warm-up file: a PredictRequest per signature and batch size, with its answer.

    TF Serving replays the requests when it loads the version (and ignores the recorded responses); the
    responses let a test check that the saved model still answers them the same way.

    Returns:
        The file's path.
    """
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    functions = {
        SERVING_DEFAULT: module.serve_examples,
        PREDICT_IMAGES: module.predict_images,
        EMBED: module.embed,
    }
    directory = os.path.join(export_dir, ASSETS_EXTRA)
    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, WARMUP_FILE)
    images = warmup_images(max(WARMUP_BATCH_SIZES), source_size)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, function in functions.items():
            for batch in WARMUP_BATCH_SIZES:
                value = warmup_inputs(signature, images[:batch])
                request = predict_pb2.PredictRequest()
                request.model_spec.signature_name = signature
                request.inputs[INPUT_NAMES[signature]].CopyFrom(tf.make_tensor_proto(value))
                response = predict_pb2.PredictResponse()
                for name, tensor in function(tf.constant(value)).items():
                    response.outputs[name].CopyFrom(tf.make_tensor_proto(tensor.numpy()))
                log = prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=request, response=response)
                )
                writer.write(log.SerializeToString())
    return path


def save_for_tf_serving(
    module: tf.Module,
    export_dir: str,
    signatures: dict[str, tf.types.experimental.ConcreteFunction],
    also: list[tf.types.experimental.ConcreteFunction] = (),
) -> None:
    """`tf.saved_model.save`, tracking the tf.Variables that the functions capture (`served_variables`).

    TF Serving's loader restores only variables the object graph reaches directly; Keras 3 variables
    reached only through a Keras model are not among them (see `ServingModule`).

    Args:
        module: what to save; it must not track the Keras models itself.
        export_dir: the SavedModel folder.
        signatures: name -> traced function.
        also: other traced functions saved with the module (e.g. an attribute reloaded later).
    """
    functions = [*signatures.values(), *also]
    module.served_variables = list({id(v): v for f in functions for v in f.variables}.values())
    tf.saved_model.save(module, export_dir, signatures=signatures)


def export_serving_model(
    model: keras.Model, tf_transform_output: tft.TFTransformOutput, settings: ModelSettings, export_dir: str
) -> ServingModule:
    """Writes the serving SavedModel with its three signatures and its warm-up requests into `export_dir`.

    Raises:
        TransformMismatchError: the Transform graph is not what the served graph applies.
        ValueError: the model does not compute in float32 (export `float32_copy` of it).

    Returns:
        The exported module (callable in-process, e.g. by tests).
    """
    lowered = sorted({layer.dtype_policy.name for layer in classifier_of(model).layers} - {"float32"})
    if lowered:
        # A bfloat16 graph is slow, or refused, on CPUs without bfloat16 units.
        raise ValueError(
            f"the model computes in {', '.join(lowered)}: export its float32 copy "
            "(models.families.float32_copy), as the Trainer does"
        )
    check_transform_is_scaling(tf_transform_output, settings.image_size)
    module = ServingModule(model, settings)
    trunk = getattr(module, TRUNK_ENDPOINT).get_concrete_function()
    save_for_tf_serving(module, export_dir, module.signatures(), also=[trunk])
    write_warmup_requests(module, export_dir, settings.source_size)
    return module
