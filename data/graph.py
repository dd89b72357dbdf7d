"""Graph-building helpers shared by the Transform graph and the serving graph."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from compat.tensorflow import keep_unlowered


def branch(pred: tf.Tensor, true_fn: Callable[[], tf.Tensor], false_fn: Callable[[], tf.Tensor]) -> tf.Tensor:
    """`tf.cond` kept as one functional If op, not lowered into Switch/Merge nodes.

    Lowered (TensorFlow's default inside a tf.function), a branch turns the whole served graph into a
    control-flow graph: in a one-off timing (TF2, in-process, interleaved calls) the classifier behind
    one ran 1.26× slower at one image (0.47 ms) and 1.07× at 64, against 1.01× and 1.00× kept whole.
    `tests/data/test_graph.py` checks the attribute in the export; `bench.serving` measures the
    served graph.

    Only for single-tensor branches (the callers' case).
    """
    result = tf.cond(pred, true_fn, false_fn)
    if tf.executing_eagerly():
        return result
    op = result.op
    while op.type == "Identity":  # tf.cond returns the If op's output through an Identity
        op = op.inputs[0].op
    if op.type in ("If", "StatelessIf"):  # a TF1 graph builds Switch/Merge directly: nothing to keep
        keep_unlowered(op)
    return result
