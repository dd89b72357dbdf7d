"""`branch`: a tf.cond kept whole as one If op, in the functions the serving model saves."""

from __future__ import annotations

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from data.graph import branch


def _ifs(graph_def) -> list:
    nodes = list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]
    return [n for n in nodes if n.op in ("If", "StatelessIf")]


def test_branch_answers_like_cond_and_is_kept_unlowered():
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def pick(x):
        return branch(tf.size(x) > 1, lambda: x * 2.0, lambda: x * 3.0)

    assert pick(tf.constant([1.0, 2.0])).numpy().tolist() == [2.0, 4.0]
    assert pick(tf.constant([1.0])).numpy().tolist() == [3.0]
    ifs = _ifs(pick.get_concrete_function().graph.as_graph_def())
    assert len(ifs) == 1 and ifs[0].attr["_lower_using_switch_merge"].b is False
    assert branch(tf.constant(True), lambda: tf.constant(1), lambda: tf.constant(2)).numpy() == 1  # eagerly


def test_the_served_model_saves_every_branch_unlowered(tiny_model_dir):
    saved = saved_model_pb2.SavedModel.FromString((tiny_model_dir / "saved_model.pb").read_bytes())
    ifs = _ifs(saved.meta_graphs[0].graph_def)
    assert ifs, "serving_default branches on the request (one image or a batch)"
    lowered = [n.name for n in ifs if n.attr["_lower_using_switch_merge"].b]
    assert not lowered, f"lowered into Switch/Merge: {lowered}"
