"""Tuner, the component class: TFX's Tuner with the trial-exporting executor (`tuner_fn` is in models/)."""

from __future__ import annotations

from tfx.components.tuner import component as tuner_component
from tfx.dsl.components.base import executor_spec

from components.tuner.executor import TrialExportingExecutor


class Tuner(tuner_component.Tuner):
    """TFX's Tuner component whose executor also exports the trials (see `TrialExportingExecutor`)."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(TrialExportingExecutor)
