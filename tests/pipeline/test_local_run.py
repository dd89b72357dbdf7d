"""The whole pipeline on the real LocalDagRunner with tiny data, asserted through ML Metadata."""

from __future__ import annotations

import gzip
import struct

import pytest
from ml_metadata.proto import metadata_store_pb2

from data import fashion_mnist as fm
from pipeline import cli
from pipeline.config import make_config
from pipeline.local_runner import (
    RootLock,
    RunInProgressError,
    StorageError,
    check_writable,
    run_pipeline,
)
from pipeline.metadata import component_runs, open_store
from pipeline.summary import render
from serving.versions import served_versions


@pytest.mark.pipeline
def test_cli_run_then_rerun_is_cached(canonical_data_dir, tmp_path, capsys):
    root = tmp_path / "root"
    metadata = root / "metadata.sqlite"
    argv = ["run", "--profile", "test", "--data-dir", str(canonical_data_dir), "--root", str(root)]
    assert cli.main(argv) == 0
    first = capsys.readouterr()
    assert "splits and class balance" in first.out and " executed, 0 cached" in first.out
    assert "✓ IdxExampleGen " in first.err  # the progress display, from ML Metadata
    runs = component_runs(metadata)
    work = {r.node_id for r in runs if r.state != "resolved"}
    assert {r.state for r in runs if r.node_id in work} == {"executed"}
    assert {"IdxExampleGen", "ImageUpscaler", "Transform", "Trainer", "Evaluator", "Pusher"} <= work
    versions = served_versions(root / "serving" / "fashion-tfx")
    assert len(versions) == 1  # the first run blessed and pushed its model

    def rerun():
        before = max(r.started_ms for r in component_runs(metadata))
        assert cli.main(argv) == 0
        return {r.node_id: r.state for r in component_runs(metadata) if r.started_ms > before}

    # The release stage may run once more: the first run's model has become the Evaluator's baseline.
    release = {"Evaluator", "EvaluationReport", "Pusher", "ServingSmokeCheck"}
    second = rerun()
    assert set(second) >= work
    assert {state for node, state in second.items() if node in work - release} == {"cached"}
    # With nothing changed, a third run does no work at all, and nothing is pushed twice.
    third = rerun()
    assert {state for node, state in third.items() if node in work} == {"cached"}
    assert served_versions(root / "serving" / "fashion-tfx") == versions
    assert f"0 executed, {len(work)} cached" in capsys.readouterr().out


@pytest.mark.pipeline
def test_bad_data_fails_without_publishing_examples(tiny_idx_dir, tmp_path):
    (tiny_idx_dir / f"{fm.TEST_LABELS}.gz").write_bytes(
        gzip.compress(struct.pack(">II", 2051, 40) + bytes(40))
    )
    config = make_config("test", tmp_path / "root", data_dir=str(tiny_idx_dir), allow_foreign_data=True)
    result = run_pipeline(config)
    assert not result.ok
    assert "t10k-labels-idx1-ubyte.gz: wrong magic number 2051" in str(result.error)
    assert result.component("IdxExampleGen").state == "failed"
    store = open_store(config.metadata_path)
    live = [a for a in store.get_artifacts_by_type("Examples") if a.state == metadata_store_pb2.Artifact.LIVE]
    assert live == []


def test_unwritable_root_fails_before_any_work(tiny_idx_dir, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match=r"output root .*a-file/root is not writable"):
        check_writable(blocker / "root")
    assert (
        cli.main(["run", "--profile", "test", "--root", str(blocker / "root"), "--data-dir", str(tmp_path)])
        == 2
    )


def test_second_run_in_the_same_root_fails_fast(tmp_path):
    with RootLock(tmp_path), pytest.raises(RunInProgressError, match="is using"), RootLock(tmp_path):
        pass
    with RootLock(tmp_path):  # released: can be taken again
        pass


def _write_wrong_size_set(directory):
    """A set whose images are 32×32: valid IDX, but not what the schema describes."""
    from support import make_images

    from data.idx import write_idx

    directory.mkdir()
    for images_name, labels_name, count, seed in (
        (fm.TRAIN_IMAGES, fm.TRAIN_LABELS, 60, 0),
        (fm.TEST_IMAGES, fm.TEST_LABELS, 20, 1),
    ):
        images, labels = make_images(count, seed, size=32)
        write_idx(directory / f"{images_name}.gz", images)
        write_idx(directory / f"{labels_name}.gz", labels)
    return directory


@pytest.mark.pipeline
def test_anomaly_gate_stops_the_run_and_names_the_anomalies(tmp_path):
    data = _write_wrong_size_set(tmp_path / "idx32")
    config = make_config("test", tmp_path / "root", data_dir=str(data), allow_foreign_data=True)
    result = run_pipeline(config)
    assert not result.ok
    assert result.component("AnomalyGate").state == "failed"
    message = str(result.error)
    assert "data does not match the schema" in message and "height" in message and "width" in message
    assert "split train" in message
    assert result.component("ImageUpscaler") is None
    assert "error in AnomalyGate" in render(result)

    relaxed = make_config(
        "test", tmp_path / "root2", data_dir=str(data), stop_on_anomalies=False, allow_foreign_data=True
    )
    passed = run_pipeline(relaxed)
    assert passed.component("AnomalyGate").state == "executed"
    assert "data anomalies" in render(passed) and "height" in render(passed)
