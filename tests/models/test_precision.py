"""Training arithmetic: bfloat16 where the CPU has the units, and a float32 copy for export."""

from __future__ import annotations

import keras
import numpy as np

from models.families import build_model, float32_copy
from models.search_space import search_space
from models.settings import ModelSettings, training_policy


def test_auto_precision_follows_the_cpu_flags(tmp_path):
    with_units = tmp_path / "amx"
    with_units.write_text("flags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile\n")
    without = tmp_path / "plain"
    without.write_text("flags\t\t: fpu sse avx2\n")
    assert training_policy("auto", with_units) == "mixed_bfloat16"
    assert training_policy("auto", without) == "float32"
    assert training_policy("auto", tmp_path / "missing") == "float32"
    assert training_policy("float32", with_units) == "float32"
    assert training_policy("mixed_bfloat16", without) == "mixed_bfloat16"


def test_a_bfloat16_model_is_refused_by_the_export(transform_output_32, tmp_path, seed):
    import pytest

    from models.export import export_serving_model

    settings = ModelSettings(image_size=32, stems=(2,), seed=seed, precision="mixed_bfloat16")
    hp = search_space(settings)
    hp.values.update(cnn_blocks=2, cnn_filters=8)
    with pytest.raises(ValueError, match="mixed_bfloat16: export its float32 copy"):
        export_serving_model(build_model(hp, settings), transform_output_32, settings, str(tmp_path / "m"))
    assert not (tmp_path / "m").exists()


def test_bfloat16_model_exports_as_a_float32_copy_with_the_same_weights(seed):
    settings = ModelSettings(image_size=32, stems=(2,), seed=seed, precision="mixed_bfloat16")
    hp = search_space(settings)
    hp.values.update(cnn_blocks=2, cnn_filters=16)
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (64, 32, 32, 1)).astype("float32")
    labels = rng.integers(0, 10, 64)
    model = build_model(hp, settings)
    assert model.get_layer("classifier").get_layer("block0_conv0").compute_dtype == "bfloat16"
    model.fit(images, labels, batch_size=16, epochs=2, verbose=0)

    copy = float32_copy(model, hp, settings)

    assert copy.get_layer("classifier").get_layer("block0_conv0").compute_dtype == "float32"
    for trained, copied in zip(model.get_weights(), copy.get_weights(), strict=True):
        np.testing.assert_array_equal(trained, copied)
    # The probabilities stay float32 in both; bfloat16 keeps about 3 significant digits.
    expected = model.predict(images, verbose=0)
    got = copy.predict(images, verbose=0)
    assert expected.dtype == got.dtype == np.float32
    assert np.abs(expected - got).max() < 0.05
    assert (expected.argmax(axis=1) == got.argmax(axis=1)).mean() >= 0.9
    # Building under a policy leaves the global one as it was.
    assert keras.config.dtype_policy().name == "float32"
