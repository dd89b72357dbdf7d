"""Keras internals a resumed training must carry over: EarlyStopping's progress, the weight average.

EarlyStopping keeps its progress in attributes that are not documented API (`best`, `best_epoch`,
`wait`, `best_weights`) and resets them in `on_train_begin`. An optimiser with `use_ema` keeps the
average of the weights in `_model_variables_moving_average` (the list Keras's own SwapEMAWeights swaps
with the model's trainable variables). Checked against keras 3.12.4. `tests/models/test_resume.py`
fails if they change (a resumed training then stops at another epoch, or continues from other weights).
"""

from __future__ import annotations

from typing import Any

import keras


def early_stopping_state(stopper: keras.callbacks.EarlyStopping) -> dict[str, Any]:
    """Returns what EarlyStopping knows so far, as JSON-ready values (not the best weights)."""
    return {
        "best": None if stopper.best is None else float(stopper.best),
        "best_epoch": int(stopper.best_epoch),
        "wait": int(stopper.wait),
    }


def restore_early_stopping(
    stopper: keras.callbacks.EarlyStopping, state: dict[str, Any], best_weights
) -> None:
    """Puts back a saved `early_stopping_state` (after EarlyStopping's own `on_train_begin` reset it)."""
    stopper.best = state["best"]
    stopper.best_epoch = state["best_epoch"]
    stopper.wait = state["wait"]
    if best_weights is not None:
        stopper.best_weights = best_weights


def _averaging_optimizer(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    # A loss-scale wrapper (float16 training) keeps the average on the optimiser it wraps.
    return getattr(optimizer, "inner_optimizer", optimizer)


def swap_weights_with_average(model: keras.Model) -> None:
    """Swaps the values of `model`'s trainable variables with its optimiser's average of them.

    What `keras.callbacks.SwapEMAWeights` does, for a model whose optimiser has `use_ema` on and is built.
    """
    averages = _averaging_optimizer(model.optimizer)._model_variables_moving_average
    for variable, average in zip(model.trainable_variables, averages, strict=True):
        value = variable.numpy()
        variable.assign(average)
        average.assign(value)


class AverageBetweenEpochs(keras.callbacks.SwapEMAWeights):
    """Keras's SwapEMAWeights (`swap_on_epoch=True`) that says whether the model holds the average now.

    The epoch checkpoint reads `holds_average` rather than assuming the callbacks' order.
    """

    def __init__(self):
        super().__init__(swap_on_epoch=True)

    @property
    def holds_average(self) -> bool:
        """Whether the model's trainable variables hold the average (and the optimiser the raw weights)."""
        return bool(self._ema_weights_in_model)
