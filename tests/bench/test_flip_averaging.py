"""bench.flip_averaging's arithmetic: the single view and the flip-averaged prediction of the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from bench.flip_averaging import flip_averaged_accuracy, main


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
