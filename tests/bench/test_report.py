"""BENCHMARKS.md's recipe tables: rows of one budget, and sentences computed from them."""

from __future__ import annotations

import json

import pytest

from bench.accuracy import TEST_FLIP, TEST_SINGLE, VAL_FLIP, VAL_SINGLE, profile_variant
from bench.common import RESULTS_DIR
from bench.pipeline_cost import (
    BLESSED_WHAT,
    END_TO_END_WHAT,
    FLOAT32_SUFFIX,
    FULL_PROFILE,
    TEST_ACCURACY_WHAT,
)
from bench.report import (
    NOISE_POINTS,
    findings,
    recipe_tables,
    render,
    seed_noise,
    seed_spread,
    seed_table,
    verdict,
)
from pipeline import ONEDNN, ONEDNN_OFF, ONEDNN_ON, nodes
from pipeline.config import make_config


def _point(variant, accuracy, single, ips, resize="opencv linear", size=128, stem=4, images=10000, epochs=6):
    return {
        "variant": variant,
        "augment": 0.2,
        "resize": resize,
        "image_size": size,
        "stem": stem,
        "policy": "mixed_bfloat16",
        "train_images": images,
        "epochs": epochs,
        TEST_FLIP: accuracy,
        TEST_SINGLE: single,
        "train_seconds": images * epochs / ips,
        "images_per_second": ips,
        "commit": "abc1234",
    }


def test_findings_are_computed_from_the_rows():
    rows = [
        _point("recipe", 0.9100, 0.9050, 800.0),
        _point("native 28", 0.9080, 0.9000, 1000.0, resize="none", size=28, stem=1),
        _point("opencv area 128", 0.9130, 0.9100, 790.0, resize="opencv area"),
        _point("float32", 0.9110, 0.9060, 400.0),
        _point("no label smoothing", 0.9060, 0.9010, 800.0),
    ]
    rows[3]["policy"] = "float32"
    upscale, parts, flip = findings(rows)
    # Compared on the single view.
    assert upscale.startswith(
        "- **Upscale** (test, single view, as these rows recorded no val): across 3 ways"
    )
    assert "accuracy spans 1.00 points" in upscale
    assert "native 28 0.9000 to opencv area 128 0.9100" in upscale
    assert "128×128 behind the 4×4 stem trains at 0.80× the images/s of native 28×28" in upscale
    assert parts == (
        "- **Each part's contribution** (recipe minus the variant without it; test, single view, as these "
        "rows recorded no val): "
        "label smoothing +0.40 points; bfloat16 training 2.00× the images/s of float32 (-0.10 points)."
    )  # no augmentation: no such variant was measured
    assert flip == "- **test-time flip averaging** (the recipe's own weights): test +0.50 points."


def test_each_budget_gets_its_own_table_and_old_points_are_left_out():
    curve = [
        {"train_images": 50000, "epochs": 30, "test_accuracy": 0.94},  # before the variants existed
        _point("recipe", 0.91, 0.90, 800.0),
        _point("float32", 0.91, 0.90, 400.0),
        _point("recipe", 0.94, 0.93, 800.0, images=50000, epochs=20),
        _point("float32", 0.94, 0.93, 400.0, images=50000, epochs=20),
        _point("recipe", 0.95, 0.94, 700.0, images=50000, epochs=54),  # a budget measured in part
    ]
    text = "\n".join(recipe_tables(curve))
    assert text.count("## Recipe variants at a fixed budget") == 3
    assert "10,000 training images × 6 epochs" in text and "50,000 training images × 20 epochs" in text
    assert "50,000 training images × 30 epochs" not in text
    assert text.count("- Only `recipe` is measured at this budget so far; its variants are not.") == 1
    assert text.index("× 54 epochs") < text.index("- Only `recipe` is measured")


def test_benchmarks_md_is_rendered_from_the_committed_results():
    """BENCHMARKS.md is what `python -m bench.report` writes from bench/results/, nothing typed by hand."""
    from bench.report import BENCHMARKS_MD

    assert BENCHMARKS_MD.read_text() == render(), "run `python -m bench.report` after changing a result"


