"""`ServingBundle` refuses, as a ServingError, what TF Serving's Session::Run refuses."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from serving.bundle import ServingBundle
from serving.signatures import ServingError


@pytest.fixture(scope="module")
def bundle(tiny_model_dir) -> ServingBundle:
    return ServingBundle(str(tiny_model_dir))


def test_an_input_of_another_dtype_is_refused_as_tf_serving_refuses_it(bundle):
    # TF Serving feeds the request's tensor as it is; the signature's float placeholder refuses uint8
    # ("Expects arg[0] to be float but uint8 is provided"), where a Python session would cast it.
    with pytest.raises(
        ServingError, match=r"predict_images: input 'images' is uint8; the signature takes float32"
    ):
        bundle.run("predict_images", {"images": np.zeros((1, 28, 28), np.uint8)})


def test_an_input_of_another_shape_is_a_serving_error(bundle):
    with pytest.raises(ServingError, match=r"predict_images: .*shape \(1, 30, 30\)"):
        bundle.run("predict_images", {"images": np.zeros((1, 30, 30), np.float32)})
    answer = bundle.run("predict_images", {"images": np.zeros((1, 28, 28), np.float32)})
    assert answer["probabilities"].shape == (1, 10)


def test_a_damaged_checkpoint_is_refused_in_one_line(tiny_model_dir, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    (model_dir / "variables" / "variables.data-00000-of-00001").write_bytes(b"x")
    with pytest.raises(ServingError, match="loader cannot load it") as refused:
        ServingBundle(str(model_dir))
    assert "\n" not in str(refused.value), str(refused.value)
    assert "Read less bytes than requested" in str(refused.value)
