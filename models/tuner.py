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

from compat.keras_tuner import record_values
from data.plots import save_png, subplots
from models.console import TrialLines
from models.families import build_model, served_base_model, weight_averaging_callbacks
from models.preprocessing import TransformedBatches, read_records
from models.search_space import search_space
from models.settings import FAMILY_PREFIXES, ModelSettings
from models.tensorboard_views import write_hparams_logs
from models.trainer import MONITORED_METRIC, learning_rate_schedule

log = logging.getLogger(__name__)

OBJECTIVE = keras_tuner.Objective(MONITORED_METRIC, direction="max")
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
        """Trains on serialized records `x`, batched by the trial's `batch_size` (a tuned value).

        A trial decays its learning rate over its own epochs, as the Trainer does over its many: the
        score is then that of a finished short training. At a constant rate, 2-epoch trials crown
        whatever learns fastest at first (measured on the full profile: batch 16 at 3e-3 without label
        smoothing, 0.844 against the defaults' 0.803, on 10,000 images).
        """
        size = hp.get("batch_size")
        train = self._batches.dataset(x, size, shuffle=True, seed=self._settings.seed)
        val = self._batches.dataset(validation_data, size, shuffle=False)
        epochs = kwargs.get("epochs", 1)
        # A short trial warms up for at most a quarter of its epochs (none in a 2-epoch trial).
        warmup = min(self._settings.warmup_epochs, epochs // 4)
        schedule = keras.callbacks.LearningRateScheduler(
            learning_rate_schedule(self._settings.schedule, hp.get("learning_rate"), epochs, warmup)
        )
        averaging = weight_averaging_callbacks(self._settings)  # first, so that the trial scores the average
        kwargs["callbacks"] = [*averaging, *kwargs.get("callbacks", []), schedule]
        return model.fit(train, validation_data=val, **kwargs)


class DefaultsFirstRandomSearchOracle(keras_tuner.oracles.RandomSearchOracle):
    """Random search whose first trial is the defaults, so a small search can only add candidates.

    With a budget of a few short trials, random draws alone may all be worse than the measured
    defaults (`search_space.DEFAULTS`); trying the defaults first keeps them in the running.
    """

    def populate_space(self, trial_id):
        if not self.trials:
            values = dict(self.hyperparameters.values)
            record_values(self, values)  # so that no random draw repeats them
            return {"status": keras_tuner.engine.trial.TrialStatus.RUNNING, "values": values}
        return super().populate_space(trial_id)


# The searches, each also logging one line per finished trial for the run's console (see TrialLines).
class _Tuner(TrialLines, keras_tuner.Tuner):
    pass


class _Hyperband(TrialLines, keras_tuner.Hyperband):
    pass


class _BayesianOptimization(TrialLines, keras_tuner.BayesianOptimization):
    pass


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
        return _Hyperband(max_epochs=settings.tuner_epochs, factor=3, hyperband_iterations=1, **common)
    if settings.tuner == "random":
        oracle = DefaultsFirstRandomSearchOracle(max_trials=settings.tuner_trials, **oracle_args)
        return _Tuner(oracle=oracle, **tuner_args)
    return _BayesianOptimization(max_trials=settings.tuner_trials, **common)


# Called by the TFX Tuner.
def tuner_fn(fn_args: tfx.components.FnArgs) -> tfx.components.TunerFnResult:
    """Returns the search and its fit arguments; TFX runs the search and keeps the best hyper-parameters."""
    settings = ModelSettings.from_custom_config(fn_args.custom_config)
    keras.utils.set_random_seed(settings.seed)
    # Each split's PNGs are decoded once, and the trials share the pixels.
    batches = TransformedBatches(tft.TFTransformOutput(fn_args.transform_graph_path), settings.image_size)
    base_model_dir = served_base_model(getattr(fn_args, "base_model", None))
    hypermodel = FashionHyperModel(settings, batches, base_model_dir)
    tuner = make_tuner(settings, hypermodel, fn_args.working_dir)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor=MONITORED_METRIC, mode="max", patience=settings.patience
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
    """Returns one row per trial in order: number (1, 2, …), id, status, score, epochs, hyper-parameters."""
    rows = []
    for trial in sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id):
        values = {k: v for k, v in trial.hyperparameters.values.items()}
        rows.append(
            {
                "trial": len(rows) + 1,
                "trial_id": trial.trial_id,
                "status": trial.status,
                "score": trial.score,
                "best_step": trial.best_step,
                **values,
            }
        )
    return rows


