"""The Tuner's defaults-first random search."""

from __future__ import annotations

from models.search_space import DEFAULTS, search_space
from models.settings import ModelSettings
from models.tuner import DefaultsFirstRandomSearchOracle


def test_random_search_tries_the_defaults_first(tmp_path):
    oracle = DefaultsFirstRandomSearchOracle(
        objective="val_accuracy", hyperparameters=search_space(ModelSettings()), max_trials=3, seed=1
    )
    oracle._set_project_dir(str(tmp_path), "search")
    first = oracle.create_trial("worker-a").hyperparameters.values
    second = oracle.create_trial("worker-b").hyperparameters.values
    assert {k: first[k] for k in DEFAULTS} == DEFAULTS
    assert second != first
