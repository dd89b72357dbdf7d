"""The model families (fcnn, cnn, transfer) built from hyper-parameters, each with an `embedding` layer."""

from __future__ import annotations

import logging
import os

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from data.classes import NUM_CLASSES
from models.augmentation import augmentation_probabilities, make_augmentation
from models.search_space import max_cnn_blocks
from models.settings import BASE_MODEL, IMAGENET, ModelSettings
from serving.signatures import EMBEDDING  # also the name of the layer whose output `embed` returns

log = logging.getLogger(__name__)

CLASSIFIER = "classifier"  # the model without augmentation, nested in the training model
BACKBONE = "backbone"  # the frozen network of the `transfer` family
# The exported SavedModel's function that maps transformed images to embeddings: the trunk a later
# run's Trainer reloads (frozen) as its transfer backbone.
TRUNK_ENDPOINT = "embed_transformed"

# Grey [0, 1] -> the RGB input each keras.applications network expects (VGG: Caffe-style BGR means).
_BACKBONE_INPUT = {
    "mobilenet_v3_small": (255.0, (0.0, 0.0, 0.0)),
    "efficientnet_b0": (255.0, (0.0, 0.0, 0.0)),
    "vgg19": (255.0, (-103.939, -116.779, -123.68)),
}


@keras.saving.register_keras_serializable(package="fashion_tfx")
class GreyToRGB(keras.layers.Layer):
    """Repeats the grey channel three times, then scales and shifts it per channel."""

    def __init__(self, scale: float = 1.0, offsets: tuple[float, ...] = (0.0, 0.0, 0.0), **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.offsets = tuple(float(o) for o in offsets)

    def call(self, images):
        rgb = keras.ops.concatenate([images, images, images], axis=-1)
        return rgb * self.scale + keras.ops.convert_to_tensor(np.array(self.offsets, dtype="float32"))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offsets": list(self.offsets)}


def make_backbone(name: str, input_size: int, weights: str | None) -> keras.Model:
    """Returns a keras.applications network without its classifier.

    Args:
        name: one of `settings.BACKBONES`.
        input_size: side of its (RGB) input.
        weights: `imagenet` (downloads once into ~/.keras), None (random), or a weights-file path.
    """
    shape = (input_size, input_size, 3)
    if name == "mobilenet_v3_small":
        return keras.applications.MobileNetV3Small(
            input_shape=shape, include_top=False, weights=weights, include_preprocessing=True
        )
    if name == "efficientnet_b0":
        return keras.applications.EfficientNetB0(input_shape=shape, include_top=False, weights=weights)
    if name == "vgg19":
        return keras.applications.VGG19(input_shape=shape, include_top=False, weights=weights)
    raise ValueError(f"unknown backbone {name!r}")


def _stem(x, stem: int):
    # Downsampling early is what makes 128×128 affordable on CPUs: ~18× faster at 4×4 (measured).
    return keras.layers.AveragePooling2D(stem, name="stem")(x) if stem > 1 else x


def _fcnn_trunk(x, hp: keras_tuner.HyperParameters):
    x = keras.layers.Flatten()(x)
    for i in range(hp.get("fcnn_layers") - 1):
        x = keras.layers.Dense(hp.get("fcnn_units"), activation="relu", name=f"dense_{i}")(x)
    return keras.layers.Dense(hp.get("embedding_dim"), activation="relu", name=EMBEDDING)(x)


def _cnn_trunk(x, hp: keras_tuner.HyperParameters, image_size: int):
    blocks = min(hp.get("cnn_blocks"), max_cnn_blocks(image_size, hp.get("stem")))
    filters = hp.get("cnn_filters")
    for b in range(blocks):
        for c in range(hp.get("cnn_convs_per_block")):
            x = keras.layers.Conv2D(
                min(filters * 2**b, 256), 3, padding="same", use_bias=False, name=f"block{b}_conv{c}"
            )(x)
            # Momentum 0.9: running statistics settle within the few hundred steps of a short run.
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"block{b}_bn{c}")(x)
            x = keras.layers.ReLU(name=f"block{b}_relu{c}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.layers.Dense(hp.get("embedding_dim"), activation="relu", name=EMBEDDING)(x)


def served_base_model(path: str | None) -> str | None:
    """Returns the base model's SavedModel folder, or None when the look-up found nothing served."""
    return path if path and tf.io.gfile.exists(os.path.join(path, "saved_model.pb")) else None


def _transfer_trunk(x, settings: ModelSettings, stem: int, base_model_dir: str | None):
    if settings.backbone_weights == BASE_MODEL:
        # The served model's own trunk (stem included), reloaded frozen from its SavedModel.
        trunk = keras.layers.TFSMLayer(
            base_model_dir, call_endpoint=TRUNK_ENDPOINT, trainable=False, name=BACKBONE
        )
        return keras.layers.Identity(name=EMBEDDING)(trunk(x))
    x = _stem(x, stem)
    size = settings.image_size // stem
    scale, offsets = _BACKBONE_INPUT[settings.backbone]
    x = GreyToRGB(scale, offsets, name="grey_to_rgb")(x)
    weights = settings.backbone_weights
    if weights != IMAGENET and not tf.io.gfile.exists(weights):
        raise FileNotFoundError(f"backbone weights file {weights} does not exist")
    backbone = make_backbone(settings.backbone, size, weights)
    backbone.name = BACKBONE
    backbone.trainable = False  # frozen: the pre-trained embedding stays as it is
    x = backbone(x, training=False)  # and its batch norms stay in inference mode
    return keras.layers.GlobalAveragePooling2D(name=EMBEDDING)(x)


def build_classifier(
    hp: keras_tuner.HyperParameters, settings: ModelSettings, base_model_dir: str | None = None
) -> keras.Model:
    """Returns the classifier without augmentation: transformed image (H, W, 1) in [0, 1] -> probabilities.

    Args:
        hp: hyper-parameters (see `search_space.search_space`).
        settings: the pipeline's fixed choices (image size, backbone, ...).
        base_model_dir: the served SavedModel (ServedBaseModel), for `backbone_weights=base_model`.
    """
    family = hp.get("family")
    if family == "transfer" and settings.backbone_weights == BASE_MODEL and not base_model_dir:
        log.warning("no blessed model to transfer from yet: training the cnn family from scratch")
        family = "cnn"
    inputs = keras.Input((settings.image_size, settings.image_size, 1), name="image_xf")
    if family == "fcnn":
        x = _fcnn_trunk(_stem(inputs, hp.get("stem")), hp)
    elif family == "cnn":
        x = _cnn_trunk(_stem(inputs, hp.get("stem")), hp, settings.image_size)
    elif family == "transfer":
        embedding = _transfer_trunk(inputs, settings, hp.get("stem"), base_model_dir)
        x = keras.layers.Dense(hp.get("embedding_dim"), activation="relu", name="head")(embedding)
    else:
        raise ValueError(f"unknown model family {family!r}")
    x = keras.layers.Dropout(hp.get("dropout"), name="dropout")(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=CLASSIFIER)


def build_model(
    hp: keras_tuner.HyperParameters,
    settings: ModelSettings,
    base_model_dir: str | None = None,
    augmentation: dict[str, float] | None = None,
) -> keras.Model:
    """Returns the compiled training model: augmentation (training only) followed by the classifier.

    Args:
        hp: hyper-parameters; `augment_probability` sets every transformation's probability.
        settings: the pipeline's fixed choices.
        base_model_dir: see `build_classifier`.
        augmentation: per-transformation probabilities overriding `augment_probability`.
    """
    classifier = build_classifier(hp, settings, base_model_dir)
    inputs = keras.Input((settings.image_size, settings.image_size, 1), name="image_xf")
    probabilities = augmentation_probabilities(hp.get("augment_probability"), augmentation)
    x = inputs
    if any(p > 0.0 for p in probabilities.values()):
        x = make_augmentation(probabilities, seed=settings.seed)(x)
    model = keras.Model(inputs, classifier(x), name=f"fashion_{hp.get('family')}")
    model.compile(
        optimizer=keras.optimizers.Adam(hp.get("learning_rate")),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        # XLA compilation costs more than it saves for these small models and short trials on CPU.
        jit_compile=False,
    )
    return model


def classifier_of(model: keras.Model) -> keras.Model:
    """Returns the classifier nested in a training model (the model without augmentation)."""
    return model.get_layer(CLASSIFIER)


def embedding_model(model: keras.Model) -> keras.Model:
    """Returns transformed image -> embedding, sharing the trained model's layers."""
    classifier = classifier_of(model)
    return keras.Model(classifier.inputs, classifier.get_layer(EMBEDDING).output, name="embedding_model")
