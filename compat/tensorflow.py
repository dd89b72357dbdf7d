"""TensorFlow's private APIs: keeping a `tf.cond` as one functional If op; whether oneDNN is on.

Checked against tensorflow 2.16.2. `tests/data/test_graph.py` fails if the attribute stops being set or
stops keeping the If op whole in the export; `tests/compat/test_private_apis.py` fails if the oneDNN
check stops following `TF_ENABLE_ONEDNN_OPTS`.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.core.framework import attr_value_pb2
from tensorflow.python.util import _pywrap_util_port

# The attribute by which TensorFlow lowers a functional If op into Switch/Merge nodes inside a function.
LOWER_USING_SWITCH_MERGE = "_lower_using_switch_merge"


def keep_unlowered(op: tf.Operation) -> None:
    """Marks an If/StatelessIf op so that TensorFlow does not lower it (there is no public switch)."""
    op._set_attr(LOWER_USING_SWITCH_MERGE, attr_value_pb2.AttrValue(b=False))


def onednn_enabled() -> bool:
    """Whether this process's TensorFlow runs its oneDNN kernels (fixed when TensorFlow is imported)."""
    return bool(_pywrap_util_port.IsMklEnabled())