def test_the_resnet_recipe_is_compared_with_each_variant_on_the_val_split():
    def resnet(variant, val, single, ips):
        return {
            **_point(variant, single + 0.001, single, ips),
            "family": "resnet",
            "optimizer": "sgd",
            "batch_size": 128,
            "augmentations": ["flip", "crop", "erase"],
            "augment": 0.5,
            "schedule": "cosine",
            "weight_averaging": 0.0,
            VAL_SINGLE: val,
            VAL_FLIP: val + 0.002,
        }

    rows = [
        resnet("resnet recipe", 0.9500, 0.9480, 400.0),
        # Recorded before the schedule and weight-averaging settings existed.
        {
            k: v
            for k, v in {**resnet("resnet: adam", 0.9450, 0.9490, 500.0), "optimizer": "adam"}.items()
            if k not in ("schedule", "weight_averaging")
        },
        {**resnet("resnet: linear to zero", 0.9510, 0.9470, 400.0), "schedule": "linear"},
        {
            **resnet("resnet: weight averaging", 0.9490, 0.9480, 390.0),
            "weight_averaging": 0.999,
            "load_average_at_start": [1.94, 1.5, 1.2],
            "load_average_at_end": [3.06, 2.0, 1.5],
        },
    ]
    sentences = findings(rows)
    assert len(sentences) == 4  # one per variant, then flip averaging
    assert sentences[1].startswith(
        "- **resnet: linear to zero** (schedule cosine → linear): val 0.9510 single view (+0.10 points "
        "against the resnet recipe), 0.9530 flip-averaged (+0.10); test, reported only: -0.10 single view, "
        "-0.10 flip-averaged; 1.00× the resnet recipe's images/s; inconclusive"
    )
    table = "\n".join(
        recipe_tables(rows, "two seeds 0.25 points apart", profiles={"resnet recipe": ("full", 54)})
    )
    assert "| resnet recipe | resnet, sgd, 128 | cosine | none | flip + crop + erase at 0.5 |" in table
    assert "| 0.9500 | 0.9520 | 0.9480 | 0.9490 |" in table  # val single, flip; test single, flip
    # The row's one change is in its column; older rows without a setting trained with the cnn recipe's.
    assert "| resnet: linear to zero | resnet, sgd, 128 | linear | none |" in table
    assert "| resnet: weight averaging | resnet, sgd, 128 | cosine | 0.999 |" in table
    assert "| resnet: adam | resnet, adam, 128 | cosine* | none* |" in table  # * not recorded
    assert table.count("| not recorded | `abc1234` |") == 3 and "| 1.9 to 3.1 | `abc1234` |" in table
    assert f"- **One seed's noise** is taken as {NOISE_POINTS} points: two seeds 0.25 points apart." in table
    assert "- **Profiles:** the full profile trains with `resnet recipe`'s settings for 54 epochs" in table
    assert "- `*`: a setting the row did not record" in table


def test_no_augmentation_reads_none():
    row = {**_point("no augmentation", 0.9, 0.9, 800.0), "augment": 0.0}
    # Recorded before any training setting: each cell is the code's then, marked as not recorded.
    assert "| no augmentation | cnn*, adam*, 64* | cosine* | none* | none |" in "\n".join(
        recipe_tables([row], profiles={})
    )


def test_each_profile_trains_as_a_named_variant():
    """The rows the report marks as a profile's are the settings that profile trains with."""
    for profile, variant in (("quick", "cnn: flip only"), ("full", "resnet recipe")):
        assert profile_variant(make_config(profile, ".").model) == variant
    assert profile_variant(make_config("full", ".", batch_size=64).model) == "resnet: batch 64"


def test_seed_noise_is_read_from_the_full_profiles_single_view_runs(tmp_path):
    def run(seed, single, served="single view"):
        return {"seed": seed, "served": served, "test": {"single": single, "flip_averaged": single}}

    path = tmp_path / "flip_averaging.json"
    # The flip-averaged export chose its epoch on the flip average: not a seed's single-view figure.
    runs = [run(42, 0.9502), run(1, 0.9479), run(42, 0.9504, served="flip average")]
    path.write_text(json.dumps({"details": {"runs": runs}}))
    assert seed_noise(tmp_path) == (
        "the full profile's cold runs with a single-view export scored 0.9479 (seed 1), 0.9502 (seed 42) on "
        "test, single view, 0.23 points apart (flip_averaging.json)"
    )
    path.write_text(json.dumps({"details": {"runs": [run(42, 0.9502), run(42, 0.9504)]}}))
    assert seed_noise(tmp_path) == ""  # one seed: no seed-to-seed spread
    path.write_text(json.dumps({"details": {}}))
    with pytest.raises(ValueError, match="flip_averaging.json: not a bench.flip_averaging result"):
        seed_noise(tmp_path)


def test_the_committed_seeds_spread_within_the_noise_the_verdicts_assume():
    spread = seed_spread(RESULTS_DIR)
    assert spread is not None, "flip_averaging.json must hold two seeds' single-view runs"
    scores = spread[0].values()
    assert round((max(scores) - min(scores)) * 100, 2) <= NOISE_POINTS


