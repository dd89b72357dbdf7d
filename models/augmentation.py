"""Training-only, probabilistic image augmentation layers that live inside the model."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from models.settings import CLASSIC_AUGMENTATIONS, TRANSFORMS

# Magnitudes of each transformation when it is applied; whether it is applied is a per-image coin toss.
CROP_FRACTION = 0.125  # pad-and-crop by up to 4 pixels of 32, the CIFAR and Fashion-MNIST ResNets' crop
# Random erasing (Zhong et al. 2017): a rectangle of 2-25% of the image, aspect ratio 0.3-3.3, filled
# with uniform noise.
ERASE_AREA = (0.02, 0.25)
ERASE_ASPECT = (0.3, 3.3)


class _MirrorLeftRight(keras.layers.Layer):
    # Keras' RandomFlip flips only half the images it sees; the coin toss is RandomApply's job.
    def call(self, images, training=None):
        return tf.reverse(images, axis=[2])


class _RandomErase(keras.layers.Layer):
    # One random rectangle per image, filled with uniform noise in [0, 1].
    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self._generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        shape = tf.shape(images)
        count = shape[0]
        height, width = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)

        def uniform(low: float, high: float):
            return keras.random.uniform((count,), low, high, seed=self._generator)

        area = uniform(*ERASE_AREA)
        aspect = tf.exp(uniform(math.log(ERASE_ASPECT[0]), math.log(ERASE_ASPECT[1])))
        rows = tf.minimum(tf.sqrt(area * aspect) * height, height)
        columns = tf.minimum(tf.sqrt(area / aspect) * width, width)
        top = uniform(0.0, 1.0) * (height - rows)
        left = uniform(0.0, 1.0) * (width - columns)

        def inside(start, length, side):
            positions = tf.range(side, dtype=tf.float32)[None, :]
            return (positions >= start[:, None]) & (positions < (start + length)[:, None])

        mask = inside(top, rows, height)[:, :, None] & inside(left, columns, width)[:, None, :]
        noise = keras.random.uniform(shape, seed=self._generator)
        return tf.where(mask[..., None], tf.cast(noise, images.dtype), images)


def _make_transform(name: str, seed: int) -> keras.layers.Layer:
    if name == "flip":
        return _MirrorLeftRight()
    if name == "shift":
        return keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", seed=seed)
    if name == "zoom":
        return keras.layers.RandomZoom((-0.1, 0.1), fill_mode="constant", seed=seed)
    if name == "rotate":
        # ±0.03 of a full turn: about ±11 degrees.
        return keras.layers.RandomRotation(0.03, fill_mode="constant", seed=seed)
    if name == "contrast":
        return keras.layers.RandomContrast(0.3, value_range=(0.0, 1.0), seed=seed)
    if name == "crop":
        # Whole-pixel shifts with a black border: the pad-and-crop of the ResNet recipes.
        return keras.layers.RandomTranslation(
            CROP_FRACTION, CROP_FRACTION, fill_mode="constant", interpolation="nearest", seed=seed
        )
    if name == "erase":
        return _RandomErase(seed=seed)
    raise ValueError(f"unknown augmentation {name!r}; choose from {', '.join(TRANSFORMS)}")


@keras.saving.register_keras_serializable(package="fashion_tfx")
class RandomApply(keras.layers.Layer):
    """Applies one transformation to each image of a training batch with a given probability.

    Keras' random layers transform every image; here each image tosses its own coin, so a rate of
    0.2 leaves about 80% of images untouched. Outside training the layer is the identity.
    """

    def __init__(self, transform: str, probability: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"augmentation probability must lie in [0, 1], got {probability}")
        self.transform = transform
        self.probability = float(probability)
        self.seed = seed
        self._layer = _make_transform(transform, seed)
        self._coin = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self._layer.build(input_shape)

    def call(self, images, training=None):
        if not training or self.probability == 0.0:
            return images
        transformed = self._layer(images, training=True)
        toss = keras.random.uniform((tf.shape(images)[0],), seed=self._coin)
        chosen = tf.reshape(toss < self.probability, [-1, 1, 1, 1])
        return tf.where(chosen, tf.cast(transformed, images.dtype), images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "transform": self.transform,
            "probability": self.probability,
            "seed": self.seed,
        }


def augmentation_probabilities(
    strength: float,
    overrides: dict[str, float] | None = None,
    transforms: tuple[str, ...] = CLASSIC_AUGMENTATIONS,
) -> dict[str, float]:
    """Returns each transformation's probability: `strength` for all, except those overridden.

    Args:
        strength: the probability of each of `transforms`.
        overrides: per-transformation probabilities (any of `TRANSFORMS`; 0 turns one off).
        transforms: the transformations in use (`ModelSettings.augmentations`).
    """
    probabilities = {name: float(strength) for name in transforms}
    for name, value in (overrides or {}).items():
        if name not in TRANSFORMS:
            raise ValueError(f"unknown augmentation {name!r}; choose from {', '.join(TRANSFORMS)}")
        probabilities[name] = float(value)
    return probabilities


def make_augmentation(probabilities: dict[str, float], seed: int | None = None) -> keras.Sequential:
    """Returns the augmentation block: one `RandomApply` per transformation with a non-zero probability.

    Args:
        probabilities: transformation name (see `TRANSFORMS`) -> probability of applying it to an image.
        seed: makes the augmentation reproducible; each transformation derives its own seed.
    """
    layers = [
        RandomApply(name, p, seed=None if seed is None else seed + i, name=f"augment_{name}")
        for i, (name, p) in enumerate(probabilities.items())
        if p > 0.0
    ]
    return keras.Sequential(layers, name="augmentation")
