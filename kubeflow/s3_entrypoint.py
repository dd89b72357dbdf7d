"""The pods' command for an `s3://` pipeline root: TFX's V2 container entrypoint with TF's S3 filesystem.

`python -m kubeflow.s3_entrypoint ARGS` is `python -m
tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor ARGS` with tensorflow-io's `s3://`
filesystem registered first (TFX's entrypoint imports nothing that registers it), and the process
ending with the executor's own exit code (`pipeline.s3.exit_process`; tensorflow-io 0.37.1 would
otherwise abort it at exit with code 134 after a successful step).
"""

from __future__ import annotations

import runpy
import sys
import traceback

from kubeflow.runner import TFX_ENTRYPOINT_MODULE
from pipeline.s3 import exit_process, register_s3_filesystem


def main() -> None:
    """Runs TFX's entrypoint as `python -m` would, on this process's arguments, and exits with its code."""
    register_s3_filesystem()
    code = 0
    try:
        runpy.run_module(TFX_ENTRYPOINT_MODULE, run_name="__main__", alter_sys=True)
    except SystemExit as stop:  # absl's app.run ends with sys.exit
        if stop.code is None or isinstance(stop.code, int):
            code = stop.code or 0
        else:  # a message: printed, exit code 1, as Python does
            print(stop.code, file=sys.stderr)
            code = 1
    except Exception:  # noqa: BLE001  (printed as Python would, then the same exit code 1)
        traceback.print_exc()
        code = 1
    exit_process(code)


if __name__ == "__main__":
    main()
