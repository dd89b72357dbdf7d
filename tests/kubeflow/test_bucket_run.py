"""The `test` profile with its root in a bucket (a GCS emulator on 127.0.0.1), as on Kubeflow.

The run stops after the Tuner (`fashion-tfx run --stop-after Tuner`): TensorFlow reaches the emulator only
through tensorflow-io-gcs-filesystem 0.37.1, whose reads corrupt its heap against this emulator once
files grow (it crashed writing the Trainer's SavedModel, in tf.saved_model.save's read-back of its
checkpoint and fingerprint; gdb traces in docs/kubeflow.md). The steps after it (Trainer export,
ServingBaseline, Evaluator, Pusher, smoke check) run on a local root in the rehearsal and the
pipeline tests; their bucket IO is the same fileio / tf.io.gfile calls.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from bucket_runs import (
    assert_only_run_state_is_local,
    assert_output_holds,
    local_paths_named,
    outputs_without_objects,
    run_from_empty_folder,
)
from gcs_emulator import BUCKET

from pipeline import nodes

# Runs the real pipeline: outside the fast tier (`make test-fast`).
pytestmark = pytest.mark.pipeline

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "fashion-tfx")  # the console script users run
PREFIX = "runs/ci"


def _objects(emulator, prefix: str) -> dict[str, int]:
    """Returns object name -> size for every object under `prefix` in the test bucket."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project="fashion-tfx-test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulator.endpoint},
    )
    return {blob.name: blob.size for blob in client.list_blobs(BUCKET, prefix=prefix)}


@pytest.fixture(scope="module")
def bucket_run(gcs_emulator, tmp_path_factory, canonical_data_dir):
    """Runs `fashion-tfx run --profile test --root gs://...` once, from an empty working directory.

    On the canonical data: a model of synthetic data would fail the golden set, and nothing would be pushed.
    """
    root = f"gs://{BUCKET}/{PREFIX}"
    command = [CLI, "run", "--profile", "test", "--data-dir", str(canonical_data_dir), "--root", root]
    process, work, home = run_from_empty_folder(
        [*command, "--stop-after", nodes.TUNER],
        tmp_path_factory.mktemp("bucket-run"),
        gcs_emulator.environment,
    )
    return process, root, work, home


def test_bucket_run_completes(bucket_run):
    process, root, _, _ = bucket_run
    assert process.returncode == 0, process.stderr[-4000:] + process.stdout[-2000:]
    assert f"root {root}" in process.stderr and "Tuner" in process.stdout


def test_every_artifact_and_report_is_in_the_bucket(bucket_run, gcs_emulator):
    process, root, _, home = bucket_run
    assert process.returncode == 0, process.stderr[-4000:]
    from pipeline.metadata import component_runs

    metadata = home / ".local" / "state" / "fashion-tfx" / "gs" / BUCKET / PREFIX / "metadata.sqlite"
    objects = _objects(gcs_emulator, PREFIX + "/")
    runs = component_runs(metadata)
    assert {r.state for r in runs} == {"executed"}
    # Every output artifact of every step lives in the bucket, and those that hold files hold them there.
    assert {r.node_id for r in runs} == {
        "IdxExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "AnomalyGate",
        "ImageUpscaler", "Transform", "Tuner",
    }  # fmt: skip
    # AnomalyGate's verdict may hold nothing; every other output holds its files in the bucket.
    assert outputs_without_objects(runs, root, objects) - {"AnomalyGate.verdict"} == set()
    names = set(objects)
    for split in ("train", "eval", "test"):
        assert_output_holds(runs, objects, "IdxExampleGen", "examples", f"/Split-{split}/data_tfrecord-")
        assert_output_holds(runs, objects, "ImageUpscaler", "examples", f"/Split-{split}/data_tfrecord-")
    assert_output_holds(runs, objects, "ImageUpscaler", "report", "fidelity.png", "fidelity.json")
    assert_output_holds(runs, objects, "Tuner", "tuner_results", "trials.csv", "trials.png")
    assert_output_holds(runs, objects, "Tuner", "best_hyperparameters", "best_hyperparameters.txt")
    assert_output_holds(runs, objects, "Transform", "transform_graph", "transform_fn/saved_model.pb")
    assert_output_holds(runs, objects, "StatisticsGen", "statistics", "Split-train/FeatureStats.pb")
    # Staging folders were emptied once their content was moved into place.
    assert not [n for n in names if "/.staging/" in n or "/.bundles/" in n]


def test_nothing_of_the_run_lands_on_local_disk(bucket_run):
    process, root, work, home = bucket_run
    assert process.returncode == 0, process.stderr[-4000:]
    # ML Metadata (SQLite), the run lock and the run's console log: local by nature, in the state folder
    # named after the root.
    assert_only_run_state_is_local(work, home, root)
    assert local_paths_named("gs:", work, home, REPO) == []
