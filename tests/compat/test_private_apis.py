"""The fenced private APIs (compat/): each still does what the project relies on, at the pinned versions."""

from __future__ import annotations

import subprocess
import sys

import keras_tuner
import pytest
from support import environment_with
from tfx.dsl.components.base import base_executor

from compat.keras_tuner import hyperband_trials
from compat.tfx import execution_id
from pipeline import ONEDNN, ONEDNN_OFF, ONEDNN_ON


def test_an_executor_context_gives_its_execution_id():
    assert execution_id(base_executor.BaseExecutor.Context(unique_id="17")) == 17
    # Outside an orchestrated run (an executor called directly) there is no execution.
    assert execution_id(base_executor.BaseExecutor.Context()) is None
    assert execution_id(None) is None


def test_hyperband_plans_its_brackets_trials():
    hyperparameters = keras_tuner.HyperParameters()
    hyperparameters.Float("x", 0.0, 1.0)
    oracle = keras_tuner.oracles.HyperbandOracle(
        objective="val_accuracy", max_epochs=3, factor=3, hyperparameters=hyperparameters
    )
    # Li et al. with R = 3, eta = 3: bracket 1 runs 3 one-epoch trials then the best for 3 epochs (+1),
    # bracket 0 runs 2 three-epoch trials.
    assert hyperband_trials(oracle) == 6
    random = keras_tuner.oracles.RandomSearchOracle(objective="val_accuracy", max_trials=4)
    assert hyperband_trials(random) is None


@pytest.mark.parametrize("value, expected", [(None, True), (ONEDNN_OFF, False), (ONEDNN_ON, True)])
def test_oneDNN_follows_the_switch_the_pipeline_package_sets_unless_the_user_set_it(value, expected):
    # Unset, importing `pipeline` before TensorFlow switches oneDNN on; a user's own setting is kept.
    script = "import pipeline; from compat.tensorflow import onednn_enabled; print(onednn_enabled())"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=environment_with(ONEDNN, value),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == str(expected)
