"""Submitting a compiled spec (with a fake kfp client) and validating the Kubeflow settings."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest
import yaml

from kubeflow import submit
from kubeflow.settings import KubeflowSettings, Resources, validate_root
from pipeline.config import ConfigError

SPEC = {
    "pipelineInfo": {"name": "fashion-tfx"},
    "deploymentSpec": {"executors": {}},
    "root": {
        "inputDefinitions": {"parameters": {"idx_example_gen_seed": {"parameterType": "NUMBER_INTEGER"}}}
    },
}


class FakeClient:
    """Records what `kfp.Client` would have been asked."""

    calls: list[tuple] = []

    def __init__(self, host: str, namespace: str | None = None):
        self.host = host

    def create_run_from_pipeline_package(self, pipeline_file, **kwargs):
        FakeClient.calls.append((self.host, pipeline_file, kwargs))
        return types.SimpleNamespace(run_id="run-123")


@pytest.fixture
def package(tmp_path: Path) -> Path:
    path = tmp_path / "fashion-tfx.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    return path


def test_submit_uploads_the_package_with_its_arguments(package):
    FakeClient.calls.clear()
    arguments = submit.parse_arguments(["idx_example_gen_seed=7"], submit.read_parameters(package))
    run = submit.submit("http://kfp:8080/", package, arguments, run_name="r1", client_factory=FakeClient)
    assert run.run_id == "run-123"
    assert run.url == "http://kfp:8080/#/runs/details/run-123"
    ((host, path, kwargs),) = FakeClient.calls
    assert (host, path) == ("http://kfp:8080/", str(package))
    assert kwargs["arguments"] == {"idx_example_gen_seed": 7}
    assert kwargs["experiment_name"] == "fashion-tfx" and kwargs["run_name"] == "r1"


def test_unknown_or_malformed_parameters_are_refused(package):
    declared = submit.read_parameters(package)
    with pytest.raises(ConfigError, match="no run parameter 'seed'"):
        submit.parse_arguments(["seed=7"], declared)
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        submit.parse_arguments(["idx_example_gen_seed"], declared)
    # Checked against the declared type before anything is sent (more cases in test_bad_flags.py).
    with pytest.raises(ConfigError, match="idx_example_gen_seed must be an integer, got 'abc'"):
        submit.parse_arguments(["idx_example_gen_seed=abc"], declared)


def test_a_missing_or_foreign_package_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        submit.read_parameters(tmp_path / "none.yaml")
    other = tmp_path / "other.yaml"
    other.write_text("a: 1\n")
    with pytest.raises(ConfigError, match="not a KFP pipeline spec"):
        submit.read_parameters(other)


@pytest.mark.parametrize("root", ["gs://bucket/runs", "s3://bucket/runs", "gs://bucket/runs/"])
def test_storage_roots_keep_their_form(root):
    value = validate_root(root)
    assert str(value / "pipeline") == root.rstrip("/") + "/pipeline"


@pytest.mark.parametrize(
    "root, reason",
    [
        ("runs/local", "must be a gs:// or s3:// URI"),
        ("/mnt/fashion-tfx", "KFP's launcher accepts no volume path"),
        ("http://host/x", "must be a gs:// or s3:// URI"),
        ("gs://", "names no bucket"),
        ("gs:///x", "names no bucket"),
        ("s3:///x", "names no bucket"),
        ("minio://mlpipeline/v2/artifacts", "use s3://BUCKET/PATH with --s3-endpoint"),
        ("gs://b/a/../etc", "'.'/'..' segments"),
        ("s3://b/a b", "whitespace"),
    ],
)
def test_bad_roots_are_refused(root, reason):
    with pytest.raises(ConfigError, match=re.escape(reason)):
        validate_root(root)


@pytest.mark.parametrize(
    "changes",
    [
        dict(image="fashion-tfx"),  # no tag
        dict(image="ghcr.io/acme/fashion-tfx:latest"),
        dict(data_dir="relative/idx"),
        dict(beam_args=("runner=DataflowRunner",)),
        dict(beam_args=("--executor_class_path=x",)),
        dict(runtime_parameters=("seed",)),
        dict(s3_endpoint="http://minio:9000"),  # s3 settings with a gs:// root
        dict(root="s3://b/r", s3_endpoint="minio-service:9000"),  # no scheme
        dict(root="s3://b/r", s3_endpoint="http://minio:9000/path"),
        dict(root="s3://b/r", s3_region="US East"),
        dict(root="s3://b/r", s3_secret="Not_A_Secret"),
    ],
)
def test_bad_settings_are_refused(changes):
    with pytest.raises(ConfigError):
        KubeflowSettings(**{"image": "ghcr.io/acme/fashion-tfx:0.1.0", "root": "gs://b/r", **changes})


def test_resources_parse_and_validate():
    assert Resources.parse("4,16") == Resources(4.0, 16.0)
    for text in ("4", "a,b", "0,1", "1,-2"):
        with pytest.raises(ConfigError):
            Resources.parse(text)
    settings = KubeflowSettings(image="ghcr.io/a/b@sha256:" + "0" * 64, root="s3://b/x")
    assert settings.resources_for("Trainer") == Resources(4, 16)
    assert settings.resources_for("StatisticsGen") == settings.default_resources
