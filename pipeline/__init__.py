"""The pipeline: its factory, configuration, local runner and command line.

Importing the package (every entry point does: `fashion-tfx`, `python -m pipeline.lineage`) keeps the
libraries' start-up noise off the terminal, before TensorFlow is imported anywhere.
"""

import os
import warnings

# TensorFlow's and gRPC's C++ start-up logging.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
# Google's client libraries warn on every start that Python 3.10 support will end (TFX 1.16 needs it).
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
