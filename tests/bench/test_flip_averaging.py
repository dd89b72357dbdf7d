"""bench.flip_averaging: the single view and the flip-averaged prediction of the same weights, and the
single view rebuilt from an export that averages already."""

from __future__ import annotations

import numpy as np
import pytest

from bench.flip_averaging import NotReproducedError, flip_averaged_accuracy, main, single_view_predictor


def _first_column_says_class_0(images: np.ndarray) -> np.ndarray:
    """A stand-in classifier that is not mirror-symmetric: P(class 0) is the first column's mean."""
    first = images[:, :, 0].mean(axis=1)
    return np.stack([first, 1.0 - first], axis=1)


def test_the_mirrored_view_corrects_what_the_single_view_gets_wrong():
    images = np.zeros((4, 3, 3), dtype="float32")
    labels = np.array([0, 1, 0, 1])
    images[[0, 2], :, :] = 0.9  # class 0 either way round
    images[[1, 3], :, 0] = 0.6  # class 1, but its first column says 0 ...
    images[[1, 3], :, -1] = 0.0  # ... and mirrored it says 1 with certainty: the sum says 1

    single, averaged = flip_averaged_accuracy(_first_column_says_class_0, images, labels, batch=3)

    assert (single, averaged) == (0.5, 1.0)


def test_a_symmetric_classifier_gains_nothing():
    rng = np.random.default_rng(0)
    images = rng.random((10, 4, 4)).astype("float32")
    images = (images + images[:, :, ::-1]) / 2  # every image its own mirror
    labels = rng.integers(0, 2, size=10)

    single, averaged = flip_averaged_accuracy(_first_column_says_class_0, images, labels, batch=4)

    assert single == averaged


def test_a_root_without_a_finished_run_is_one_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--root", str(tmp_path)])
    assert exit_.value.code == 2
    assert str(tmp_path) in capsys.readouterr().err


@pytest.fixture(scope="module")
def averaging_export(tmp_path_factory):
    """A real export that averages each image with its mirror image, and what its run would record."""
    from support import make_images
    from tiny_export import export_tiny_model, tiny_model_choices

    model_dir = export_tiny_model(tmp_path_factory.mktemp("averaging"), test_time_flip=True)
    settings, hp = tiny_model_choices(test_time_flip=True)
    details = {"settings": settings.to_custom_config(), "hyperparameters": hp.values}
    images, _ = make_images(64, seed=1)
    return model_dir, details, images.astype("float32")


def test_the_rebuilt_single_view_averages_to_what_the_export_answers(averaging_export):
    import tensorflow as tf

    from serving.signatures import INPUT_NAMES, PREDICT_IMAGES, PROBABILITIES

    model_dir, details, images = averaging_export
    served = tf.saved_model.load(str(model_dir)).signatures[PREDICT_IMAGES]
    answered = served(**{INPUT_NAMES[PREDICT_IMAGES]: tf.constant(images)})[PROBABILITIES].numpy()
    predict = single_view_predictor(str(model_dir), details)

    single, mirrored = predict(images), predict(np.ascontiguousarray(images[:, :, ::-1]))

    np.testing.assert_allclose((single + mirrored) / 2, answered, atol=1e-5)
    assert not np.allclose(single, mirrored, atol=1e-3)  # the single view is not the average itself


@pytest.mark.parametrize("change", [{"cnn_blocks": 3}, {"cnn_filters": 16}], ids=["a layer more", "wider"])
def test_a_classifier_the_export_does_not_hold_is_refused(averaging_export, change):
    model_dir, details, _ = averaging_export
    other = dict(details, hyperparameters={**details["hyperparameters"], **change})

    with pytest.raises(NotReproducedError, match="no variable of the name and shape"):
        single_view_predictor(str(model_dir), other)
