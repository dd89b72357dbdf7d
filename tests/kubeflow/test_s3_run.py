"""The `test` profile with its root in an S3 bucket (moto's S3 server on 127.0.0.1), through the push.

One run of the real CLI (the `fashion-tfx` console script) and LocalDagRunner with `--root s3://...`:
every step, the Trainer's export, the Evaluator, the Pusher and the smoke check included, reads and
writes the bucket through TensorFlow's S3 filesystem (tensorflow-io) and Beam's (boto3).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bucket_runs
import pytest
from s3_server import BUCKET, bucket_objects

from pipeline import nodes

# Runs the real pipeline: outside the fast tier (`make test-fast`).
pytestmark = pytest.mark.pipeline

REPO = Path(__file__).resolve().parents[2]
PREFIX = "runs/ci"
# The steps after the Tuner, which the bucket run on the GCS emulator does not reach.
RELEASE_STEPS = {
    nodes.TRAINER, nodes.SERVING_BASELINE, nodes.EVALUATOR, nodes.EVALUATION_REPORT, nodes.PUSHER,
    nodes.SMOKE_CHECK,
}  # fmt: skip


def _metadata_path(home: Path) -> Path:
    return bucket_runs.state_folder(home, f"s3://{BUCKET}/{PREFIX}") / "metadata.sqlite"


@pytest.fixture(scope="module")
def s3_run(s3, tmp_path_factory, canonical_data_dir):
    """Runs `fashion-tfx run --profile test --root s3://...` once, from an empty working directory.

    On the canonical data: a model of synthetic data would fail the golden set, and nothing would be pushed.
    """
    root = f"s3://{BUCKET}/{PREFIX}"
    command = [str(Path(sys.executable).parent / "fashion-tfx"), "run", "--profile", "test"]
    command += ["--data-dir", str(canonical_data_dir), "--root", root]
    process, work, home = bucket_runs.run_from_empty_folder(
        command, tmp_path_factory.mktemp("s3-run"), s3.environment
    )
    return process, root, work, home


def test_s3_run_pushes_a_smoke_checked_model_and_exits_0(s3_run):
    process, root, _, _ = s3_run
    # 0, not 134: the process used tensorflow-io's S3 filesystem and still reports its own exit code.
    assert process.returncode == 0, process.stderr[-4000:] + process.stdout[-2000:]
    assert f"root {root}" in process.stderr
    assert "pure virtual method called" not in process.stderr


def test_every_artifact_report_and_the_pushed_model_are_in_the_bucket(s3_run, s3):
    process, root, _, home = s3_run
    assert process.returncode == 0, process.stderr[-4000:]
    from pipeline.metadata import component_runs

    objects = bucket_objects(s3.endpoint, PREFIX + "/")
    runs = component_runs(_metadata_path(home))
    assert {r.state for r in runs} == {"executed"}
    assert {r.node_id for r in runs} >= RELEASE_STEPS
    # S3 has no folders: an output that holds no file leaves no object (the GCS plugin writes a folder
    # marker), so these are the outputs that are empty by design.
    # (ServingBaseline: nothing was served before this first run.)
    empty_by_design = {
        f"{nodes.ANOMALY_GATE}.verdict",
        f"{nodes.TRANSFORM}.updated_analyzer_cache",
        f"{nodes.SERVING_BASELINE}.model",
    }
    assert bucket_runs.outputs_without_objects(runs, root, objects) == empty_by_design
    names = set(objects)
    for split in ("train", "eval", "test"):
        bucket_runs.assert_output_holds(
            runs, objects, nodes.UPSCALER, "examples", f"/Split-{split}/data_tfrecord-"
        )
    bucket_runs.assert_output_holds(
        runs, objects, nodes.TRANSFORM, "transform_graph", "transform_fn/saved_model.pb"
    )
    bucket_runs.assert_output_holds(
        runs, objects, nodes.TUNER, "best_hyperparameters", "best_hyperparameters.txt"
    )
    bucket_runs.assert_output_holds(
        runs, objects, nodes.TRAINER, "model", "/saved_model.pb", "/variables/variables.index"
    )
    bucket_runs.assert_output_holds(runs, objects, nodes.EVALUATOR, "blessing", "BLESSED")
    # The pushed model: one numbered version under the serving folder, and TF Serving's config file.
    serving = f"{PREFIX}/serving/fashion-tfx/"
    versions = {n[len(serving) :].split("/", 1)[0] for n in names if n.startswith(serving)}
    numbered = sorted(v for v in versions if v.isdigit())
    assert len(numbered) == 1, versions
    assert f"{serving}{numbered[0]}/saved_model.pb" in names
    assert any(n.startswith(f"{PREFIX}/serving/") and n.endswith("models.config") for n in names), sorted(
        n for n in names if "/serving/" in n
    )
    assert not [n for n in names if "/.staging/" in n or "/.bundles/" in n]


def test_the_pushed_model_passed_the_smoke_check_read_from_the_bucket(s3_run):
    process, root, _, home = s3_run
    assert process.returncode == 0, process.stderr[-4000:]
    from pipeline.metadata import component_runs, json_property

    runs = {r.node_id: r for r in component_runs(_metadata_path(home))}
    pushed = runs[nodes.PUSHER].outputs["pushed_model"][0][1]
    assert pushed.get("pushed") == 1, pushed
    assert str(pushed.get("pushed_destination", "")).startswith(f"{root}/serving/fashion-tfx/"), pushed
    check = json_property(runs[nodes.SMOKE_CHECK], "result", "result")
    assert check["checked"] and set(check["signatures"]) == {"serving_default", "predict_images", "embed"}


def test_nothing_of_the_s3_run_lands_on_local_disk(s3_run):
    process, root, work, home = s3_run
    assert process.returncode == 0, process.stderr[-4000:]
    bucket_runs.assert_only_run_state_is_local(work, home, root)
    assert bucket_runs.local_paths_named("s3:", work, home, REPO) == []


def test_predict_reads_the_pushed_model_from_the_bucket(s3_run, s3, tmp_path, canonical_data_dir):
    """`fashion-tfx predict --serving-root s3://...` loads the newest pushed version from the bucket."""
    import cv2

    from data import fashion_mnist
    from data.idx import read_idx_pair

    process, root, _, _ = s3_run
    assert process.returncode == 0, process.stderr[-4000:]
    images, _ = read_idx_pair(
        fashion_mnist.file_path(canonical_data_dir, fashion_mnist.TEST_IMAGES),
        fashion_mnist.file_path(canonical_data_dir, fashion_mnist.TEST_LABELS),
    )
    png = tmp_path / "item.png"
    assert cv2.imwrite(str(png), images[0])
    env = {**os.environ, **s3.environment, "HOME": str(tmp_path)}
    command = [
        str(Path(sys.executable).parent / "fashion-tfx"),
        "predict",
        "--serving-root",
        f"{root}/serving",
    ]
    predicted = subprocess.run(
        [*command, str(png)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert "item.png" in predicted.stdout, predicted.stdout
    assert "pure virtual method called" not in predicted.stderr
