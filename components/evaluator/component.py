"""GoldenSetEvaluator: TFX's Evaluator, whose blessing also requires the golden set (see executor.py)."""

from __future__ import annotations

from tfx.components import Evaluator
from tfx.dsl.components.base import executor_spec

from components.evaluator.executor import Executor


class GoldenSetEvaluator(Evaluator):
    """TFX's Evaluator with the same inputs and outputs; blesses only models that pass the golden set."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
