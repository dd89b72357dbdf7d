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
import struct
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
from serving.signatures import (
    ASSETS_EXTRA,
    CLASS_ID,
    CLASS_NAME,
    EMBED,
    EMBEDDING,
    INPUT_NAMES,
    MAX_PNG_BYTES,
    PNG_GREY_COLOUR_TYPE,
    PNG_MAX_BIT_DEPTH,
    PNG_SIGNATURE,
    PREDICT_IMAGES,
    PROBABILITIES,
    SERVING_DEFAULT,
    WARMUP_FILE,
)

WARMUP_BATCH_SIZES = (1, 64)
_PNG_HEADER_BYTES = 26  # signature (8), IHDR length and type (8), width, height (8), depth, colour type


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
        good = _good_pngs(png, self._source)

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
    checks = [_refuse_empty(count, "images"), _refuse_unless(per_image, message, [])]
    with tf.control_dependencies(checks):
        return tf.round(images)


def _refuse_empty(count: tf.Tensor, what: str) -> tf.Operation:
    """An assertion that the request holds at least one item (an empty batch would otherwise fail deep
    inside the model with a shape error that says nothing of the request)."""
    return tf.debugging.Assert(count > 0, [f"empty request: no {what} (send at least one)"])


def _refuse_unless(ok: tf.Tensor, message: str, values: list[tf.Tensor]) -> tf.Operation:
    """An assertion that names the first example failing `ok` (a bool vector) with `message`.

    `message` is a `tf.strings.format` template: its first `{}` is the example's index, the others
    take `values` (vectors aligned with `ok`) at that index.
    """
    bad = tf.cast(tf.logical_not(ok), tf.int32)
    # One dummy slot at the end, so an empty or all-good batch still has something to gather.
    first = tf.argmax(tf.concat([bad, [1]], axis=0), output_type=tf.int32)
    picked = [tf.gather(tf.concat([v, tf.zeros([1], v.dtype)], axis=0), first) for v in values]
    text = tf.strings.format(message, [first, *picked])
    return tf.debugging.Assert(tf.reduce_all(ok), [text])


def _good_pngs(png: tf.Tensor, side: int) -> tf.Tensor:
    """Per example, whether its first bytes are one of the few headers a good PNG can have (bool [N])."""
    good_header = PNG_SIGNATURE + b"\0\0\0\x0dIHDR" + struct.pack(">II", side, side)
    good_headers = tf.constant([good_header + bytes([depth, PNG_GREY_COLOUR_TYPE]) for depth in (1, 2, 4, 8)])
    prefix = tf.strings.substr(png, 0, len(good_header) + 2)
    return tf.logical_and(
        tf.reduce_any(tf.equal(prefix[:, tf.newaxis], good_headers), axis=1),
        tf.strings.length(png) <= MAX_PNG_BYTES,
    )


def png_contract_checks(png: tf.Tensor, side: int, good: tf.Tensor | None = None) -> list[tf.Tensor]:
    """The client's PNG contract, checked in the graph from the bytes and the header only.

    Refuses, naming the example: more than `MAX_PNG_BYTES` bytes; anything that is not a PNG (a JPEG,
    GIF or BMP, which `tf.io.decode_png` would otherwise decode); a header declaring other dimensions
    than side×side (so a 20000×20000 image is never decompressed); a bit depth above 8; a colour type
    other than grey.

    A request of good PNGs costs a handful of ops: each example's first 26 bytes are compared with the
    few headers a good one can have. Only when one differs do the detailed checks run, to name the
    example and say what is wrong.

    Args:
        png: string [N], the `image` feature of each example.
        side: the side the images must have.
        good: `_good_pngs(png, side)`, if already computed.

    Returns:
        Tensors to depend on before decoding (evaluating them raises on a bad example).
    """
    good = _good_pngs(png, side) if good is None else good

    def refuse() -> tf.Tensor:
        with tf.control_dependencies(_detailed_png_checks(png, side)):
            return tf.constant(False)

    return [branch(tf.reduce_all(good), lambda: tf.constant(True), refuse)]


def _detailed_png_checks(png: tf.Tensor, side: int) -> list[tf.Operation]:
    """The contract's checks one by one, each naming the first example that fails it."""
    length = tf.strings.length(png)
    # Pad every string to the header's length so the header fields can be read as a [N, 26] array.
    padded = tf.strings.substr(tf.strings.join([png, b"\0" * _PNG_HEADER_BYTES]), 0, _PNG_HEADER_BYTES)
    header = tf.cast(tf.io.decode_raw(padded, tf.uint8), tf.int64)
    header = tf.reshape(header, [-1, _PNG_HEADER_BYTES])
    signature = tf.constant(list(PNG_SIGNATURE + b"\0\0\0\x0dIHDR"), tf.int64)
    is_png = tf.logical_and(
        tf.reduce_all(tf.equal(header[:, :16], signature), axis=1), length >= _PNG_HEADER_BYTES
    )
    big_endian = tf.constant([1 << 24, 1 << 16, 1 << 8, 1], tf.int64)
    width = tf.reduce_sum(header[:, 16:20] * big_endian, axis=1)
    height = tf.reduce_sum(header[:, 20:24] * big_endian, axis=1)
    depth, colour_type = header[:, 24], header[:, 25]
    # Each check assumes the previous ones passed, so they run in order.
    checks = [
        _refuse_unless(
            length <= MAX_PNG_BYTES,
            f"example {{}}: {{}} bytes is too large for a {side}x{side} PNG (at most {MAX_PNG_BYTES})",
            [tf.cast(length, tf.int64)],
        )
    ]
    with tf.control_dependencies(checks):
        checks.append(
            _refuse_unless(is_png, "example {}: not a PNG image (missing PNG signature / IHDR header)", [])
        )
    with tf.control_dependencies(checks):
        checks.append(
            _refuse_unless(
                tf.logical_and(tf.equal(height, side), tf.equal(width, side)),
                f"example {{}}: PNG header declares {{}}x{{}} pixels; the model takes {side}x{side}",
                [height, width],
            )
        )
    with tf.control_dependencies(checks):
        checks.append(
            _refuse_unless(
                depth <= PNG_MAX_BIT_DEPTH,
                "example {}: {}-bit PNG; expected 8-bit grey levels",
                [depth],
            )
        )
    with tf.control_dependencies(checks):
        # A colour or palette PNG would be turned grey by TensorFlow's own formula, which is not the
        # client's (it converts colour files itself, then sends grey PNGs) and was never trained on.
        checks.append(
            _refuse_unless(
                tf.equal(colour_type, PNG_GREY_COLOUR_TYPE),
                f"example {{}}: PNG colour type {{}}; expected grey (colour type {PNG_GREY_COLOUR_TYPE})",
                [colour_type],
            )
        )
    return checks


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
