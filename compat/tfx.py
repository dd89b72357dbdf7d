"""TFX's private APIs: the id of the execution an executor runs as, and the V2 entrypoint's class look-up.

Checked against tfx 1.16.0. An executor gets its ML Metadata execution id only as
`BaseExecutor.Context._unique_id` (no getter): `tests/compat/test_tfx.py` fails if that changes.
Kubeflow's V2 entrypoint rebuilds each artifact class from its schema title with a private function:
`tests/kubeflow/test_compile.py` calls it on the compiled spec, and fails if it changes.
"""

from __future__ import annotations

from tfx.dsl.components.base import base_executor


def execution_id(context: base_executor.BaseExecutor.Context | None) -> int | None:
    """Returns the ML Metadata id of the execution `context` belongs to, or None when it has none."""
    unique_id = str(context._unique_id or "") if context else ""
    return int(unique_id) if unique_id.isdigit() else None


def artifact_class_path(schema) -> str:
    """Returns the class path TFX's Kubeflow V2 entrypoint imports for a pipeline spec's artifact type."""
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as entrypoint

    return entrypoint._retrieve_class_path(schema)
