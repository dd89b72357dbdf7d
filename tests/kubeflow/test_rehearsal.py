"""The compiled `test` spec, run task by task as KFP's launcher runs containers (tests/kfp_rehearsal.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kfp.pipeline_spec import pipeline_spec_pb2

# Runs the real pipeline: outside the fast tier (`make test-fast`).
pytestmark = pytest.mark.pipeline

REPO = Path(__file__).resolve().parents[2]
IMAGE = "registry.example.com/ml/fashion-tfx:1.2.3"
# Paths of the pod, each played by a local folder: the pipeline-root volume and a data volume.
POD_ROOT = "/mnt/fashion-tfx"
POD_DATA = "/mnt/data/fashion-mnist"


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory, canonical_data_dir):
    """Compiles the `test` profile (one Beam worker in memory, as on CI's 2 cores) and rehearses it.

    On the canonical data: a model of synthetic data would fail the golden set, and nothing would be pushed.
    """
    from kfp_rehearsal import rehearse

    from data.fashion_mnist import locate
    from kubeflow.runner import IMAGE_SOURCE_DIR, compile_spec
    from kubeflow.settings import KubeflowSettings

    base = tmp_path_factory.mktemp("rehearsal")
    data = canonical_data_dir
    settings = KubeflowSettings(
        image=IMAGE,
        root=POD_ROOT,
        data_dir=POD_DATA,
        data_fingerprint=locate(str(data), allow_download=False).fingerprint,
        beam_args=("--direct_running_mode=in_memory", "--direct_num_workers=1"),
    )
    spec = compile_spec(settings, "test")
    local_root = base / "root"
    mounts = {POD_ROOT: str(local_root), POD_DATA: str(data), IMAGE_SOURCE_DIR: str(REPO)}
    work = base / "work"
    work.mkdir()
    runs = rehearse(spec, f"{local_root}/pipeline", mounts, work)
    return spec, runs, local_root


def test_every_task_runs_in_dependency_order_and_succeeds(rehearsal):
    spec, runs, _ = rehearsal
    failed = {name: run.stderr[-3000:] for name, run in runs.items() if run.returncode != 0}
    assert not failed, failed
    assert set(runs) == set(spec["root"]["dag"]["tasks"])
    order = list(runs)
    for name, task in spec["root"]["dag"]["tasks"].items():
        assert all(order.index(dep) < order.index(name) for dep in task.get("dependentTasks", []))


def test_outputs_flow_through_executor_output_files(rehearsal):
    from kfp_rehearsal import custom_properties

    _, runs, local_root = rehearsal
    # Examples carry their split names in the executor output's metadata; the upscaler read them.
    examples = runs["IdxExampleGen"].output_artifact("examples")
    assert json.loads(custom_properties(examples)["split_names"]) == ["train", "eval", "test"]
    upscaled = runs["ImageUpscaler"].output_artifact("examples")
    assert Path(upscaled.uri, "Split-test").is_dir() and str(local_root) in upscaled.uri
    # Every artifact was written under the local pipeline root, none elsewhere.
    for run in runs.values():
        for key, artifacts in run.executor_input.outputs.artifacts.items():
            assert artifacts.artifacts[0].uri.startswith(f"{local_root}/pipeline/"), (run.name, key)
    assert isinstance(runs["Trainer"].executor_output, pipeline_spec_pb2.ExecutorOutput)


def test_the_rehearsal_blesses_and_pushes_a_model(rehearsal):
    from kfp_rehearsal import custom_properties

    _, runs, local_root = rehearsal
    baseline = custom_properties(runs["ServingBaseline"].output_artifact("model"))
    assert baseline["found"] == 0  # nothing served before: the Evaluator applied only the floor
    blessing = custom_properties(runs["Evaluator"].output_artifact("blessing"))
    assert blessing["blessed"] == 1
    pushed = custom_properties(runs["Pusher"].output_artifact("pushed_model"))
    assert pushed["pushed"] == 1
    destination = Path(pushed["pushed_destination"])
    assert destination.parent == local_root / "serving" / "fashion-tfx"
    assert (destination / "saved_model.pb").is_file()
    check = json.loads(custom_properties(runs["ServingSmokeCheck"].output_artifact("result"))["result"])
    assert check["checked"] and set(check["signatures"]) == {"serving_default", "predict_images", "embed"}
