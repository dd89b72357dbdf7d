"""Training-only, probabilistic image augmentation layers that live inside the model."""

from __future__ import annotations

import keras
import tensorflow as tf

# Magnitudes of each transformation when it is applied; whether it is applied is a per-image coin toss.
TRANSFORMS = ("flip", "shift", "zoom", "rotate", "contrast")


class _MirrorLeftRight(keras.layers.Layer):
    # Keras' RandomFlip flips only half the images it sees; the coin toss is RandomApply's job.
    def call(self, images, training=None):
        return tf.reverse(images, axis=[2])


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
    strength: float, overrides: dict[str, float] | None = None
) -> dict[str, float]:
    """Returns each transformation's probability: `strength` for all, except those overridden."""
    probabilities = {name: float(strength) for name in TRANSFORMS}
    for name, value in (overrides or {}).items():
        if name not in probabilities:
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
