"""The pipeline: its factory, configuration, local runner and command line.

Importing the package (every entry point does it before TensorFlow: `fashion-tfx`, `python -m
pipeline.lineage`, `python -m bench.*`, the tests) sets the environment TensorFlow starts in: the
libraries' start-up noise stays off the terminal, and TensorFlow runs oneDNN's kernels.
"""

import os
import sys
import warnings

# TensorFlow's and gRPC's C++ start-up logging.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
# TensorFlow's oneDNN kernels on every CPU, not only where TensorFlow turns them on itself (CPUs with
# AVX-512 VNNI, AVX-VNNI, bfloat16 units or AMX, such as those most of BENCHMARKS.md was measured on).
# On an AVX2-only CPU its own kernels train both profiles' models at a fraction of oneDNN's speed
# (bench.precision). The user's own setting is kept: ONEDNN_OFF turns them off.
ONEDNN, ONEDNN_ON, ONEDNN_OFF = "TF_ENABLE_ONEDNN_OPTS", "1", "0"
# What TensorFlow accepts (any case); it ignores anything else, and quietly at these log levels.
ONEDNN_VALUES = (ONEDNN_ON, ONEDNN_OFF, "true", "false")
if ONEDNN in os.environ:
    if os.environ[ONEDNN].lower() not in ONEDNN_VALUES:
        sys.stderr.write(
            f"fashion-tfx: WARNING: {ONEDNN}={os.environ[ONEDNN]!r} is not one of "
            f"{', '.join(ONEDNN_VALUES)}: TensorFlow ignores it and picks its own default (oneDNN off on "
            "a CPU without AVX-512 VNNI, AVX-VNNI, bfloat16 units or AMX)\n"
        )
else:
    if "tensorflow" in sys.modules:
        sys.stderr.write(
            f"fashion-tfx: WARNING: TensorFlow was imported before the pipeline package, so "
            f"{ONEDNN}={ONEDNN_ON} comes too late for this process (its child processes get it): import "
            "`pipeline` first, or set it in the environment\n"
        )
    os.environ[ONEDNN] = ONEDNN_ON
# Google's client libraries warn on every start that Python 3.10 support will end (TFX 1.16 needs it).
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
