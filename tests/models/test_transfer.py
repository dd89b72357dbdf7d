"""The transfer family's embedding network stays frozen through training, whatever its weights' source."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models.families import BACKBONE, build_model, classifier_of, make_backbone
from models.search_space import search_space
from models.settings import BASE_MODEL, ModelSettings

SIZE = 32


def _data(seed: int, count: int = 32):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (count, SIZE, SIZE, 1)).astype("float32")
    labels = rng.integers(0, 10, count)
    return images, labels


def _weights(layer) -> list[np.ndarray]:
    return [np.array(w) for w in layer.weights]


def _train_and_check_frozen(model, seed: int, expected_backbone: list[np.ndarray] | None = None) -> None:
    classifier = classifier_of(model)
    backbone = classifier.get_layer(BACKBONE)
    head = classifier.get_layer("probabilities")
    backbone_before, head_before = _weights(backbone), _weights(head)
    assert backbone_before, "the backbone has no weights to check"
    if expected_backbone is not None:  # the backbone holds the weights of its source
        assert len(expected_backbone) == len(backbone_before)
        for expected, actual in zip(expected_backbone, backbone_before, strict=True):
            np.testing.assert_array_equal(expected, actual)

    images, labels = _data(seed)
    # Eager steps: tracing a whole backbone into a graph costs more than these two steps (trainable
    # flags, not the execution mode, decide what the optimizer updates).
    model.compile(optimizer=model.optimizer, loss=model.loss, run_eagerly=True)
    model.fit(images, labels, batch_size=16, epochs=1, verbose=0)

    for before, after in zip(backbone_before, _weights(backbone), strict=True):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(b, a) for b, a in zip(head_before, _weights(head), strict=True)), (
        "the head did not train, so the frozen check proves nothing"
    )


@pytest.mark.parametrize("backbone", ["mobilenet_v3_small", "efficientnet_b0", "vgg19"])
def test_backbone_from_a_weights_file_stays_frozen(backbone, tmp_path, seed):
    # A weights file made here (never downloaded): a randomly initialised backbone's weights.
    source = make_backbone(backbone, SIZE, weights=None)
    path = tmp_path / f"{backbone}.weights.h5"
    source.save_weights(str(path))
    settings = ModelSettings(
        image_size=SIZE, families=("transfer",), backbone=backbone, backbone_weights=str(path), seed=seed
    )
    hp = search_space(settings)
    hp.values["augment_probability"] = 0.0
    model = build_model(hp, settings)
    _train_and_check_frozen(model, seed, expected_backbone=_weights(source))


def test_trunk_of_a_previous_model_stays_frozen(tmp_path, seed):
    # A previous run's exported model: a cnn whose SavedModel exposes its trunk.
    from models.families import TRUNK_ENDPOINT, embedding_model

    # float32, as the Trainer exports every model (a bfloat16-trained one as its float32 copy).
    previous_settings = ModelSettings(image_size=SIZE, stems=(2,), seed=seed, precision="float32")
    previous = build_model(search_space(previous_settings), previous_settings)
    trunk = embedding_model(previous)
    module = tf.Module()
    module.trunk = trunk
    setattr(
        module,
        TRUNK_ENDPOINT,
        tf.function(
            lambda x: trunk(x, training=False),
            input_signature=[tf.TensorSpec([None, SIZE, SIZE, 1], tf.float32)],
        ),
    )
    tf.saved_model.save(module, str(tmp_path / "previous"))
    images, _ = _data(seed, 8)
    expected_embedding = trunk(images, training=False).numpy()

    settings = ModelSettings(image_size=SIZE, families=("transfer",), backbone_weights=BASE_MODEL, seed=seed)
    model = build_model(search_space(settings), settings, base_model_dir=str(tmp_path / "previous"))
    _train_and_check_frozen(model, seed)
    # Still the previous model's embedding after training.
    embedding = classifier_of(model).get_layer(BACKBONE)(images).numpy()
    np.testing.assert_allclose(embedding, expected_embedding, atol=1e-5)


def test_base_model_source_without_a_blessed_model_falls_back_to_the_cnn(seed):
    settings = ModelSettings(image_size=SIZE, families=("transfer",), backbone_weights=BASE_MODEL, seed=seed)
    model = build_model(search_space(settings), settings, base_model_dir=None)
    layers = [layer.name for layer in classifier_of(model).layers]
    assert BACKBONE not in layers
    assert any(name.startswith("block0_conv") for name in layers)
