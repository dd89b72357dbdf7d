"""The resnet family (ResNet-20 at its defaults) and the optimiser settings that train it."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from models.families import build_model, classifier_of, embedding_model, make_optimizer
from models.search_space import DEFAULTS, search_space
from models.settings import ModelSettings
from serving.signatures import EMBEDDING

SIZE = 32


def _resnet(seed: int, **hp_values) -> tuple[keras.Model, ModelSettings]:
    settings = ModelSettings(image_size=SIZE, families=("resnet",), stems=(1,), seed=seed)
    hp = search_space(settings)
    hp.values.update(hp_values)
    keras.utils.set_random_seed(seed)
    return build_model(hp, settings), settings


def test_the_defaults_build_resnet_20(seed):
    model, _ = _resnet(seed, augment_probability=0.0)
    classifier = classifier_of(model)
    convs = [layer for layer in classifier.layers if isinstance(layer, keras.layers.Conv2D)]
    # 1 stem convolution + 3 stages × 3 blocks × 2, plus the two projection shortcuts: 19 + 2.
    assert sum(layer.kernel_size == (3, 3) for layer in convs) == 1 + 3 * DEFAULTS["resnet_blocks"] * 2 == 19
    assert sum(layer.kernel_size == (1, 1) for layer in convs) == 2
    assert [layer.filters for layer in convs if "shortcut" in layer.name] == [32, 64]
    # ResNet-20's 0.27M weights, plus the 64 -> 128 embedding and the classifier.
    embedding = classifier.get_layer(EMBEDDING)
    assert embedding.output.shape[-1] == DEFAULTS["embedding_dim"]
    assert 270_000 < classifier.count_params() - (64 * 128 + 128) - (128 * 10 + 10) < 275_000


def test_blocks_and_width_are_hyper_parameters(seed):
    small, _ = _resnet(seed, resnet_blocks=2, resnet_width=32, augment_probability=0.0)
    convs = [layer for layer in classifier_of(small).layers if isinstance(layer, keras.layers.Conv2D)]
    assert sum(layer.kernel_size == (3, 3) for layer in convs) == 1 + 3 * 2 * 2
    assert max(layer.filters for layer in convs) == 32 * 4


def test_it_learns_and_embeds(seed):
    model, settings = _resnet(seed, batch_size=16)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 32)
    # Two classes a look tells apart: bright left half against bright right half.
    images = np.zeros((32, SIZE, SIZE, 1), "float32")
    images[labels == 0, :, : SIZE // 2] = 1.0
    images[labels == 1, :, SIZE // 2 :] = 1.0
    images += rng.uniform(0, 0.2, images.shape).astype("float32")
    history = model.fit(images, labels, batch_size=16, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    vectors = embedding_model(model)(images[:4], training=False).numpy()
    assert vectors.shape == (4, DEFAULTS["embedding_dim"]) and np.isfinite(vectors).all()


def test_sgd_decays_weights_but_not_batch_norm_or_biases():
    settings = ModelSettings(optimizer="sgd", weight_decay=0.01)
    optimizer = make_optimizer(settings, 0.1)
    assert isinstance(optimizer, keras.optimizers.SGD) and optimizer.nesterov and optimizer.momentum == 0.9
    kernel = keras.Variable(np.ones((2, 2), "float32"), name="kernel")
    gamma = keras.Variable(np.ones(2, "float32"), name="gamma")
    bias = keras.Variable(np.ones(2, "float32"), name="bias")
    optimizer.apply_gradients(
        [(np.zeros((2, 2), "float32"), kernel), *((np.zeros(2, "float32"), v) for v in (gamma, bias))]
    )
    # Decoupled decay: each step shrinks a weight by rate × decay, with a zero gradient too.
    np.testing.assert_allclose(kernel.numpy(), 1.0 - 0.1 * 0.01, rtol=1e-6)
    np.testing.assert_array_equal(gamma.numpy(), 1.0)
    np.testing.assert_array_equal(bias.numpy(), 1.0)


@pytest.mark.parametrize(
    "optimizer, expected", [("adam", keras.optimizers.Adam), ("sgd", keras.optimizers.SGD)]
)
def test_no_decay_unless_set(optimizer, expected):
    built = make_optimizer(ModelSettings(optimizer=optimizer), 1e-3)
    assert isinstance(built, expected) and built.weight_decay is None
