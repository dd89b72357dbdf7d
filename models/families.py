"""The model families (fcnn, cnn, resnet, transfer) built from hyper-parameters, each with an `embedding`
layer."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from compat.keras import AverageBetweenEpochs
from data.classes import NUM_CLASSES
from models.augmentation import augmentation_probabilities, make_augmentation
from models.search_space import max_cnn_blocks
from models.settings import BASE_MODEL, FLOAT32, IMAGENET, RESNET, TRANSFER, ModelSettings, training_policy
from serving.signatures import EMBEDDING  # also the name of the layer whose output `embed` returns
from serving.versions import SAVED_MODEL_FILE

log = logging.getLogger(__name__)

CLASSIFIER = "classifier"  # the model without augmentation, nested in the training model
BACKBONE = "backbone"  # the frozen network of the `transfer` family
# The exported SavedModel's function that maps transformed images to embeddings: the trunk a later
# run's Trainer reloads (frozen) as its transfer backbone.
TRUNK_ENDPOINT = "embed_transformed"

TEST_TIME_FLIP = "test_time_flip"  # the layer that adds each image's mirror image at inference
FLIP_MEAN = "flip_mean"  # the layer that averages each image's outputs with its mirror image's


@contextlib.contextmanager
def dtype_policy(policy: str):
    """Builds the layers created inside the block with `policy`, then restores the previous global one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@keras.saving.register_keras_serializable(package="fashion_tfx")
class TestTimeFlip(keras.layers.Layer):
    """At inference, appends the mirror image of every image to the batch ([N, ...] -> [2N, ...]).

    Paired with `FlipMean`, which averages each image's output with its mirror's. In training it is the
    identity: the augmentation already flips.
    """

    def call(self, images, training=None):
        if training:
            return images
        return keras.ops.concatenate([images, keras.ops.flip(images, axis=2)], axis=0)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="fashion_tfx")
class FlipMean(keras.layers.Layer):
    """At inference, averages the outputs of the two halves `TestTimeFlip` made ([2N, ...] -> [N, ...])."""

    def call(self, outputs, training=None):
        if training:
            return outputs
        first, mirrored = keras.ops.split(outputs, 2, axis=0)
        return (first + mirrored) * 0.5

    def compute_output_shape(self, input_shape):
        return input_shape


def smoothed_crossentropy(smoothing: float):
    """Returns cross-entropy against integer labels smoothed by `smoothing` (0: the plain loss)."""

    def loss(labels, probabilities):
        one_hot = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(labels, [-1]), "int32"), NUM_CLASSES)
        return keras.losses.categorical_crossentropy(one_hot, probabilities, label_smoothing=smoothing)

    return loss


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
        offsets = keras.ops.convert_to_tensor(np.array(self.offsets, dtype="float32"), dtype=rgb.dtype)
        return rgb * keras.ops.cast(self.scale, rgb.dtype) + offsets

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
    x = keras.layers.Flatten(name="flatten")(x)
    for i in range(hp.get("fcnn_layers") - 1):
        x = keras.layers.Dense(hp.get("fcnn_units"), activation="relu", name=f"dense_{i}")(x)
    return keras.layers.Dense(hp.get("embedding_dim"), activation="relu", name=EMBEDDING)(x)


def _conv_bn(x, filters: int, conv_name: str, bn_name: str, kernel: int = 3, stride: int = 1):
    # Momentum 0.9: running statistics settle within the few hundred steps of a short run.
    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=conv_name)(
        x
    )
    return keras.layers.BatchNormalization(momentum=0.9, name=bn_name)(x)


