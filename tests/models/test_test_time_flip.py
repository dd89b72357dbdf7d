"""Test-time flip averaging: at inference, the mean of an image's and its mirror image's outputs."""

from __future__ import annotations

import dataclasses

import numpy as np

from models.families import build_model, classifier_of, embedding_model
from models.search_space import search_space
from models.settings import ModelSettings


def test_flip_averaging_is_the_mean_over_each_image_and_its_mirror(seed):
    plain_settings = ModelSettings(image_size=32, stems=(2,), seed=seed, precision="float32")
    assert not plain_settings.test_time_flip  # off by default (bench.accuracy measured it costing accuracy)
    hp = search_space(plain_settings)
    hp.values.update(cnn_blocks=2, cnn_filters=16)
    plain = build_model(hp, plain_settings)
    flipping = build_model(hp, dataclasses.replace(plain_settings, test_time_flip=True))
    flipping.set_weights(plain.get_weights())  # the flip layers hold no weights
    images = np.random.default_rng(seed).random((6, 32, 32, 1), dtype=np.float32)
    mirrored = images[:, :, ::-1, :]

    expected = (plain.predict(images, verbose=0) + plain.predict(mirrored, verbose=0)) / 2
    np.testing.assert_allclose(flipping.predict(images, verbose=0), expected, atol=1e-6)
    assert not np.allclose(plain.predict(images, verbose=0), expected, atol=1e-4)  # the flip matters here
    # The embedding is averaged the same way.
    plain_embedding = embedding_model(plain)
    expected_embedding = (plain_embedding(images).numpy() + plain_embedding(mirrored).numpy()) / 2
    np.testing.assert_allclose(embedding_model(flipping)(images).numpy(), expected_embedding, atol=1e-5)
    assert "test_time_flip" in [layer.name for layer in classifier_of(flipping).layers]
    # In training the model sees each image once (the augmentation flips). Last: it moves batch norm.
    assert flipping(images, training=True).shape == (6, 10)
