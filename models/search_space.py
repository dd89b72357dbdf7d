"""The model settings the pipeline passes in, the hyper-parameter search space, and its defaults."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import keras_tuner

FAMILIES = ("fcnn", "cnn", "transfer")
BACKBONES = ("mobilenet_v3_small", "efficientnet_b0", "vgg19")
# Where a transfer backbone's weights come from; any other value is a path to a Keras weights file.
IMAGENET, BASE_MODEL = "imagenet", "base_model"
TUNERS = ("hyperband", "random", "bayesian")
# Training arithmetic: `auto` trains in bfloat16 (float32 weights) where the CPU has bfloat16 units
# (AMX or AVX512-BF16: measured 2.0× the images/s of float32 here), float32 elsewhere. The exported
# model always computes in float32, so a server without those units serves it at full speed.
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
STEMS = (1, 2, 4, 8)
# Small batches are for tiny data sets: batch norm's running statistics and the optimiser need steps,
# and 200 images at batch 128 give 2 steps per epoch (measured: a model that never leaves chance).
BATCH_SIZES = (16, 32, 64, 128)
# Keras applications refuse inputs smaller than this.
MIN_BACKBONE_INPUT = 32

# Defaults: what the Trainer uses when no Tuner runs, and where every search starts.
DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "dropout": 0.3,
    "augment_probability": 0.2,
    "embedding_dim": 128,
    "cnn_blocks": 3,
    "cnn_filters": 32,
    "cnn_convs_per_block": 2,
    "fcnn_layers": 2,
    "fcnn_units": 256,
    "label_smoothing": 0.1,
}


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """What the pipeline configuration fixes for the model code (TFX hands it over in `custom_config`).

    Attributes:
        image_size: side of the images the Transform graph receives (after any upscaling).
        source_size: side of the raw images clients send (Fashion-MNIST: 28).
        upscale: whether the serving graph must upscale source images to `image_size` (the pipeline
            has an upscaler before Transform).
        interpolation: the upscaler's interpolation, reproduced inside the serving graph.
        families: model families the Tuner may choose from; the first is the default.
        stems: stem downsampling factors the Tuner may choose from; the first is the default.
        backbone: the `transfer` family's keras.applications network.
        backbone_weights: `imagenet`, `base_model` (the trunk of the served model), or the
            path of a Keras weights file for `backbone`.
        tuner: `hyperband`, `random` or `bayesian`.
        tuner_trials: trial budget of RandomSearch and BayesianOptimization.
        tuner_epochs: most epochs one trial trains (Hyperband's `max_epochs`).
        tuner_train_cap: examples per tuning epoch (a subset keeps the search affordable); None = all.
        batch_size: the default batch size (one of `BATCH_SIZES`) and the largest the Tuner may choose.
        train_epochs: the Trainer's most epochs (early stopping may end sooner); 0 exports the
            initialised model without fitting it (for tests and gating demos: an untrained model).
        patience: epochs without validation improvement before early stopping; monitoring starts
            after the first `patience` epochs, while batch norm's running statistics settle.
        seed: for shuffling, initialisation, augmentation and the search.
        precision: `auto`, `float32` or `mixed_bfloat16`: the arithmetic of training (see `PRECISIONS`).
        test_time_flip: the model averages its probabilities over each image and its mirror image at
            inference (the exported model included); training is unaffected.
    """

    image_size: int = 28
    source_size: int = 28
    upscale: bool = False
    interpolation: str = "linear"
    families: tuple[str, ...] = ("cnn",)
    stems: tuple[int, ...] = (1,)
    backbone: str = "mobilenet_v3_small"
    backbone_weights: str = IMAGENET
    tuner: str = "hyperband"
    tuner_trials: int = 4
    tuner_epochs: int = 3
    tuner_train_cap: int | None = None
    batch_size: int = 64
    train_epochs: int = 10
    patience: int = 3
    seed: int = 42
    precision: str = "auto"
    test_time_flip: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "families", tuple(self.families))
        object.__setattr__(self, "stems", tuple(int(s) for s in self.stems))
        bad = [f for f in self.families if f not in FAMILIES] or (not self.families and ["(none)"])
        if bad:
            raise ValueError(f"unknown model family {bad[0]!r}; choose from {', '.join(FAMILIES)}")
        bad_stems = [s for s in self.stems if s not in STEMS] or (not self.stems and ["(none)"])
        if bad_stems:
            raise ValueError(f"stem downsampling must be one of {STEMS}, got {bad_stems[0]!r}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose from {', '.join(BACKBONES)}")
        if self.batch_size not in BATCH_SIZES:
            raise ValueError(f"batch_size must be one of {BATCH_SIZES}, got {self.batch_size!r}")
        if not isinstance(self.train_epochs, int) or self.train_epochs < 0:
            raise ValueError(f"train_epochs must be a non-negative integer, got {self.train_epochs!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        if self.tuner not in TUNERS:
            raise ValueError(f"unknown tuner {self.tuner!r}; choose from {', '.join(TUNERS)}")
        if "transfer" in self.families:
            small = [s for s in self.stems if self.image_size // s < MIN_BACKBONE_INPUT]
            if small:
                raise ValueError(
                    f"transfer backbones need inputs of at least {MIN_BACKBONE_INPUT} pixels; image_size "
                    f"{self.image_size} with stem {small[0]} gives {self.image_size // small[0]}"
                )

    @classmethod
    def from_custom_config(cls, custom_config: dict[str, Any] | None) -> ModelSettings:
        """Builds the settings from a TFX `custom_config` (unknown keys, e.g. fingerprints, are ignored)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (custom_config or {}).items() if k in fields})

    def to_custom_config(self) -> dict[str, Any]:
        """Returns the settings as a JSON-friendly dict for a TFX `custom_config`."""
        values = dataclasses.asdict(self)
        values["families"] = list(self.families)
        values["stems"] = list(self.stems)
        return values


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
    hp.Choice("learning_rate", [3e-3, 1e-3, 3e-4], default=DEFAULTS["learning_rate"])
    hp.Float("dropout", 0.0, 0.5, step=0.1, default=DEFAULTS["dropout"])
    batch_sizes = [b for b in BATCH_SIZES if b <= settings.batch_size]
    hp.Choice("batch_size", batch_sizes, default=settings.batch_size)
    hp.Float("augment_probability", 0.0, 0.5, step=0.1, default=DEFAULTS["augment_probability"])
    hp.Choice("embedding_dim", [64, 128, 256], default=DEFAULTS["embedding_dim"])
    hp.Int("cnn_blocks", 2, 4, default=DEFAULTS["cnn_blocks"])
    hp.Choice("cnn_filters", [16, 32, 64], default=DEFAULTS["cnn_filters"])
    hp.Int("cnn_convs_per_block", 1, 2, default=DEFAULTS["cnn_convs_per_block"])
    hp.Int("fcnn_layers", 1, 3, default=DEFAULTS["fcnn_layers"])
    hp.Choice("fcnn_units", [128, 256, 512], default=DEFAULTS["fcnn_units"])
    hp.Choice("label_smoothing", [0.0, 0.1], default=DEFAULTS["label_smoothing"])
    return hp


def hyperparameters_for_training(
    settings: ModelSettings, tuned: dict[str, Any] | None
) -> keras_tuner.HyperParameters:
    """Returns the Tuner's best hyper-parameters when there are any, else the defaults."""
    if tuned:
        return keras_tuner.HyperParameters.from_config(tuned)
    return search_space(settings)
