"""bench.accuracy --keep: earlier points survive a run that measures other points."""

from __future__ import annotations

import json

from bench.accuracy import previous_points


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
