"""`fashion-tfx kubeflow submit --vertex`: the Vertex AI PipelineJob built from a real compiled spec.

Tested up to the call to Google: the job object (project, region, pipeline root, parameters, the spec
itself) is checked; `job.submit()` itself needs a Google Cloud project and is not run here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials

from kubeflow.submit import parse_arguments, read_parameters
from kubeflow.vertex import console_url, vertex_job
from pipeline import cli, nodes

ROOT = "gs://fashion-bucket/runs"


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("vertex") / "fashion-tfx.yaml"
    argv = [
        "kubeflow",
        "compile",
        "--image",
        "registry.example.com/ml/fashion-tfx:1",
        "--pipeline-root",
        ROOT,
    ]
    assert cli.main([*argv, "--output", str(output), "--profile", "test"]) == 0
    return output


def test_the_vertex_job_runs_the_compiled_spec_in_the_given_project_region_and_root(package):
    declared = read_parameters(package)
    name = next(iter(declared))  # any run parameter the spec declares
    value = declared[name].get("defaultValue")
    arguments = parse_arguments([f"{name}={value}"], declared) if value is not None else {}
    job = vertex_job(
        package,
        arguments,
        project="my-project",
        location="europe-west4",
        display_name="nightly",
        credentials=AnonymousCredentials(),
    )
    assert job.project == "my-project" and job.location == "europe-west4"
    assert job.to_dict()["displayName"] == "nightly"  # what job.submit() sends
    # Artifacts go where a KFP run of the same spec puts them: the root given at compile time.
    assert job.runtime_config.gcs_output_directory == f"{ROOT}/pipeline"
    assert set(job.pipeline_spec["root"]["dag"]["tasks"]) >= {nodes.EXAMPLE_GEN, nodes.TRAINER, nodes.PUSHER}
    for key in arguments:
        assert key in job.runtime_config.parameter_values


def test_the_console_url_names_the_region_run_and_project():
    assert console_url("acme-ml", "europe-west4", "fashion-tfx-2026") == (
        "https://console.cloud.google.com/vertex-ai/locations/europe-west4/pipelines/runs/fashion-tfx-2026"
        "?project=acme-ml"
    )


def test_submit_to_vertex_needs_a_project_and_a_region(package, capsys):
    code = cli.main(["kubeflow", "submit", "--vertex", "--package", str(package), "--region", "europe-west4"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "fashion-tfx: error: --vertex needs --project and --region (the Google Cloud project and region)"
    )


def test_host_and_vertex_are_one_or_the_other(package, capsys):
    with pytest.raises(SystemExit) as exit_code:
        cli.main(["kubeflow", "submit", "--vertex", "--host", "http://kfp:8080", "--package", str(package)])
    assert exit_code.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
