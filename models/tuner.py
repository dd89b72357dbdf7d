"""The TFX Tuner's entry point (`tuner_fn`), and a Tuner that also exports its trials (CSV, JSON, plot)."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from typing import Any

import keras
import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx.components.tuner import component as tuner_component
from tfx.components.tuner import executor as tuner_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_component_specs

from fashion_tfx.models.families import build_model, served_base_model
from fashion_tfx.models.plots import save_png, subplots
from fashion_tfx.models.preprocessing import TransformedBatches, read_records
from fashion_tfx.models.search_space import ModelSettings, search_space

log = logging.getLogger(__name__)

OBJECTIVE = keras_tuner.Objective("val_accuracy", direction="max")
TRIALS_CSV, TRIALS_JSON, TRIALS_PNG = "trials.csv", "trials.json", "trials.png"


class FashionHyperModel(keras_tuner.HyperModel):
    """Builds a model per trial and feeds it batches of the trial's own batch size."""

    def __init__(self, settings: ModelSettings, batches: TransformedBatches, base_model_dir: str | None):
        super().__init__(name="fashion")
        self._settings = settings
        self._batches = batches
        self._base_model_dir = base_model_dir

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        return build_model(hp, self._settings, base_model_dir=self._base_model_dir)

    def fit(self, hp, model, x, validation_data, **kwargs):
        """Trains on serialized records `x`, batched by the trial's `batch_size` (a tuned value)."""
        size = hp.get("batch_size")
        train = self._batches.dataset(x, size, shuffle=True, seed=self._settings.seed)
        val = self._batches.dataset(validation_data, size, shuffle=False)
        return model.fit(train, validation_data=val, **kwargs)


class DefaultsFirstRandomSearchOracle(keras_tuner.oracles.RandomSearchOracle):
    """Random search whose first trial is the defaults, so a small search can only add candidates.

    With a budget of a few short trials, random draws alone may all be worse than the measured
    defaults (`search_space.DEFAULTS`); trying the defaults first keeps them in the running.
    """

    def populate_space(self, trial_id):
        if not self.trials:
            values = dict(self.hyperparameters.values)
            self._duplicate(values)  # records them, so no random draw repeats them
            return {"status": keras_tuner.engine.trial.TrialStatus.RUNNING, "values": values}
        return super().populate_space(trial_id)


def make_tuner(settings: ModelSettings, hypermodel: keras_tuner.HyperModel, directory: str):
    """Returns the configured Keras Tuner search (Hyperband, RandomSearch or BayesianOptimization).

    RandomSearch starts from the defaults (see `DefaultsFirstRandomSearchOracle`).
    """
    oracle_args = dict(
        objective=OBJECTIVE,
        hyperparameters=search_space(settings),
        allow_new_entries=False,
        tune_new_entries=False,
        seed=settings.seed,
    )
    tuner_args = dict(
        hypermodel=hypermodel, directory=directory, project_name="fashion_tuning", overwrite=True
    )
    common = {**oracle_args, **tuner_args}
    if settings.tuner == "hyperband":
        return keras_tuner.Hyperband(
            max_epochs=settings.tuner_epochs, factor=3, hyperband_iterations=1, **common
        )
    if settings.tuner == "random":
        oracle = DefaultsFirstRandomSearchOracle(max_trials=settings.tuner_trials, **oracle_args)
        return keras_tuner.Tuner(oracle=oracle, **tuner_args)
    return keras_tuner.BayesianOptimization(max_trials=settings.tuner_trials, **common)


# Called by the TFX Tuner.
def tuner_fn(fn_args: tfx.components.FnArgs) -> tfx.components.TunerFnResult:
    """Returns the search and its fit arguments; TFX runs the search and keeps the best hyper-parameters."""
    settings = ModelSettings.from_custom_config(fn_args.custom_config)
    keras.utils.set_random_seed(settings.seed)
    batches = TransformedBatches(tft.TFTransformOutput(fn_args.transform_graph_path))
    base_model_dir = served_base_model(getattr(fn_args, "base_model", None))
    hypermodel = FashionHyperModel(settings, batches, base_model_dir)
    tuner = make_tuner(settings, hypermodel, fn_args.working_dir)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=settings.patience
    )
    return tfx.components.TunerFnResult(
        tuner=tuner,
        fit_kwargs={
            "x": read_records(fn_args.train_files, cap=settings.tuner_train_cap),
            "validation_data": read_records(fn_args.eval_files),
            "epochs": settings.tuner_epochs,
            "callbacks": [early_stopping],
            "verbose": 2,
        },
    )


def trial_rows(tuner: keras_tuner.Tuner) -> list[dict[str, Any]]:
    """Returns one row per trial: id, status, score, epochs trained and its hyper-parameters."""
    rows = []
    for trial in tuner.oracle.trials.values():
        values = {k: v for k, v in trial.hyperparameters.values.items()}
        rows.append(
            {
                "trial_id": trial.trial_id,
                "status": trial.status,
                "score": trial.score,
                "best_step": trial.best_step,
                **values,
            }
        )
    return sorted(rows, key=lambda r: r["trial_id"])


def plot_trials(rows: list[dict[str, Any]], path: str) -> None:
    """Saves a PNG: each trial's validation accuracy in trial order, coloured by family, best marked."""
    scored = [r for r in rows if r["score"] is not None]
    fig, ax = subplots(figsize=(8, 4))
    for family in sorted({r.get("family", "?") for r in scored}):
        points = [(i, r["score"]) for i, r in enumerate(scored) if r.get("family", "?") == family]
        ax.scatter([p[0] for p in points], [p[1] for p in points], label=family)
    if scored:
        best = max(range(len(scored)), key=lambda i: scored[i]["score"])
        ax.annotate(
            f"best {scored[best]['score']:.3f}",
            (best, scored[best]["score"]),
            textcoords="offset points",
            xytext=(5, 5),
        )
    ax.set_xlabel("trial")
    ax.set_ylabel(OBJECTIVE.name)
    ax.set_title(f"{len(scored)} tuning trials")
    ax.grid(alpha=0.3)
    ax.legend()
    save_png(fig, path)


def export_trials(tuner: keras_tuner.Tuner, directory: str) -> list[dict[str, Any]]:
    """Writes the trials as `trials.csv`, `trials.json` and `trials.png` into `directory`."""
    rows = trial_rows(tuner)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    with tf.io.gfile.GFile(os.path.join(directory, TRIALS_CSV), "w") as out:
        out.write(text.getvalue())
    with tf.io.gfile.GFile(os.path.join(directory, TRIALS_JSON), "w") as out:
        json.dump(rows, out, indent=1)
    plot_trials(rows, os.path.join(directory, TRIALS_PNG))
    return rows


class TrialExportingExecutor(tuner_executor.Executor):
    """TFX's Tuner executor, plus the trials table and plot written beside `tuner_results.json`."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        tuner = tuner_executor.search(input_dict, exec_properties, self._get_tmp_dir())
        if tuner.oracle.max_trials is None:
            # Hyperband sets no trial budget, and TFX's writer compares the trial count with it.
            tuner.oracle.max_trials = len(tuner.oracle.trials)
        tuner_executor.write_best_hyperparameters(tuner, output_dict)
        results = artifact_utils.get_single_uri(output_dict[standard_component_specs.TUNER_RESULTS_KEY])
        export_trials(tuner, results)


class Tuner(tuner_component.Tuner):
    """TFX's Tuner component whose executor also exports the trials (see `TrialExportingExecutor`)."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(TrialExportingExecutor)