def _cnn_trunk(x, hp: keras_tuner.HyperParameters, image_size: int):
    blocks = min(hp.get("cnn_blocks"), max_cnn_blocks(image_size, hp.get("stem")))
    filters = hp.get("cnn_filters")
    for b in range(blocks):
        for c in range(hp.get("cnn_convs_per_block")):
            x = _conv_bn(x, min(filters * 2**b, 256), f"block{b}_conv{c}", f"block{b}_bn{c}")
            x = keras.layers.ReLU(name=f"block{b}_relu{c}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.layers.Dense(hp.get("embedding_dim"), activation="relu", name=EMBEDDING)(x)


def _resnet_trunk(x, hp: keras_tuner.HyperParameters):
    # He et al.'s CIFAR ResNet (ResNet-20 at 3 blocks a stage, width 16): three stages of basic blocks,
    # each stage halving the side and doubling the width, a projection shortcut where the shape changes.
    width = hp.get("resnet_width")
    x = keras.layers.ReLU(name="stem_relu")(_conv_bn(x, width, "stem_conv", "stem_bn"))
    for stage in range(3):
        filters = width * 2**stage
        for block in range(hp.get("resnet_blocks")):
            name = f"stage{stage}_block{block}"
            stride = 2 if stage > 0 and block == 0 else 1
            y = _conv_bn(x, filters, f"{name}_a_conv", f"{name}_a_bn", stride=stride)
            y = _conv_bn(
                keras.layers.ReLU(name=f"{name}_relu0")(y), filters, f"{name}_b_conv", f"{name}_b_bn"
            )
            if stride != 1 or x.shape[-1] != filters:
                x = _conv_bn(
                    x, filters, f"{name}_shortcut_conv", f"{name}_shortcut_bn", kernel=1, stride=stride
                )
            x = keras.layers.ReLU(name=f"{name}_relu1")(keras.layers.Add(name=f"{name}_add")([x, y]))
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.layers.Dense(hp.get("embedding_dim"), activation="relu", name=EMBEDDING)(x)


def served_base_model(path: str | None) -> str | None:
    """Returns the base model's SavedModel folder, or None when the look-up found nothing served."""
    return path if path and tf.io.gfile.exists(os.path.join(path, SAVED_MODEL_FILE)) else None


def _transfer_trunk(x, settings: ModelSettings, stem: int, base_model_dir: str | None, augment):
    if settings.backbone_weights == BASE_MODEL:
        # The served model's own trunk (stem included), reloaded frozen from its SavedModel.
        trunk = keras.layers.TFSMLayer(
            base_model_dir, call_endpoint=TRUNK_ENDPOINT, trainable=False, name=BACKBONE, dtype="float32"
        )
        return keras.layers.Identity(name=EMBEDDING)(trunk(augment(x)))
    x = augment(_stem(x, stem))
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
    hp: keras_tuner.HyperParameters,
    settings: ModelSettings,
    base_model_dir: str | None = None,
    augmentation: dict[str, float] | None = None,
) -> keras.Model:
    """Returns the classifier: transformed image (H, W, 1) in [0, 1] -> probabilities.

    Its augmentation layers act in training only and sit after the stem: transforming the 32×32 output
    of a 4×4 stem costs 1/16 of transforming the 128×128 input (measured: 0.58× the images/s of no
    augmentation at 128×128, 0.98× after the stem). At inference, with `settings.test_time_flip`, it
    averages each image's probabilities with its mirror image's.

    Args:
        hp: hyper-parameters (see `search_space.search_space`); `augment_probability` sets every
            transformation's probability.
        settings: the pipeline's fixed choices (image size, backbone, ...).
        base_model_dir: the served SavedModel (ServedBaseModel), for `backbone_weights=base_model`.
        augmentation: per-transformation probabilities overriding `augment_probability`.
    """
    family = hp.get("family")
    if family == TRANSFER and settings.backbone_weights == BASE_MODEL and not base_model_dir:
        log.warning("no blessed model to transfer from yet: training the cnn family from scratch")
        family = "cnn"
    probabilities = augmentation_probabilities(
        hp.get("augment_probability"), augmentation, settings.augmentations
    )
    block = None
    if any(p > 0.0 for p in probabilities.values()):
        block = make_augmentation(probabilities, seed=settings.seed)

    def augment(x):
        return block(x) if block is not None else x

    inputs = keras.Input((settings.image_size, settings.image_size, 1), name="image_xf")
    # float32 in and out, whatever the training policy: the halves are split and averaged exactly.
    x = TestTimeFlip(name=TEST_TIME_FLIP, dtype="float32")(inputs) if settings.test_time_flip else inputs
    if family == "fcnn":
        x = _fcnn_trunk(augment(_stem(x, hp.get("stem"))), hp)
    elif family == "cnn":
        x = _cnn_trunk(augment(_stem(x, hp.get("stem"))), hp, settings.image_size)
    elif family == RESNET:
        x = _resnet_trunk(augment(_stem(x, hp.get("stem"))), hp)
    elif family == TRANSFER:
        embedding = _transfer_trunk(x, settings, hp.get("stem"), base_model_dir, augment)
        x = keras.layers.Dense(hp.get("embedding_dim"), activation="relu", name="head")(embedding)
    else:
        raise ValueError(f"unknown model family {family!r}")
    x = keras.layers.Dropout(hp.get("dropout"), name="dropout")(x)
    # float32 probabilities under a bfloat16 policy too: the loss and the served outputs need them.
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities", dtype="float32")(x)
    if settings.test_time_flip:
        outputs = FlipMean(name=FLIP_MEAN, dtype="float32")(outputs)
    return keras.Model(inputs, outputs, name=CLASSIFIER)


