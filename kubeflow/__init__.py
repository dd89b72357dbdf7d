"""Compiling and submitting the pipeline to Kubeflow Pipelines."""
