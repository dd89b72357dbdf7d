"""The release stage on the real LocalDagRunner: only a blessed model ships, and it answers."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from fashion_tfx.pipeline.config import make_config
from fashion_tfx.pipeline.local_runner import run_pipeline
from fashion_tfx.pipeline.metadata import json_property
from fashion_tfx.pipeline.summary import render
from fashion_tfx.serving.local import model_versions


def _blessed(result) -> bool:
    headline = json_property(result.component("EvaluationReport"), "report", "summary")
    return headline["blessed"]


def test_only_a_blessed_model_is_pushed_and_the_previous_version_stays(tiny_idx_dir, tmp_path):
    root = tmp_path / "root"
    good = run_pipeline(make_config("test", root, data_dir=str(tiny_idx_dir)))
    assert good.ok, good.error
    assert _blessed(good)
    # Nothing was served before the first run: no baseline, only the absolute floor.
    assert good.component("ServingBaseline").outputs["baseline"][0][1]["found"] == 0
    model_base = root / "serving" / "fashion-tfx"
    versions = model_versions(model_base)
    assert len(versions) == 1
    pushed = good.component("Pusher").outputs["pushed_model"][0][1]
    assert pushed["pushed"] == 1 and pushed["pushed_destination"].rstrip("/").endswith(str(versions[0]))

    check = json_property(good.component("ServingSmokeCheck"), "result", "result")
    assert check["checked"] and set(check["signatures"]) == {"serving_default", "predict_images", "embed"}
    config = text_format.Parse(
        (root / "serving" / "models.config").read_text(), model_server_config_pb2.ModelServerConfig()
    )
    assert [m.name for m in config.model_config_list.config] == ["fashion-tfx"]

    report_dir = good.component("EvaluationReport").outputs["report"][0][0]
    report = json.loads(Path(report_dir, "evaluation.json").read_text())
    assert report["example_count"] == 40 and len(report["per_class"]) == 10
    assert sum(map(sum, report["confusion_matrix"])) == 40
    png = cv2.imread(f"{report_dir}/confusion_matrix.png")
    assert png is not None and png.shape[0] > 300
    summary = render(good)
    assert "BLESSED" in summary and f"pushed to: {pushed['pushed_destination']}" in summary

    # A deliberately bad model: the same pipeline, trained for zero epochs.
    bad = run_pipeline(make_config("test", root, data_dir=str(tiny_idx_dir), train_epochs=0))
    assert bad.ok, bad.error
    assert bad.component("Trainer").state == "executed"
    # The baseline is the model served now, the first run's: the new candidate is compared with it.
    baseline = bad.component("ServingBaseline").outputs["baseline"][0][1]
    assert baseline["found"] == 1 and baseline["served_version"] == versions[0]
    failures = json_property(bad.component("EvaluationReport"), "report", "summary")["validation_failures"]
    assert any("(change)" in failure for failure in failures), failures
    assert not _blessed(bad)
    assert bad.component("Pusher").outputs["pushed_model"][0][1]["pushed"] == 0
    assert model_versions(model_base) == versions  # the served version is untouched
    skipped = json_property(bad.component("ServingSmokeCheck"), "result", "result")
    assert skipped["checked"] is False
    assert "NOT blessed" in render(bad) and "not pushed" in render(bad)
