"""The release stage on the real LocalDagRunner: only a blessed model ships, and it answers."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from pipeline.config import make_config
from pipeline.local_runner import run_pipeline
from pipeline.metadata import json_property
from pipeline.summary import render
from serving.signatures import ASSETS_EXTRA
from serving.versions import served_versions

# Runs the real pipeline: outside the fast tier (`make test-fast`).
pytestmark = pytest.mark.pipeline


def _report(result) -> tuple[Path, dict]:
    report_dir = Path(result.component("EvaluationReport").outputs["report"][0][0])
    return report_dir, json.loads((report_dir / "evaluation.json").read_text())


def _check_per_class_against_matrix(report: dict) -> None:
    """Every per-class recall and precision equals the ratio the confusion matrix gives."""
    matrix = report["confusion_matrix"]
    for i, row in enumerate(report["per_class"]):
        row_sum, column_sum = sum(matrix[i]), sum(r[i] for r in matrix)
        for figure, total in (("recall", row_sum), ("precision", column_sum)):
            if total:
                assert abs(row[figure] - matrix[i][i] / total) < 1e-6, (row, figure)
            else:
                assert row[figure] is None and row[f"{figure}_note"].startswith("undefined")


def _blessed(result) -> bool:
    headline = json_property(result.component("EvaluationReport"), "report", "summary")
    return headline["blessed"]


def test_only_a_blessed_model_is_pushed_and_the_previous_version_stays(canonical_data_dir, tmp_path):
    root = tmp_path / "root"
    good = run_pipeline(make_config("test", root, data_dir=str(canonical_data_dir)))
    assert good.ok, good.error
    assert _blessed(good)
    # Nothing was served before the first run: no baseline, only the absolute floor.
    assert good.component("ServingBaseline").outputs["model"][0][1]["found"] == 0
    model_base = root / "serving" / "fashion-tfx"
    versions = served_versions(model_base)
    assert len(versions) == 1
    pushed = good.component("Pusher").outputs["pushed_model"][0][1]
    assert pushed["pushed"] == 1 and pushed["pushed_destination"].rstrip("/").endswith(str(versions[0]))

    check = json_property(good.component("ServingSmokeCheck"), "result", "result")
    assert check["checked"] and set(check["signatures"]) == {"serving_default", "predict_images", "embed"}
    config = text_format.Parse(
        (root / "serving" / "models.config").read_text(), model_server_config_pb2.ModelServerConfig()
    )
    assert [m.name for m in config.model_config_list.config] == ["fashion-tfx"]

    report_dir, report = _report(good)
    assert report["example_count"] == 60 and len(report["per_class"]) == 10
    assert sum(map(sum, report["confusion_matrix"])) == 60
    _check_per_class_against_matrix(report)
    assert abs(report["tfma_accuracy"] - report["accuracy"]) < 1e-6 and report["warnings"] == []
    assert report["baseline"] is None and "no blessed baseline" in report["verdict"]
    png = cv2.imread(f"{report_dir}/confusion_matrix.png")
    assert png is not None and png.shape[0] > 300

    # The model card ships inside the pushed version, and its figures are the evaluation's.
    shipped = model_base / str(versions[0]) / ASSETS_EXTRA
    assert sorted(p.name for p in shipped.iterdir()) == [
        "confusion_matrix.png", "model_card.json", "model_card.md", "model_record.json",
        "tf_serving_warmup_requests", "training_curves.png",
    ]  # fmt: skip
    card = json.loads((shipped / "model_card.json").read_text())
    # The shipped card is the report's, named by the version it ships in.
    unshipped = json.loads((report_dir / "model_card.json").read_text())
    assert unshipped["model_details"]["version"]["name"].startswith("the candidate of run ")
    unshipped["model_details"]["version"]["name"] = f"served version {versions[0]}"
    unshipped["model_details"]["path"] = f"fashion-tfx/{versions[0]}"
    assert card == unshipped
    metrics = {
        (m["type"], m["slice"]): float(m["value"])
        for m in card["quantitative_analysis"]["performance_metrics"]
    }
    assert metrics[("accuracy", "overall")] == report["accuracy"]
    for row in report["per_class"]:
        for figure in ("recall", "precision"):
            assert metrics.get((figure, f"label={row['class']}")) == row[figure]
    record = json.loads((shipped / "model_record.json").read_text())
    assert record["served_version"] == versions[0]
    assert record["evaluation"]["confusion_matrix"] == report["confusion_matrix"]
    trainer_model = good.component("Trainer").outputs["model"][0][0]
    assert trainer_model.endswith("/" + record["artifacts"]["model"]["uri"])  # run-relative
    assert record["pipeline_run_id"] and record["code_fingerprint"]
    assert set(record["signatures"]) == {"serving_default", "predict_images", "embed"}
    assert record["training"]["epochs"] >= 1
    assert "60 images for evaluation and blessing" in card["model_parameters"]["data"][2]["description"]
    page = (shipped / "model_card.md").read_text()
    # Which data: canonical, as judged by SHA-256 (a foreign set would say FOREIGN here).
    assert "Source: canonical Fashion-MNIST (all four files match the published SHA-256);" in page
    assert f"accuracy **{report['accuracy']:.4f}** on 60 images" in page
    assert "![confusion matrix](confusion_matrix.png)" in page
    summary = render(good)
    assert "BLESSED" in summary and f"pushed: served version {versions[0]}, in " in summary

    # A deliberately bad model: the same pipeline, trained for zero epochs.
    bad = run_pipeline(make_config("test", root, data_dir=str(canonical_data_dir), train_epochs=0))
    assert bad.ok, bad.error
    assert bad.component("Trainer").state == "executed"
    # The baseline is the model served now, the first run's: the new candidate is compared with it.
    baseline = bad.component("ServingBaseline").outputs["model"][0][1]
    assert baseline["found"] == 1 and baseline["served_version"] == versions[0]
    failures = json_property(bad.component("EvaluationReport"), "report", "summary")["validation_failures"]
    assert any(failure["change"] for failure in failures), failures
    assert not _blessed(bad)
    assert bad.component("Pusher").outputs["pushed_model"][0][1]["pushed"] == 0
    assert served_versions(model_base) == versions  # the served version is untouched
    skipped = json_property(bad.component("ServingSmokeCheck"), "result", "result")
    assert skipped["checked"] is False
    assert "NOT blessed" in render(bad) and "not pushed" in render(bad)

    # Its report says why, against which baseline: the model the first run blessed.
    bad_dir, bad_report = _report(bad)
    _check_per_class_against_matrix(bad_report)
    assert bad_report["baseline"]["model"]["served_version"] == versions[0]
    assert bad_report["baseline"]["accuracy"] == report["accuracy"]
    assert bad_report["verdict"].startswith(f"Not blessed: accuracy {bad_report['accuracy']:.4f} is below")
    assert f"(baseline: served version {versions[0]}, accuracy" in bad_report["verdict"]
    assert bad_report["verdict"] in (bad_dir / "evaluation.md").read_text()
    assert not (bad_dir / "model_card.json").exists()  # a card only for a blessed model
