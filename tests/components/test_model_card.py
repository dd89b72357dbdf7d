"""The model card without TFX: its sections from a known evaluation, valid against the toolkit's schema."""

from __future__ import annotations

import json

import jsonschema
import pytest
from model_cards import ABSOLUTE_PATH, GOLDEN_SET, sample_model_card, validate_against_toolkit_schema

from components.evaluation_report.model_card import (
    SCHEMA_VERSION,
    render_model_card,
    stamp_served_version,
    write_model_card,
)
from components.evaluator.golden_set_check import GOLDEN_SET_LIMITS


def test_card_is_valid_against_the_toolkit_schema_and_carries_the_evaluation(tmp_path):
    card, record = sample_model_card(tmp_path)
    validate_against_toolkit_schema(card)
    assert card["schema_version"] == SCHEMA_VERSION
    metrics = {
        (m["type"], m["slice"]): float(m["value"])
        for m in card["quantitative_analysis"]["performance_metrics"]
    }
    assert metrics[("accuracy", "overall")] == pytest.approx(0.84)
    assert metrics[("accuracy", "golden set")] == pytest.approx(0.912)
    assert metrics[("recall", "label=Shirt")] == pytest.approx(0.6)
    assert metrics[("precision", "label=Coat")] == pytest.approx(8 / 18)
    assert ("precision", "label=Dress") not in metrics  # undefined: named under limitations instead
    assert metrics[("accuracy_change", "overall")] == pytest.approx(-0.16)
    assert card["model_parameters"]["model_architecture"] == "cnn (Keras), 1,234 parameters"
    assert "T-shirt/top 5, Trouser 0" in card["model_parameters"]["data"][0]["description"]
    assert card["model_parameters"]["input_format"] == "serving_default: examples string [N]"
    graphics = card["quantitative_analysis"]["graphics"]["collection"]
    assert [g["name"].split(" (")[0] for g in graphics] == ["Confusion matrix"]  # no curves file given
    assert (
        f"Golden set: accuracy 0.9120 on 1,000 canonical test images (SHA-256 verified), floor 0.3: passed; "
        f"{GOLDEN_SET_LIMITS}." in card["model_details"]["overview"]
    )
    assert card["model_details"]["version"]["diff"].startswith("against the baseline served version 17")
    assert record["hyperparameters"] == {"family": "cnn", "learning_rate": 0.001}
    assert record["code_fingerprint"] == "abc" and record["evaluation"]["golden_set"] == GOLDEN_SET


def test_the_schema_refuses_what_it_does_not_define(tmp_path):
    """The check can fail: the former top-level `lineage` key, and a number where the schema wants text."""
    card, record = sample_model_card(tmp_path)
    with pytest.raises(jsonschema.ValidationError, match="lineage"):
        validate_against_toolkit_schema({**card, "lineage": record})
    metric = card["quantitative_analysis"]["performance_metrics"][0]
    metric["value"] = float(metric["value"])
    with pytest.raises(jsonschema.ValidationError, match="is not of type 'string'"):
        validate_against_toolkit_schema(card)


def test_limitations_name_the_weakest_classes_and_their_usual_confusions(tmp_path):
    limits = [item["description"] for item in sample_model_card(tmp_path)[0]["considerations"]["limitations"]]
    assert (
        limits[0]
        == "Dress: recall 0.000, the lowest of 10 classes; mistaken most often for Coat (10/10, 100.0%)."
    )
    assert limits[1] == (
        "Shirt: recall 0.600, second lowest of 10 classes; mistaken most often for "
        "T-shirt/top (3/10, 30.0%), Pullover (1/10, 10.0%)."
    )
    assert limits[2].startswith("Coat: recall 0.800, third lowest")
    assert "Dress was never predicted on the test split: its precision is undefined." in limits


