"""Shipping the model card into a pushed version: copied when present, the push refused when absent."""

from __future__ import annotations

import pytest

from components.pusher.model_card import ship_model_card


def test_card_files_land_in_assets_extra(tmp_path):
    report, version = tmp_path / "report", tmp_path / "serving" / "fashion-tfx" / "1700000000"
    report.mkdir()
    for name in ("model_card.json", "model_card.md", "confusion_matrix.png", "evaluation.md"):
        (report / name).write_text(name)
    copied = ship_model_card(str(report), str(version))
    assert copied == ["model_card.json", "model_card.md", "confusion_matrix.png"]
    assert sorted(p.name for p in (version / "assets.extra").iterdir()) == sorted(copied)
    assert (version / "assets.extra" / "model_card.md").read_text() == "model_card.md"


def test_a_report_without_a_card_is_refused(tmp_path):
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "model_card.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"report: the evaluation report has no model_card.md"):
        ship_model_card(str(tmp_path / "report"), str(tmp_path / "version"))
    assert not (tmp_path / "version").exists()
