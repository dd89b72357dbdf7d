"""Submitting a compiled pipeline spec to Vertex AI Pipelines, as google-cloud-aiplatform's PipelineJob.

The same spec `fashion-tfx kubeflow compile` writes for a KFP cluster runs on Vertex AI unchanged; only
the client differs. The job's pipeline root is the spec's own (`--pipeline-root` at compile time), so
artifacts land where a KFP run would put them.
"""

from __future__ import annotations

from pathlib import Path

from kubeflow.submit import SubmittedRun, read_parameters


def vertex_job(
    package: str | Path,
    arguments: dict[str, object] | None = None,
    *,
    project: str,
    location: str,
    display_name: str | None = None,
    credentials=None,
):
    """Builds the Vertex AI PipelineJob of a compiled spec (no call to Google yet).

    Args:
        package: the compiled YAML.
        arguments: run parameter values; the spec's defaults apply to the others.
        project: the Google Cloud project the job runs in.
        location: the Vertex AI region, e.g. europe-west4.
        display_name: the job's name in the console (default: the spec's pipeline name).
        credentials: Google credentials (default: the application default credentials).

    Returns:
        An `aiplatform.PipelineJob`.

    Raises:
        ConfigError: the file is missing or not a KFP YAML spec.
    """
    from google.cloud import aiplatform

    read_parameters(package)
    return aiplatform.PipelineJob(
        display_name=display_name or "fashion-tfx",
        template_path=str(package),
        parameter_values=arguments or {},
        project=project,
        location=location,
        credentials=credentials,
    )


def submit_to_vertex(job, service_account: str | None = None) -> SubmittedRun:
    """Starts a built job on Vertex AI and returns where to watch it (this calls Google).

    Args:
        job: a `vertex_job`.
        service_account: the service account the pipeline's steps run as (default: the project's).
    """
    job.submit(service_account=service_account)
    return SubmittedRun(run_id=job.resource_name, url=console_url(job.project, job.location, job.name))


def console_url(project: str, location: str, job_id: str) -> str:
    """The Google Cloud console page of a Vertex AI pipeline run."""
    return (
        f"https://console.cloud.google.com/vertex-ai/locations/{location}/pipelines/runs/{job_id}"
        f"?project={project}"
    )
