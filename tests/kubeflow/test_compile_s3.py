"""Compiling for an S3 store (MinIO or AWS S3): the pods' endpoint, credentials and entrypoint."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from kubeflow import runner
from kubeflow.settings import DEFAULT_S3_SECRET, S3_SECRET_KEYS_TO_ENV, default_beam_args
from pipeline import cli
from pipeline.config import IN_MEMORY_BEAM_ARGS, MULTI_PROCESS_BEAM_ARGS

IMAGE = "registry.example.com/ml/fashion-tfx:1.2.3"
ROOT = "s3://mlpipeline/fashion-tfx"
ENDPOINT = "http://minio-service.kubeflow:9000"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def compiled_s3(tmp_path_factory) -> tuple[Path, list[dict]]:
    """Compiles the `test` profile once through the CLI for a default install's MinIO."""
    work = tmp_path_factory.mktemp("kfp-compile-s3")
    output = work / "fashion-tfx.yaml"
    argv = ["kubeflow", "compile", "--image", IMAGE, "--pipeline-root", ROOT, "--output", str(output)]
    argv += ["--profile", "test", "--s3-endpoint", ENDPOINT, "--s3-region", REGION]
    assert cli.main(argv) == 0
    return output, list(yaml.safe_load_all(output.read_text()))


def _containers(spec: dict) -> dict[str, dict]:
    return {
        label: e["container"] for label, e in spec["deploymentSpec"]["executors"].items() if "container" in e
    }


def test_every_task_gets_the_endpoint_and_runs_the_s3_entrypoint(compiled_s3):
    _, (spec, _) = compiled_s3
    assert spec["defaultPipelineRoot"] == f"{ROOT}/pipeline"
    containers = _containers(spec)
    assert len(containers) == len(spec["deploymentSpec"]["executors"]) >= 10
    for label, container in containers.items():
        assert container["command"] == ["python", "-m", runner.S3_ENTRYPOINT_MODULE], label
        env = {item["name"]: item["value"] for item in container["env"]}
        assert env == {
            "S3_ENDPOINT": ENDPOINT,
            "AWS_ENDPOINT_URL": ENDPOINT,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }, label
    assert importlib.util.find_spec(runner.S3_ENTRYPOINT_MODULE) is not None


def test_the_pods_run_beam_in_their_own_process_on_s3(compiled_s3):
    # Beam's worker processes would not load tensorflow-io, so TensorFlow in them could not open s3://.
    _, (spec, _) = compiled_s3
    for label, container in _containers(spec).items():
        assert all(arg in container["args"] for arg in IN_MEMORY_BEAM_ARGS), label
        assert not any(arg in container["args"] for arg in MULTI_PROCESS_BEAM_ARGS), label
    assert default_beam_args("gs://bucket/runs") == MULTI_PROCESS_BEAM_ARGS


def test_every_task_gets_the_credentials_from_the_secret(compiled_s3):
    from google.protobuf import json_format
    from kfp.kubernetes import kubernetes_executor_config_pb2 as kubernetes_pb2

    path, (spec, platform) = compiled_s3
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(_containers(spec))
    for label, config in executors.items():
        message = json_format.ParseDict(config, kubernetes_pb2.KubernetesExecutorConfig())
        assert [s.secret_name for s in message.secret_as_env] == [DEFAULT_S3_SECRET], label
        pairs = {m.secret_key: m.env_var for m in message.secret_as_env[0].key_to_env}
        assert (
            pairs
            == S3_SECRET_KEYS_TO_ENV
            == {"accesskey": "AWS_ACCESS_KEY_ID", "secretkey": "AWS_SECRET_ACCESS_KEY"}
        )
    # kfp's client reads both documents, as it does before uploading.
    from compat.kfp import read_pipeline_file

    document = read_pipeline_file(str(path))
    assert set(document.platform_spec.platforms["kubernetes"].deployment_spec.executors) == set(executors)


def test_the_secret_entry_is_what_kfp_kubernetes_writes(compiled_s3, tmp_path):
    """kfp-kubernetes' `use_secret_as_env` on a KFP task, compiled by kfp, gives the same executor config."""
    from kfp import compiler, dsl, kubernetes

    @dsl.container_component
    def step():
        return dsl.ContainerSpec(image=IMAGE, command=["true"])

    @dsl.pipeline(name="secret-check")
    def pipeline():
        kubernetes.use_secret_as_env(
            step(), secret_name=DEFAULT_S3_SECRET, secret_key_to_env=S3_SECRET_KEYS_TO_ENV
        )

    package = tmp_path / "kfp.yaml"
    compiler.Compiler().compile(pipeline, str(package))
    kfp_platform = list(yaml.safe_load_all(package.read_text()))[1]
    (kfp_config,) = kfp_platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values()
    _, (_, platform) = compiled_s3
    for config in platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values():
        assert config == kfp_config


def test_a_gs_root_compiles_as_before_without_a_platform_spec(tmp_path):
    settings = runner.KubeflowSettings(image=IMAGE, root="gs://bucket/runs")
    spec = runner.compile_spec(settings, "test")
    assert runner.kubernetes_platform_spec(settings, spec) is None
    for container in _containers(spec).values():
        assert container["command"] == ["python", "-m", runner.TFX_ENTRYPOINT_MODULE]
        assert "env" not in container


@pytest.mark.parametrize(
    "root, reason",
    [
        ("/mnt/fashion-tfx", "KFP's launcher accepts no volume path"),
        ("minio://mlpipeline/v2/artifacts", "minio:// roots are not supported; use s3://BUCKET/PATH"),
        ("hdfs://namenode/runs", "must be a gs:// or s3:// URI"),
    ],
)
def test_a_root_kfp_refuses_is_refused_in_one_line(root, reason, tmp_path, capsys):
    output = tmp_path / "spec.yaml"
    argv = ["kubeflow", "compile", "--image", IMAGE, "--pipeline-root", root, "--output", str(output)]
    assert cli.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fashion-tfx: error: ") and reason in lines[0], lines
    assert list(tmp_path.iterdir()) == []