def tuned_ranges(
    space: keras_tuner.HyperParameters | None, rows: list[dict[str, Any]]
) -> dict[str, list | tuple[float, float]]:
    """Returns each hyper-parameter the search could vary, with what it could take.

    Choices and integers map to the list of their possible values, real numbers to (min, max). Without
    the space (an old trials.json), the values that differ between trials, as lists.
    """
    if space is None:
        keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in TRIAL_COLUMNS]
        seen = {k: sorted({r.get(k) for r in rows}, key=str) for k in keys if not k.startswith("tuner/")}
        return {k: v for k, v in seen.items() if len(v) > 1}
    ranges: dict[str, list | tuple[float, float]] = {}
    for hp in space.space:
        if isinstance(hp, keras_tuner.engine.hyperparameters.Float):
            if hp.min_value != hp.max_value:
                ranges[hp.name] = (hp.min_value, hp.max_value)
            continue
        values = list(hp.values) if hasattr(hp, "values") else []
        if len(values) > 1:
            ranges[hp.name] = sorted(values, key=lambda v: (str(type(v)), v))
    return ranges


TRIAL_COLUMNS = ("trial", "trial_id", "status", "score", "best_step")


def plot_trials(
    rows: list[dict[str, Any]], path: str, ranges: dict[str, list | tuple[float, float]] | None = None
) -> None:
    """Saves a PNG: the score by trial number, then the score against each tuned hyper-parameter.

    Each point is a trial, labelled with its number (the `trial` column of trials.csv) and coloured by
    model family; the best trial is ringed. Real-valued hyper-parameters span their search range;
    choices and integers get one tick per possible value, tried or not.
    """
    from matplotlib.ticker import MaxNLocator

    scored = [r for r in rows if r["score"] is not None]
    ranges = ranges if ranges is not None else tuned_ranges(None, rows)
    # A family's own parameters (cnn_*, fcnn_*) only matter if some trial built that family.
    families_tried = {str(r.get("family")) for r in scored}
    names = [n for n in ranges if not n.startswith(FAMILY_PREFIXES) or n.split("_")[0] in families_tried]
    panels = 1 + len(names)
    columns = min(4, panels)
    lines = -(-panels // columns)
    fig, axes = subplots(lines, columns, figsize=(3.6 * columns, 3.0 * lines), squeeze=False)
    families = sorted({str(r.get("family", "?")) for r in scored})
    colours = {family: f"C{i}" for i, family in enumerate(families)}
    best = max(scored, key=lambda r: r["score"]) if scored else None

    def draw(ax, xs, title, categories=None):
        for row, x in zip(scored, xs, strict=True):
            ax.scatter([x], [row["score"]], color=colours[str(row.get("family", "?"))], zorder=3)
            ax.annotate(
                str(row["trial"]), (x, row["score"]), textcoords="offset points", xytext=(4, 3), fontsize=8
            )
            if row is best:
                ax.scatter([x], [row["score"]], s=180, facecolors="none", edgecolors="k", zorder=4)
        if categories is not None:
            labels = [f"{c:g}" if isinstance(c, float) else str(c) for c in categories]
            ax.set_xticks(range(len(categories)), labels)
        ax.set_title(title, fontsize=10)
        ax.margins(y=0.15)
        ax.grid(alpha=0.3)

    ax0 = axes[0][0]
    draw(ax0, [r["trial"] for r in scored], "by trial number")
    ax0.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax0.set_xlabel("trial")
    ax0.set_ylabel(OBJECTIVE.name)
    for i, name in enumerate(names, start=1):
        ax = axes[i // columns][i % columns]
        values = [r.get(name) for r in scored]
        possible = ranges[name]
        if isinstance(possible, tuple):
            draw(ax, values, name)
            margin = (possible[1] - possible[0]) * 0.05
            ax.set_xlim(possible[0] - margin, possible[1] + margin)
        else:
            categories = list(possible) + sorted({v for v in values if v not in possible}, key=str)
            draw(ax, [categories.index(v) for v in values], name, categories)
            ax.set_xlim(-0.5, len(categories) - 0.5)
    for j in range(panels, lines * columns):
        axes[j // columns][j % columns].axis("off")
    for family, colour in colours.items():
        ax0.scatter([], [], color=colour, label=family)
    if colours:
        ax0.legend(fontsize=8, title="family", title_fontsize=8)
    headline = f"{len(scored)} tuning trials, {OBJECTIVE.name} against each tuned hyper-parameter"
    if best is not None:
        headline += f"; best: trial {best['trial']} ({best['score']:.3f}, ringed)"
    fig.suptitle(headline, fontsize=11)
    save_png(fig, path)


def export_trials(tuner: keras_tuner.Tuner, directory: str) -> list[dict[str, Any]]:
    """Writes the trials as `trials.csv`, `trials.json`, `trials.png` and TensorBoard HParams logs."""
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
    ranges = tuned_ranges(tuner.oracle.hyperparameters, rows)
    plot_trials(rows, os.path.join(directory, TRIALS_PNG), ranges)
    write_hparams_logs(rows, ranges, directory, OBJECTIVE.name)
    return rows
