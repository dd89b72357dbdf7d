"""Augmentation acts only in training, per image with its configured probability, and never at inference."""

from __future__ import annotations

import numpy as np
import pytest

from models.augmentation import TRANSFORMS, RandomApply, make_augmentation
from models.families import build_model, classifier_of
from models.search_space import search_space
from models.settings import ModelSettings

SIZE = 32


def _images(count: int, seed: int) -> np.ndarray:
    # Random noise: no flip, shift, zoom, rotation or contrast change leaves such an image as it was.
    return np.random.default_rng(seed).uniform(0.05, 0.95, (count, SIZE, SIZE, 1)).astype("float32")


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.abs(after - before).reshape(len(before), -1).max(axis=1) > 1e-6


def test_inference_is_deterministic_and_equals_the_model_without_augmentation(seed):
    settings = ModelSettings(image_size=SIZE, stems=(2,), seed=seed)
    hp = search_space(settings)
    hp.values["augment_probability"] = 0.5
    model = build_model(hp, settings)
    # The augmentation is part of the exported classifier (after its stem), active in training only.
    block = classifier_of(model).get_layer("augmentation")
    images = _images(16, seed)
    hp.values["augment_probability"] = 0.0
    plain = build_model(hp, settings)
    assert "augmentation" not in [layer.name for layer in classifier_of(plain).layers]
    plain.set_weights(model.get_weights())

    first = model(images, training=False).numpy()
    second = model(images, training=False).numpy()
    without_augmentation = plain(images, training=False).numpy()

    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, without_augmentation)
    # The very same block does augment in training.
    augmented = block(images, training=True).numpy()
    assert _changed(images, augmented).any()


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_training_changes_images_at_the_configured_rate(transform, seed):
    rate = 0.25
    block = make_augmentation({transform: rate}, seed=seed)
    images = _images(400, seed)

    augmented = block(images, training=True).numpy()
    unchanged_at_inference = block(images, training=False).numpy()

    share = _changed(images, augmented).mean()
    # Binomial(400, 0.25): standard deviation 0.022; ±0.08 is over 3.5 of them.
    assert abs(share - rate) < 0.08, f"{transform}: {share:.3f} of images changed, configured {rate}"
    np.testing.assert_array_equal(unchanged_at_inference, images)


def test_rates_zero_and_one(seed):
    images = _images(50, seed)
    never = RandomApply("flip", 0.0, seed=seed)(images, training=True).numpy()
    always = make_augmentation({"flip": 1.0}, seed=seed)(images, training=True).numpy()
    assert not _changed(images, never).any()
    assert _changed(images, always).all()
    np.testing.assert_array_equal(always, images[:, :, ::-1, :])


def test_random_erasing_fills_one_rectangle_of_2_to_25_percent_with_noise(seed):
    from models.augmentation import ERASE_AREA

    images = np.zeros((200, SIZE, SIZE, 1), "float32")
    erased = make_augmentation({"erase": 1.0}, seed=seed)(images, training=True).numpy()[..., 0]
    for image in erased:
        rows, columns = np.nonzero(image)
        # The noise's bounding box is the rectangle (a noise pixel of exactly 0 is one in 2^24).
        height, width = rows.max() - rows.min() + 1, columns.max() - columns.min() + 1
        assert len(rows) == height * width
        share = height * width / SIZE**2
        # Whole pixels: the rectangle's sides round to at most one row and column more or less.
        assert ERASE_AREA[0] / 2 <= share <= ERASE_AREA[1] * 1.5, share
    assert erased.max() <= 1.0 and erased.min() >= 0.0