def _full_run(path, seed, accuracy, seconds, met, test_time_flip=None):
    figures = [
        {"what": END_TO_END_WHAT.format(profile=FULL_PROFILE), "value": seconds, "unit": "s"},
        {"what": BLESSED_WHAT, "value": 1, "unit": ""},
        {"what": TEST_ACCURACY_WHAT, "value": accuracy, "unit": "", "target": "≥ 0.95", "met": met},
    ]
    details = {"seed": seed, "component_seconds": {nodes.TRAINER: seconds - 200}}
    if test_time_flip is not None:
        details["test_time_flip"] = test_time_flip
    path.write_text(json.dumps({"commit": "abc1234", "figures": figures, "details": details}))


def test_the_seed_table_shows_every_seed_and_their_spread(tmp_path):
    _full_run(tmp_path / "pipeline_cost_full.json", 42, 0.9502, 4256.0, True, False)
    _full_run(tmp_path / "pipeline_cost_full_seed1.json", 1, 0.9481, 4300.0, False, False)
    (tmp_path / "pipeline_cost.json").write_text("{}")  # the quick profile's: not a row
    # Trained in float32 on a CPU without bfloat16 units: another arithmetic, not a seed of these.
    _full_run(tmp_path / f"pipeline_cost_full{FLOAT32_SUFFIX}.json", 42, 0.9499, 15000.0, False, False)

    lines = seed_table(tmp_path)

    rows = [line for line in lines if line.startswith("| 1 ") or line.startswith("| 42 ")]
    assert rows[0].startswith("| 1 | single view | 0.9481 | ≥ 0.95 | yes | 4,300 s | 4,100 s | `abc1234` |")
    assert rows[1].startswith("| 42 | single view | 0.9502 |")
    assert len(rows) == 2
    assert lines[-1] == (
        "- **single view, 2 seeds:** mean 0.9492, from 0.9481 to 0.9502 (0.21 points apart); "
        "1 of 2 meet the target."
    )


def test_runs_of_another_recipe_are_summarised_apart(tmp_path):
    _full_run(tmp_path / "pipeline_cost_full.json", 42, 0.9521, 4300.0, True, True)
    _full_run(tmp_path / "pipeline_cost_full_seed1.json", 1, 0.9481, 4300.0, False, False)
    _full_run(tmp_path / "pipeline_cost_full_seed7.json", 7, 0.9490, 4300.0, False)  # recorded before the key

    lines = seed_table(tmp_path)

    assert "- **flip-averaged, 1 seed:** 0.9521; 1 of 1 meet the target." in lines
    assert "- **single view, 1 seed:** 0.9481; 0 of 1 meet the target." in lines
    assert "- **not recorded, 1 seed:** 0.9490; 0 of 1 meet the target." in lines
    assert any(line.startswith("| 42 | flip-averaged | 0.9521 |") for line in lines)


def test_one_seed_makes_no_seed_table(tmp_path):
    _full_run(tmp_path / "pipeline_cost_full.json", 42, 0.9502, 4256.0, True)
    assert seed_table(tmp_path) == []


def _with_val(point, val, flip_gain=-0.001, **settings):
    return {
        **point,
        **settings,
        VAL_SINGLE: val,
        VAL_FLIP: val + flip_gain,
    }


def test_each_variant_gets_its_own_sentence_naming_its_change_and_verdict():
    sgd = {"optimizer": "sgd", "weight_decay": 0.005}
    rows = [
        _with_val(_point("resnet recipe", 0.9521, 0.9505, 630.0), 0.9520, 0.0039, **sgd),
        _with_val(_point("resnet: adam", 0.9400, 0.9390, 640.0), 0.9450, optimizer="adam", weight_decay=0.0),
        _with_val(_point("resnet: better", 0.9560, 0.9550, 315.0), 0.9560, 0.0039, **sgd, augment=0.7),
        # Better on the single view only: its flip average is below the recipe's.
        _with_val(_point("resnet: one view", 0.9560, 0.9550, 630.0), 0.9560, -0.001, **sgd, stem=2),
        _with_val(_point("resnet: noise", 0.9510, 0.9500, 630.0), 0.9500, 0.0039, **sgd, stem=8),
    ]

    adam, better, one_view, noise, flip = findings(rows)

    assert adam == (
        "- **resnet: adam** (optimizer sgd → adam, weight decay 0.005 → 0): val 0.9450 single view (-0.70 "
        "points against the resnet recipe), 0.9440 flip-averaged (-1.19); test, reported only: -1.15 single "
        "view, -1.21 flip-averaged; 1.02× the resnet recipe's images/s; the resnet recipe's choice pays: "
        "this change costs at least 0.70 points on val in both views."
    )
    assert better.startswith("- **resnet: better** (augmentation probability 0.2 → 0.7): val 0.9560 single")
    assert better.endswith(
        "0.50× the resnet recipe's images/s; it beats the resnet recipe beyond one seed's noise (0.3 points) "
        "in both views."
    )
    assert one_view.startswith("- **resnet: one view** (stem 4 → 2): val 0.9560 single view (+0.40 points")
    assert one_view.endswith(
        "inconclusive: beyond one seed's noise (0.3 points) in the single view only, so accuracy decides "
        "nothing."
    )
    assert noise.endswith(
        "inconclusive: within one seed's noise (0.3 points) in both views, so accuracy decides nothing."
    )
    assert flip == (
        "- **test-time flip averaging** (the resnet recipe's own weights, each image averaged with its "
        "mirror image): val +0.39 points (test +0.16). The same weights both ways, so the seed's noise is "
        "not in this difference. Across the 5 rows of the resnet recipe and its variants it changed val by "
        "-0.10 to +0.39 points."
    )


