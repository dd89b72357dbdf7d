"""Keras Tuner's private oracle API: Hyperband's trial plan and recording a trial's values.

Checked against keras-tuner 1.4.8. `tests/models/test_tuner.py` fails if either changes (the defaults
tried first, and the planned trial count of a Hyperband search).
"""

from __future__ import annotations

import keras_tuner


def hyperband_trials(oracle: keras_tuner.Oracle) -> int | None:
    """Returns how many trials a Hyperband search runs (its brackets' rounds added up); None otherwise."""
    if not hasattr(oracle, "_get_num_brackets"):
        return None
    # Hyperband (Li et al.): every round of every bracket starts new trials (continuing the best).
    brackets = oracle._get_num_brackets()
    rounds = [oracle._get_num_rounds(b) for b in range(brackets)]
    sizes = [oracle._get_size(b, r) for b in range(brackets) for r in range(rounds[b])]
    return sum(sizes) * oracle.hyperband_iterations


def record_values(oracle: keras_tuner.Oracle, values: dict) -> None:
    """Records hyper-parameter values as tried, so that no random draw repeats them."""
    oracle._duplicate(values)


def set_project_dir(oracle: keras_tuner.Oracle, directory: str, project_name: str) -> None:
    """Gives a stand-alone oracle its folder (a Tuner does this itself; tests drive an oracle alone)."""
    oracle._set_project_dir(directory, project_name)
