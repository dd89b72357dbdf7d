"""Keras's EarlyStopping internals: the state a resumed training must carry over.

EarlyStopping keeps its progress in attributes that are not documented API (`best`, `best_epoch`,
`wait`, `best_weights`) and resets them in `on_train_begin`. Checked against keras 3.12.4.
`tests/models/test_resume.py` fails if they change (a resumed training then stops at another epoch).
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
