"""The pods' command for an `s3://` pipeline root: TFX's V2 container entrypoint with TF's S3 filesystem.

`python -m kubeflow.s3_entrypoint ARGS` is `python -m
tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor ARGS` with tensorflow-io's `s3://`
filesystem registered first (TFX's entrypoint imports nothing that registers it), and the process
ending with the executor's own exit code (`pipeline.s3.exit_process`; tensorflow-io 0.37.1 would
otherwise abort it at exit with code 134 after a successful step).
"""

from __future__ import annotations

import runpy

from kubeflow.runner import TFX_ENTRYPOINT_MODULE
from pipeline.s3 import exit_after, register_s3_filesystem


def run_tfx_entrypoint() -> None:
    """Runs TFX's V2 container entrypoint as `python -m` would, on this process's arguments."""
    runpy.run_module(TFX_ENTRYPOINT_MODULE, run_name="__main__", alter_sys=True)


def main() -> None:
    """Registers TensorFlow's S3 filesystem, runs TFX's entrypoint and exits with its code."""
    register_s3_filesystem()
    exit_after(run_tfx_entrypoint)


if __name__ == "__main__":
    main()
