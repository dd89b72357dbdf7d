"""bench.pipeline_cost and bench.flip_averaging read what a finished run recorded (the session's test run)."""

from __future__ import annotations

from bench.flip_averaging import SPLITS, measure_run
from bench.pipeline_cost import exported_averaging, trained_arithmetic
from models.settings import training_policy
from pipeline.config import make_config


def test_the_run_records_whether_its_export_averages_mirror_images(full_test_run, tmp_path):
    assert exported_averaging(full_test_run.root) is False  # the test profile serves the single view
    assert exported_averaging(tmp_path) is None  # no run here


def test_flip_averaging_measures_a_single_view_export_through_its_own_signature(full_test_run):
    row = measure_run(full_test_run.root)

    assert row["served"] == "single view"
    for split in SPLITS:
        assert row[split]["images"] > 0
        assert 0.0 <= row[split]["single"] <= 1.0 and 0.0 <= row[split]["flip_averaged"] <= 1.0
        assert "served" not in row[split]  # only an export that averages is checked against itself


def test_the_run_records_the_arithmetic_it_trained_in(full_test_run, tmp_path):
    expected = training_policy(make_config("test", full_test_run.root).model.precision)
    assert trained_arithmetic(full_test_run.root) == expected
    assert trained_arithmetic(tmp_path) is None  # no run here