def make_optimizer(settings: ModelSettings, learning_rate: float) -> keras.optimizers.Optimizer:
    """Returns the settings' optimiser (`adam`, or `sgd` with Nesterov momentum) at `learning_rate`.

    Weight decay is decoupled (Keras shrinks each weight by rate × decay per step) and spares batch-norm
    scales and offsets and biases, as the ResNet recipes do.
    """
    decay = float(settings.weight_decay) or None
    # With weight averaging the optimiser also keeps the average (see `weight_averaging_callbacks`).
    averaging = (
        dict(use_ema=True, ema_momentum=settings.weight_averaging) if settings.weight_averaging else {}
    )
    if settings.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(
            learning_rate, momentum=0.9, nesterov=True, weight_decay=decay, **averaging
        )
    else:
        optimizer = keras.optimizers.Adam(learning_rate, weight_decay=decay, **averaging)
    if decay:
        optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return optimizer


def weight_averaging_callbacks(settings: ModelSettings) -> list[AverageBetweenEpochs]:
    """Returns the callbacks that put the averaged weights in the model outside training steps.

    With `settings.weight_averaging` on, each epoch's validation scores the average, and from the end
    of an epoch to the start of the next the model holds it, so that the callbacks after these ones
    (early stopping's best weights, the checkpoint) see the average. The model `fit` returns holds it
    when training ran all its epochs or early stopping restored its best (averaged) weights; a stop
    without a restore leaves Keras's final overwrite with the raw weights. Put them first in the
    callback list. Empty when averaging is off.
    """
    return [AverageBetweenEpochs()] if settings.weight_averaging else []


def build_model(
    hp: keras_tuner.HyperParameters,
    settings: ModelSettings,
    base_model_dir: str | None = None,
    augmentation: dict[str, float] | None = None,
) -> keras.Model:
    """Returns the compiled training model: the classifier (augmentation inside), in the training policy.

    Args:
        hp: hyper-parameters; `augment_probability` sets every transformation's probability.
        settings: the pipeline's fixed choices; `precision` sets the layers' arithmetic.
        base_model_dir: see `build_classifier`.
        augmentation: per-transformation probabilities overriding `augment_probability`.
    """
    with dtype_policy(training_policy(settings.precision)):
        classifier = build_classifier(hp, settings, base_model_dir, augmentation)
        inputs = keras.Input((settings.image_size, settings.image_size, 1), name="image_xf")
        model = keras.Model(inputs, classifier(inputs), name=f"fashion_{hp.get('family')}")
    # Hyper-parameters tuned before label smoothing existed have none.
    smoothing = hp.values.get("label_smoothing", 0.0)
    model.compile(
        optimizer=make_optimizer(settings, hp.get("learning_rate")),
        loss=smoothed_crossentropy(smoothing),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        # XLA compilation costs more than it saves for these small models and short trials on CPU.
        jit_compile=False,
    )
    return model


def classifier_of(model: keras.Model) -> keras.Model:
    """Returns the classifier nested in a training model (the model without augmentation)."""
    return model.get_layer(CLASSIFIER)


def float32_copy(
    model: keras.Model,
    hp: keras_tuner.HyperParameters,
    settings: ModelSettings,
    base_model_dir: str | None = None,
) -> keras.Model:
    """Returns `model` rebuilt in float32 with the same weights (a bfloat16-trained model, for export).

    Mixed precision keeps the weights in float32, so the copy holds exactly the trained values; only
    the arithmetic changes, to what every CPU has.
    """
    float32_settings = dataclasses.replace(settings, precision=FLOAT32)
    copy = build_model(hp, float32_settings, base_model_dir=base_model_dir)
    copy.set_weights(model.get_weights())
    return copy


def embedding_model(model: keras.Model) -> keras.Model:
    """Returns transformed image -> embedding, sharing the trained model's layers.

    With test-time flipping, the embedding of an image is the mean of its own and its mirror image's.
    """
    classifier = classifier_of(model)
    embedding = classifier.get_layer(EMBEDDING).output
    if any(layer.name == TEST_TIME_FLIP for layer in classifier.layers):
        embedding = FlipMean(name=f"{EMBEDDING}_{FLIP_MEAN}", dtype="float32")(embedding)
    return keras.Model(classifier.inputs, embedding, name="embedding_model")
