"""Shipping the model card into a pushed version: copied and stamped when present, refused when absent."""

from __future__ import annotations

import json

import pytest
from model_cards import sample_model_card, validate_against_toolkit_schema

from components.evaluation_report.model_card import write_model_card
from components.pusher.model_card import ship_model_card


def test_card_files_land_in_assets_extra_naming_the_version(tmp_path):
    report, version = tmp_path / "report", tmp_path / "serving" / "fashion-tfx" / ".staging-1700000000"
    report.mkdir()
    card, record = sample_model_card(report)
    write_model_card(card, record, str(report))
    (report / "evaluation.md").write_text("not shipped")
    copied = ship_model_card(str(report), str(version), "1700000000")
    assert copied == ["model_card.json", "model_card.md", "model_record.json", "confusion_matrix.png"]
    assert sorted(p.name for p in (version / "assets.extra").iterdir()) == sorted(copied)
    shipped = json.loads((version / "assets.extra" / "model_card.json").read_text())
    validate_against_toolkit_schema(shipped)
    assert shipped["model_details"]["path"] == "fashion-tfx/1700000000"
    assert (
        (version / "assets.extra" / "model_card.md")
        .read_text()
        .startswith("# Model card: fashion-tfx, served version 1700000000\n")
    )


def test_a_report_without_a_card_is_refused(tmp_path):
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "model_card.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"report: the evaluation report has no model_card.md"):
        ship_model_card(str(tmp_path / "report"), str(tmp_path / "version"), "1700000000")
    assert not (tmp_path / "version").exists()
