"""The `test` profile with its root in a bucket (a GCS emulator on 127.0.0.1), as on Kubeflow.

The run stops after the Tuner (`fashion-tfx run --stop-after Tuner`): TensorFlow reaches the emulator only
through tensorflow-io-gcs-filesystem 0.37.1, whose reads corrupt its heap against this emulator once
files grow (it crashed writing the Trainer's SavedModel, in tf.saved_model.save's read-back of its
checkpoint and fingerprint; gdb traces in docs/kubeflow.md). The steps after it (Trainer export,
ServingBaseline, Evaluator, Pusher, smoke check) run on a local root in the rehearsal and the
pipeline tests; their bucket IO is the same fileio / tf.io.gfile calls.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
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


def _local_paths_named_gs(*folders: Path) -> list[str]:
    found = []
    for folder in folders:
        for current, dirs, files in os.walk(folder):
            found += [os.path.join(current, n) for n in dirs + files if n.startswith("gs:")]
    return found


@pytest.fixture(scope="module")
def bucket_run(gcs_emulator, tmp_path_factory, canonical_data_dir):
    """Runs `fashion-tfx run --profile test --root gs://...` once, from an empty working directory.

    On the canonical data: a model of synthetic data would fail the golden set, and nothing would be pushed.
    """
    base = tmp_path_factory.mktemp("bucket-run")
    data_dir = canonical_data_dir
    work, home = base / "work", base / "home"
    work.mkdir()
    home.mkdir()
    root = f"gs://{BUCKET}/{PREFIX}"
    env = {**os.environ, **gcs_emulator.environment, "HOME": str(home), "PYTHONUNBUFFERED": "1"}
    command = [CLI, "run", "--profile", "test", "--data-dir", str(data_dir), "--root", root]
    process = subprocess.run(
        [*command, "--stop-after", nodes.TUNER],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
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
    empty_by_design = {("AnomalyGate", "verdict")}
    for run in runs:
        for key, artifacts in run.outputs.items():
            for uri, _ in artifacts:
                assert uri.startswith(f"{root}/pipeline/{run.node_id}/"), (run.node_id, key, uri)
                prefix = uri[len(f"gs://{BUCKET}/") :] + "/"
                held = [name for name in objects if name.startswith(prefix)]
                if (run.node_id, key) not in empty_by_design:
                    assert held, f"{run.node_id}.{key}: nothing in the bucket under {uri}"
    names = set(objects)

    def under(node: str, output: str, *parts: str) -> None:
        run = next(r for r in runs if r.node_id == node)
        uri = run.outputs[output][0][0][len(f"gs://{BUCKET}/") :]
        for part in parts:
            assert any(n.startswith(uri) and part in n[len(uri) :] for n in names), f"{node}: no {part}"

    for split in ("train", "eval", "test"):
        under("IdxExampleGen", "examples", f"/Split-{split}/data_tfrecord-")
        under("ImageUpscaler", "examples", f"/Split-{split}/data_tfrecord-")
    under("ImageUpscaler", "report", "fidelity.png", "fidelity.json")
    under("Tuner", "tuner_results", "trials.csv", "trials.png")
    under("Tuner", "best_hyperparameters", "best_hyperparameters.txt")
    under("Transform", "transform_graph", "transform_fn/saved_model.pb")
    under("StatisticsGen", "statistics", "Split-train/FeatureStats.pb")
    # Staging folders were emptied once their content was moved into place.
    assert not [n for n in names if "/.staging/" in n or "/.bundles/" in n]


def test_nothing_of_the_run_lands_on_local_disk(bucket_run):
    process, root, work, home = bucket_run
    assert process.returncode == 0, process.stderr[-4000:]
    assert sorted(p.name for p in work.iterdir()) == []
    state = home / ".local" / "state" / "fashion-tfx" / "gs" / BUCKET / PREFIX
    # Libraries keep their own caches and settings in the home folder (matplotlib's font list,
    # Keras' config): those are not the run's output.
    library_folders = (".cache/", ".keras/", ".config/")
    local = sorted(
        str(p.relative_to(home))
        for p in home.rglob("*")
        if p.is_file() and not str(p.relative_to(home)).startswith(library_folders)
    )
    # ML Metadata (SQLite), the run lock and the run's console log: local by nature, in the state folder
    # named after the root.
    logs = [name for name in local if name.startswith(str((state / "logs").relative_to(home)) + "/run-")]
    assert len(logs) == 1 and logs[0].endswith(".log"), local
    expected = [str((state / n).relative_to(home)) for n in (".run.lock", "metadata.sqlite")]
    assert sorted(set(local) - set(logs)) == expected
    assert _local_paths_named_gs(work, home, REPO) == []
