"""The compiled `test` spec on an S3 store, run task by task as KFP's launcher runs containers.

The harness is tests/kfp_rehearsal.py; the store is moto's S3 server on 127.0.0.1, and each task
reaches it only through the environment the spec gives its pod (the endpoint in the container's `env`,
the credentials from the secret the platform spec names).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline.config import IN_MEMORY_BEAM_ARGS

# Runs the real pipeline: outside the fast tier (`make test-fast`).
pytestmark = pytest.mark.pipeline

REPO = Path(__file__).resolve().parents[2]
IMAGE = "registry.example.com/ml/fashion-tfx:1.2.3"
# A path of the pod, played by a local folder: the data volume.
POD_DATA = "/mnt/data/fashion-mnist"
PREFIX = "rehearsal"


@pytest.fixture(scope="module")
def rehearsal(s3, tmp_path_factory, canonical_data_dir):
    """Compiles the `test` profile (one Beam worker in memory, as on CI's 2 cores) and rehearses it.

    On the canonical data: a model of synthetic data would fail the golden set, and nothing would be pushed.
    """
    from kfp_rehearsal import rehearse
    from s3_server import BUCKET

    from data.fashion_mnist import locate
    from kubeflow.runner import IMAGE_SOURCE_DIR, compile_spec, kubernetes_platform_spec
    from kubeflow.settings import DEFAULT_S3_SECRET, KubeflowSettings

    base = tmp_path_factory.mktemp("rehearsal")
    data = canonical_data_dir
    root = f"s3://{BUCKET}/{PREFIX}"
    settings = KubeflowSettings(
        image=IMAGE,
        root=root,
        s3_endpoint=s3.endpoint,
        s3_region=s3.environment["AWS_REGION"],
        data_dir=POD_DATA,
        data_fingerprint=locate(str(data), allow_download=False).fingerprint,
        beam_args=IN_MEMORY_BEAM_ARGS,
    )
    spec = compile_spec(settings, "test")
    mounts = {POD_DATA: str(data), IMAGE_SOURCE_DIR: str(REPO)}
    work = base / "work"
    work.mkdir()
    # The cluster's copy of a default install's MinIO secret, holding the S3 server's credentials.
    secret = {
        "accesskey": s3.environment["AWS_ACCESS_KEY_ID"],
        "secretkey": s3.environment["AWS_SECRET_ACCESS_KEY"],
    }
    runs = rehearse(
        spec,
        f"{root}/pipeline",
        mounts,
        work,
        platform=kubernetes_platform_spec(settings, spec),
        secrets={DEFAULT_S3_SECRET: secret},
    )
    return spec, runs, root


def test_every_task_runs_in_dependency_order_and_succeeds(rehearsal):
    spec, runs, _ = rehearsal
    failed = {name: run.stderr[-3000:] for name, run in runs.items() if run.returncode != 0}
    assert not failed, failed
    assert set(runs) == set(spec["root"]["dag"]["tasks"])
    order = list(runs)
    for name, task in spec["root"]["dag"]["tasks"].items():
        assert all(order.index(dep) < order.index(name) for dep in task.get("dependentTasks", []))


def test_outputs_flow_through_executor_output_files(rehearsal, s3):
    from kfp_rehearsal import custom_properties
    from s3_server import BUCKET, bucket_objects

    _, runs, root = rehearsal
    # Examples carry their split names in the executor output's metadata; the upscaler read them.
    examples = runs["IdxExampleGen"].output_artifact("examples")
    assert json.loads(custom_properties(examples)["split_names"]) == ["train", "eval", "test"]
    upscaled = runs["ImageUpscaler"].output_artifact("examples")
    key = upscaled.uri[len(f"s3://{BUCKET}/") :]
    assert upscaled.uri.startswith(f"{root}/pipeline/") and bucket_objects(s3.endpoint, f"{key}/Split-test/")
    # Every artifact was written under the bucket's pipeline root, none elsewhere.
    for run in runs.values():
        for name, artifacts in run.executor_input.outputs.artifacts.items():
            assert artifacts.artifacts[0].uri.startswith(f"{root}/pipeline/"), (run.name, name)
    assert isinstance(runs["Trainer"].executor_output, pipeline_spec_pb2.ExecutorOutput)


def test_the_rehearsal_blesses_and_pushes_a_model(rehearsal, s3):
    from kfp_rehearsal import custom_properties
    from s3_server import BUCKET, bucket_objects

    _, runs, root = rehearsal
    baseline = custom_properties(runs["ServingBaseline"].output_artifact("model"))
    assert baseline["found"] == 0  # nothing served before: the Evaluator applied only the floor
    blessing = custom_properties(runs["Evaluator"].output_artifact("blessing"))
    assert blessing["blessed"] == 1
    pushed = custom_properties(runs["Pusher"].output_artifact("pushed_model"))
    assert pushed["pushed"] == 1
    destination = pushed["pushed_destination"]
    assert destination.rsplit("/", 1)[0] == f"{root}/serving/fashion-tfx"
    assert f"{destination[len(f's3://{BUCKET}/') :]}/saved_model.pb" in bucket_objects(
        s3.endpoint, PREFIX + "/"
    )
    check = json.loads(custom_properties(runs["ServingSmokeCheck"].output_artifact("result"))["result"])
    assert check["checked"] and set(check["signatures"]) == {"serving_default", "predict_images", "embed"}