def test_markdown_and_json_are_written_and_agree(tmp_path):
    card, record = sample_model_card(tmp_path, with_baseline=False)
    write_model_card(card, record, str(tmp_path))
    assert json.loads((tmp_path / "model_card.json").read_text()) == card
    assert json.loads((tmp_path / "model_record.json").read_text()) == record
    page = (tmp_path / "model_card.md").read_text()
    assert page.startswith("# Model card: fashion-tfx, the candidate of run run-1")
    assert "| Dress | 10 | 0.000 | undefined: never predicted | n/a |" in page
    assert "| Shirt | 10 | 0.600 | 1.000 | n/a |" in page
    assert "- baseline: none (no model had been blessed before)" in page
    assert (
        "- golden set: accuracy 0.9120 on 1,000 canonical test images (SHA-256 verified), floor 0.3: passed"
        in page
    )
    assert "- model: artifact #21, `Trainer/model/7`" in page
    assert render_model_card(card, record) == page
    assert not ABSOLUTE_PATH.search(page) and not ABSOLUTE_PATH.search(json.dumps(card))


def test_the_shipped_card_names_its_served_version_and_stays_valid(tmp_path):
    card, record = sample_model_card(tmp_path)
    write_model_card(card, record, str(tmp_path))
    stamp_served_version(str(tmp_path), "1800000000", "fashion-tfx/1800000000")
    shipped = json.loads((tmp_path / "model_card.json").read_text())
    validate_against_toolkit_schema(shipped)
    assert shipped["model_details"]["version"]["name"] == "served version 1800000000"
    assert shipped["model_details"]["path"] == "fashion-tfx/1800000000"
    assert json.loads((tmp_path / "model_record.json").read_text())["served_version"] == 1800000000
    page = (tmp_path / "model_card.md").read_text()
    assert page.startswith("# Model card: fashion-tfx, served version 1800000000\n")
    assert "- served version: `1800000000`" in page


def test_the_card_states_the_recipe_and_only_the_familys_own_hyper_parameters():
    from components.evaluation_report.model_card import recipe_sentence
    from models.settings import FLIP_AVERAGING_WORDS, FLOAT32, MIXED_BFLOAT16, own_hyperparameters
    from pipeline.config import make_config

    settings = make_config("full", "/tmp/unused").model.to_custom_config()
    values = {"family": "resnet", "learning_rate": 0.1, "batch_size": 128, "label_smoothing": 0.1}
    values |= {"augment_probability": 0.5, "resnet_width": 16, "cnn_filters": 32}
    sentence = recipe_sentence(values, settings, "defaults")
    assert sentence.startswith("sgd at a peak rate of 0.1 with Nesterov momentum 0.9; weight decay 0.005;")
    assert "2 warm-up epochs then a cosine decay" in sentence
    assert "augmentation flip, crop, erase at 0.5 each" in sentence
    assert "moving average" not in sentence
    averaged = recipe_sentence(values, {**settings, "schedule": "linear", "weight_averaging": 0.999}, None)
    assert "then a linear decay" in averaged
    assert "weights averaged over the training steps (exponential moving average, momentum 0.999)" in averaged
    assert "averaged over the image and its mirror image" in sentence
    quick = make_config("quick", "/tmp/unused").model.to_custom_config()
    quick_sentence = recipe_sentence(values, quick, "defaults")
    assert "mirror image" not in quick_sentence and "augmentation flip at 0.5 (" in quick_sentence
    assert sentence.endswith("(the profile's recipe)")
    assert "arithmetic" not in sentence  # a record from before the Trainer wrote it
    in_bfloat16 = recipe_sentence(values, settings, "defaults", MIXED_BFLOAT16)
    assert in_bfloat16.endswith(
        f"; trained in {MIXED_BFLOAT16} arithmetic, served in {FLOAT32}; {FLIP_AVERAGING_WORDS} "
        "(the profile's recipe)"
    )
    assert (
        "cnn_filters" not in own_hyperparameters(values) and own_hyperparameters(values)["resnet_width"] == 16
    )
