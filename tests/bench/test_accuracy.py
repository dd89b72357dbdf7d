"""bench.accuracy --keep: earlier points survive a run that measures other points, and a new row is set
only beside a recipe row of the same arithmetic."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.accuracy import (
    CNN_RECIPE_NAME,
    RESNET_RECIPE_NAME,
    arithmetic_mismatch,
    previous_points,
    recipe_of,
)
from models.settings import FLOAT32, MIXED_BFLOAT16


def test_previous_points_keeps_the_others_and_drops_the_remeasured(tmp_path):
    path = tmp_path / "accuracy.json"
    assert previous_points(path, {("recipe", 50000, 20)}) == []
    curve = [
        {"train_images": 12000, "epochs": 10},
        {"variant": "recipe", "train_images": 50000, "epochs": 20},
        {"variant": "float32", "train_images": 50000, "epochs": 20},
    ]
    path.write_text(json.dumps({"details": {"curve": curve}}))
    assert previous_points(path, {("recipe", 50000, 20)}) == [curve[0], curve[2]]
    # Points from before the variants existed are the `before #13` variant.
    assert previous_points(path, {("before #13", 12000, 10)}) == curve[1:]
    assert previous_points(path, set()) == curve


def test_every_variant_can_be_named_in_the_comma_separated_option():
    from bench.accuracy import VARIANTS

    assert not [name for name in VARIANTS if "," in name]


@pytest.mark.parametrize("variant", ["resnet: linear to zero", "resnet: weight averaging"])
def test_a_full_budget_variant_trains_with_its_one_change(variant, seed):
    from bench.accuracy import RESNET_RECIPE, VARIANTS, train_point
    from models.trainer import learning_rate_schedule

    rng = np.random.default_rng(seed)
    data = {
        split: (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype("int64"))
        for split, n in (("train", 32), ("eval", 16), ("test", 16))
    }
    spec = VARIANTS[variant]
    point = train_point(data, count=32, epochs=4, variant=variant)
    # What the training did, read back from it: the variant's schedule, and averaging only where asked.
    expected = learning_rate_schedule(spec["schedule"], spec["learning_rate"], 4, spec["warmup_epochs"])
    assert point["learning_rates"] == pytest.approx([expected(epoch, 0.0) for epoch in range(4)])
    assert point["weights_averaged"] == bool(spec["weight_averaging"])
    assert [k for k in spec if spec[k] != RESNET_RECIPE[k]] == [
        {"resnet: linear to zero": "schedule", "resnet: weight averaging": "weight_averaging"}[variant]
    ]
    assert point["family"] == "resnet" and point["train_images"] == 32 and len(point["val_accuracy"]) == 4
    assert len(point["load_average_at_start"]) == len(point["load_average_at_end"]) == 3
    for name in ("test_accuracy", "test_accuracy_without_flip_averaging", "final_val_accuracy"):
        assert 0.0 <= point[name] <= 1.0


def test_each_variant_is_judged_against_its_own_recipe():
    assert recipe_of("resnet: adam") == RESNET_RECIPE_NAME
    assert recipe_of(RESNET_RECIPE_NAME) == RESNET_RECIPE_NAME
    assert recipe_of("cnn: flip only") == CNN_RECIPE_NAME
    assert recipe_of(FLOAT32) == CNN_RECIPE_NAME


def test_a_row_is_refused_where_its_recipe_would_train_in_another_arithmetic():
    recipe_row = {
        "variant": RESNET_RECIPE_NAME,
        "train_images": 50000,
        "epochs": 54,
        "policy": MIXED_BFLOAT16,
    }
    curve = [recipe_row, {**recipe_row, "variant": CNN_RECIPE_NAME, "policy": FLOAT32}]

    why = arithmetic_mismatch(curve, "resnet: adam", 50000, 54, FLOAT32)

    assert why is not None and f"trained in {MIXED_BFLOAT16}" in why and f"trains in {FLOAT32}" in why
    assert arithmetic_mismatch(curve, "resnet: adam", 50000, 54, MIXED_BFLOAT16) is None
    assert arithmetic_mismatch(curve, "resnet: adam", 50000, 5, FLOAT32) is None  # no recipe row there
    assert (
        arithmetic_mismatch(curve, "cnn: flip only", 50000, 54, FLOAT32) is None
    )  # its recipe's row matches
    no_policy = [{k: v for k, v in recipe_row.items() if k != "policy"}]  # recorded before the key
    assert arithmetic_mismatch(no_policy, "resnet: adam", 50000, 54, FLOAT32) is None


def test_a_recipe_is_refused_where_its_variants_rows_trained_in_another_arithmetic():
    variant_row = {"variant": "resnet: adam", "train_images": 50000, "epochs": 54, "policy": MIXED_BFLOAT16}
    cnn_row = {**variant_row, "variant": "cnn: flip only", "policy": FLOAT32}  # another recipe's variant

    why = arithmetic_mismatch([variant_row, cnn_row], RESNET_RECIPE_NAME, 50000, 54, FLOAT32)

    assert why is not None and "'resnet: adam' row" in why and f"trained in {MIXED_BFLOAT16}" in why
    assert arithmetic_mismatch([variant_row, cnn_row], RESNET_RECIPE_NAME, 50000, 54, MIXED_BFLOAT16) is None
    assert arithmetic_mismatch([cnn_row], RESNET_RECIPE_NAME, 50000, 54, MIXED_BFLOAT16) is None