def test_a_recipe_without_a_val_figure_gets_no_per_variant_sentences():
    rows = [_point("resnet recipe", 0.9521, 0.9505, 630.0), _point("resnet: adam", 0.94, 0.939, 640.0)]
    assert findings(rows) == []


def test_verdicts_judge_both_views_at_the_figures_precision():
    base = "resnet recipe"
    single, flip = VAL_SINGLE, VAL_FLIP
    # 0.9490 − 0.9520 is -0.30000000000000027 in floating point and 0.9501 − 0.9471 is 0.2999…: both are
    # 0.30 points at four digits, so both are beyond the noise, the same way.
    assert verdict({single: -0.30, flip: -0.30}, base).startswith("the resnet recipe's choice pays")
    assert verdict({single: 0.30, flip: 0.30}, base).startswith("it beats the resnet recipe")
    assert verdict({single: 0.29, flip: 0.40}, base).endswith(
        "in the flip-averaged view only, so accuracy decides nothing"
    )
    assert verdict({single: 0.40, flip: -0.40}, base) == (
        "inconclusive: beyond one seed's noise (0.3 points) in both views but in opposite directions, so "
        "accuracy decides nothing"
    )


def test_the_rows_differences_are_rounded_before_they_are_judged():
    recipe = _with_val(_point("resnet recipe", 0.9521, 0.9505, 630.0), 0.9520, 0.0030)
    variant = _with_val(_point("resnet: no erasing", 0.9508, 0.9471, 654.0), 0.9490, 0.0049, stem=2)
    sentence = findings([recipe, variant])[0]
    assert "(-0.30 points against the resnet recipe)" in sentence
    assert sentence.endswith(
        "beyond one seed's noise (0.3 points) in the single view only, so accuracy decides nothing."
    )


def test_a_variant_that_changes_nothing_is_refused():
    recipe = _with_val(_point("resnet recipe", 0.9521, 0.9505, 630.0), 0.9520)
    twin = _with_val(_point("resnet: twin", 0.9521, 0.9505, 630.0), 0.9520)
    with pytest.raises(ValueError, match="^variant 'resnet: twin' changes nothing against 'resnet recipe'$"):
        findings([recipe, twin])


@pytest.mark.parametrize(
    "units, onednn, words",
    [
        (["avx512_bf16"], None, "AMD EPYC (bfloat16 units: avx512_bf16), 23.5 GB"),
        ([], None, "AMD EPYC (no bfloat16 units), 23.5 GB"),
        (None, None, "AMD EPYC (bfloat16 units unknown), 23.5 GB"),  # unreadable flags
        ("absent", None, "AMD EPYC, 23.5 GB"),  # recorded before the key existed
        ([], ONEDNN_ON, f"AMD EPYC (no bfloat16 units; {ONEDNN}={ONEDNN_ON}), 23.5 GB"),
        ("absent", ONEDNN_OFF, f"AMD EPYC ({ONEDNN}={ONEDNN_OFF}), 23.5 GB"),
    ],
)
def test_each_results_file_names_its_cpus_bfloat16_units_and_onednns_switch(tmp_path, units, onednn, words):
    machine = {"cores": 2, "cpu": "AMD EPYC", "memory_gb": 23.5, "onednn": onednn}
    if units != "absent":
        machine["bfloat16_units"] = units
    figures = [{"what": "training images/s", "value": 180.0, "unit": "images/s"}]
    result = {"benchmark": "precision_float32", "measured_at": "2026-12-06", "command": "bench"}
    result.update(machine=machine, figures=figures)
    (tmp_path / "precision_float32.json").write_text(json.dumps(result))

    source = next(line for line in render(tmp_path).splitlines() if "precision_float32.json" in line)

    assert f"on 2 cores, {words}; command: `bench`" in source
