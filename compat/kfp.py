"""The Kubeflow Pipelines client's private reading of a pipeline file, as `kfp.Client` uploads it.

Checked against kfp 2.5.0. The compile test (`tests/kubeflow/test_compile.py`) reads the compiled spec
the way the client does before an upload, and fails if this changes.
"""

from __future__ import annotations


def read_pipeline_file(path: str):
    """Returns the PipelineJob message `kfp.Client` builds from a compiled pipeline YAML."""
    from kfp.client import client as kfp_client

    return kfp_client._extract_pipeline_yaml(path)
