"""The hyper-parameter search space and its defaults (the settings it is built from: `models.settings`)."""

from __future__ import annotations

import math
from typing import Any

import keras_tuner

from models.settings import BATCH_SIZES, LEARNING_RATES, MAX_AUGMENT_PROBABILITY, ModelSettings

# Defaults: what the Trainer uses when no Tuner runs, and where every search starts.
# The learning rate's and the augmentation probability's defaults are settings (`ModelSettings`), so a
# profile can change them.
DEFAULTS: dict[str, Any] = {
    "dropout": 0.3,
    "embedding_dim": 128,
    "cnn_blocks": 3,
    "cnn_filters": 32,
    "cnn_convs_per_block": 2,
    "fcnn_layers": 2,
    "fcnn_units": 256,
    "resnet_blocks": 3,
    "resnet_width": 16,
    "label_smoothing": 0.1,
}


def max_cnn_blocks(image_size: int, stem: int) -> int:
    """Returns how many 2× pooling blocks fit after the stem while keeping a feature map of ≥ 2×2."""
    return max(1, int(math.log2(max(2, image_size // stem))) - 1)


def search_space(settings: ModelSettings) -> keras_tuner.HyperParameters:
    """Returns the hyper-parameters to search, each starting from its default.

    Every parameter is declared unconditionally (a family ignores the others' parameters) so that
    all three tuners and the Trainer's defaults see one flat space.
    """
    hp = keras_tuner.HyperParameters()
    hp.Choice("family", list(settings.families), default=settings.families[0])
    hp.Choice("stem", list(settings.stems), default=settings.stems[0])
    rates = sorted({*LEARNING_RATES[settings.optimizer], float(settings.learning_rate)}, reverse=True)
    hp.Choice("learning_rate", rates, default=float(settings.learning_rate))
    hp.Float("dropout", 0.0, 0.5, step=0.1, default=DEFAULTS["dropout"])
    batch_sizes = [b for b in BATCH_SIZES if b <= settings.batch_size]
    hp.Choice("batch_size", batch_sizes, default=settings.batch_size)
    hp.Float(
        "augment_probability", 0.0, MAX_AUGMENT_PROBABILITY, step=0.1, default=settings.augment_probability
    )
    hp.Choice("embedding_dim", [64, 128, 256], default=DEFAULTS["embedding_dim"])
    hp.Int("cnn_blocks", 2, 4, default=DEFAULTS["cnn_blocks"])
    hp.Choice("cnn_filters", [16, 32, 64], default=DEFAULTS["cnn_filters"])
    hp.Int("cnn_convs_per_block", 1, 2, default=DEFAULTS["cnn_convs_per_block"])
    hp.Int("fcnn_layers", 1, 3, default=DEFAULTS["fcnn_layers"])
    hp.Choice("fcnn_units", [128, 256, 512], default=DEFAULTS["fcnn_units"])
    hp.Int("resnet_blocks", 2, 3, default=DEFAULTS["resnet_blocks"])
    hp.Choice("resnet_width", [16, 32], default=DEFAULTS["resnet_width"])
    hp.Choice("label_smoothing", [0.0, 0.1], default=DEFAULTS["label_smoothing"])
    return hp


def hyperparameters_for_training(
    settings: ModelSettings, tuned: dict[str, Any] | None
) -> keras_tuner.HyperParameters:
    """Returns the Tuner's best hyper-parameters when there are any and the settings use them, else the
    defaults (the profile's recipe)."""
    if tuned and settings.use_tuned:
        return keras_tuner.HyperParameters.from_config(tuned)
    return search_space(settings)
