"""Training arithmetic: bfloat16 where the CPU has the units, and a float32 copy for export."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from models.families import build_model, float32_copy
from models.search_space import search_space
from models.settings import (
    AUTO,
    BFLOAT16_UNITS,
    FLOAT32,
    MIXED_BFLOAT16,
    ModelSettings,
    bfloat16_units,
    describe_arithmetic,
    training_policy,
)


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


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nflags\t\t: fpu sse {flags}\n")
    return path


def test_the_cpus_bfloat16_units_are_read_from_its_flags(tmp_path):
    assert bfloat16_units(_cpuinfo(tmp_path, "avx2 avx512_bf16")) == ("avx512_bf16",)
    assert bfloat16_units(_cpuinfo(tmp_path, "avx512_bf16 amx_bf16 amx_tile")) == BFLOAT16_UNITS
    assert bfloat16_units(_cpuinfo(tmp_path, "avx2 fma")) == ()
    assert bfloat16_units(tmp_path / "missing") is None


@pytest.mark.parametrize(
    "precision, flags, policy, slow",
    [
        (AUTO, "avx2 amx_bf16", MIXED_BFLOAT16, False),
        (AUTO, "avx2 fma", FLOAT32, True),  # the README's run times were measured with the units
        (FLOAT32, "avx2 amx_bf16", FLOAT32, False),  # asked for
        (MIXED_BFLOAT16, "avx2 fma", MIXED_BFLOAT16, True),  # emulated
        (MIXED_BFLOAT16, "avx2 avx512_bf16", MIXED_BFLOAT16, False),
    ],
)
def test_the_run_names_its_arithmetic_and_warns_when_it_is_slow(tmp_path, precision, flags, policy, slow):
    sentence, warned = describe_arithmetic(precision, _cpuinfo(tmp_path, flags))

    assert sentence.startswith(f"training arithmetic {policy}")
    assert warned is slow
    assert (f"no {' or '.join(BFLOAT16_UNITS)}" in sentence) is slow


def test_unreadable_cpu_flags_train_in_float32_and_warn(tmp_path):
    sentence, warned = describe_arithmetic(AUTO, tmp_path / "missing")

    assert sentence.startswith(f"training arithmetic {FLOAT32}")
    assert "missing is unreadable" in sentence
    assert warned  # the README's times assume units this run cannot see


def test_a_cpuinfo_that_is_not_text_counts_as_unreadable(tmp_path):
    garbage = tmp_path / "cpuinfo"
    garbage.write_bytes(b"flags\t: \xff\xfe avx512_bf16\n")
    assert bfloat16_units(garbage) is None


def test_a_bfloat16_model_is_refused_by_the_export(transform_output_32, tmp_path, seed):
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
