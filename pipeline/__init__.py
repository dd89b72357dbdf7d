"""The pipeline: its factory, configuration, local runner and command line.

Importing the package (every entry point does: `fashion-tfx`, `python -m pipeline.lineage`) keeps the
libraries' start-up noise off the terminal, before TensorFlow is imported anywhere.
"""

import os
import warnings

# TensorFlow's and gRPC's C++ start-up logging.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
# TensorFlow's oneDNN kernels on every CPU, not only where TensorFlow turns them on itself (CPUs with
# AVX-512 VNNI or bfloat16 units, or AMX). On an AVX2-only CPU its own kernels leave a core idle much of
# the time; oneDNN trains both profiles' models faster there (bench.precision). `=0` turns them off.
ONEDNN, ONEDNN_ON = "TF_ENABLE_ONEDNN_OPTS", "1"
os.environ.setdefault(ONEDNN, ONEDNN_ON)
# Google's client libraries warn on every start that Python 3.10 support will end (TFX 1.16 needs it).
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
