"""The model's settings: one typed, validated home for its choices and defaults, free of TensorFlow.

The pipeline configuration nests one `ModelSettings` (`PipelineConfig.model`); TFX hands it to the model
code (`preprocessing_fn`, `tuner_fn`, `run_fn`) in `custom_config`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from data.resize import DEFAULT_INTERPOLATION, SOURCE_SIZE, check_resize

TRANSFER = "transfer"  # the family that reuses a pretrained trunk (a backbone, or the served model's)
RESNET = "resnet"  # residual stages of basic blocks (ResNet-20 at its defaults: 3 stages × 3 blocks)
FAMILIES = ("fcnn", "cnn", RESNET, TRANSFER)
BACKBONES = ("mobilenet_v3_small", "efficientnet_b0", "vgg19")
# Where a transfer backbone's weights come from; any other value is a path to a Keras weights file.
IMAGENET, BASE_MODEL = "imagenet", "base_model"
# `none` trains with the default hyper-parameters (the pipeline then has no Tuner).
NO_TUNER = "none"
TUNERS = (NO_TUNER, "hyperband", "random", "bayesian")
# Training arithmetic: `auto` trains in bfloat16 (float32 weights) where the CPU has bfloat16 units
# (AMX or AVX512-BF16: 1.74× the images/s of float32 in bench.accuracy's `float32` row), float32
# elsewhere. The exported model always computes in float32, so a server without those units serves it
# at full speed.
AUTO, FLOAT32, MIXED_BFLOAT16 = "auto", "float32", "mixed_bfloat16"
PRECISIONS = (AUTO, FLOAT32, MIXED_BFLOAT16)
# CPU flags of bfloat16 units (Linux /proc/cpuinfo names); without them bfloat16 is emulated and slow.
BFLOAT16_UNITS = ("amx_bf16", "avx512_bf16")
CPUINFO = "/proc/cpuinfo"
STEMS = (1, 2, 4, 8)
# Small batches are for tiny data sets: batch norm's running statistics and the optimiser need steps,
# and 200 images at batch 128 give 2 steps per epoch (measured: a model that never leaves chance).
BATCH_SIZES = (16, 32, 64, 128)
# The learning rates a search tries besides the settings' own (which it tries first), per optimiser.
LEARNING_RATES = {"adam": (3e-3, 1e-3, 3e-4), "sgd": (0.1, 0.05, 0.02)}
# `adam`; or `sgd`: SGD with Nesterov momentum 0.9 and decoupled weight decay (`weight_decay`).
OPTIMIZERS = tuple(LEARNING_RATES)
# The learning rate's path after the warm-up: a half cosine down to zero, or a straight line to zero
# (the falling half of a one-cycle schedule).
COSINE, LINEAR = "cosine", "linear"
SCHEDULES = (COSINE, LINEAR)
# The weight average's largest momentum: about the last 10,000 steps (at 1 it would never move).
MAX_WEIGHT_AVERAGING = 0.9999
# The augmentation's transformations (built by models.augmentation), named here so that settings stay
# free of TensorFlow: `crop` is pad-and-crop (a whole-pixel shift of up to 1/8 of the side), `erase`
# random erasing.
TRANSFORMS = ("flip", "shift", "zoom", "rotate", "contrast", "crop", "erase")
CLASSIC_AUGMENTATIONS = ("flip", "shift", "zoom", "rotate", "contrast")
MAX_AUGMENT_PROBABILITY = 0.5  # the search's upper bound; also the most a profile may set
# A rate above this diverges Adam on these models; it is a configuration mistake, not a choice.
MAX_LEARNING_RATE = 0.1
# Keras applications refuse inputs smaller than this.
MIN_BACKBONE_INPUT = 32


def bfloat16_units(cpuinfo: str | Path = CPUINFO) -> tuple[str, ...] | None:
    """Returns the CPU's bfloat16 units (flags of `BFLOAT16_UNITS`), or None when `cpuinfo` is unreadable."""
    try:
        flags = set(Path(cpuinfo).read_text().split())
    except (OSError, UnicodeDecodeError):
        return None
    return tuple(unit for unit in BFLOAT16_UNITS if unit in flags)


def training_policy(precision: str, cpuinfo: str | Path = CPUINFO) -> str:
    """Returns the Keras dtype policy to train with: `float32` or `mixed_bfloat16`.

    Args:
        precision: `float32`, `mixed_bfloat16`, or `auto` (bfloat16 where the CPU has bfloat16 units).
        cpuinfo: the file listing the CPU's flags.
    """
    if precision != AUTO:
        return precision
    return MIXED_BFLOAT16 if bfloat16_units(cpuinfo) else FLOAT32


def describe_arithmetic(precision: str, cpuinfo: str | Path = CPUINFO) -> tuple[str, bool]:
    """Returns a sentence on the arithmetic training uses on this CPU and why, and whether it is slow.

    Slow: float32 chosen by `auto` where the CPU shows no bfloat16 units (the README's run times were
    measured with them), or bfloat16 forced on a CPU that can only emulate it.
    """
    policy, units = training_policy(precision, cpuinfo), bfloat16_units(cpuinfo)
    wanted = " or ".join(BFLOAT16_UNITS)
    if precision != AUTO:
        if policy == MIXED_BFLOAT16 and units == ():
            return (
                f"training arithmetic {policy}, set by `precision`; this CPU has no {wanted}, so bfloat16 "
                f"is emulated and slow (`python -m bench.precision` measures it; `{AUTO}` picks {FLOAT32})",
                True,
            )
        return f"training arithmetic {policy}, set by `precision`", False
    if units:
        return f"training arithmetic {policy} (this CPU has {', '.join(units)})", False
    seen = (
        f"{cpuinfo} is unreadable, so its units are unknown" if units is None else f"this CPU has no {wanted}"
    )
    return (
        f"training arithmetic {policy}, as {seen}: training takes longer than the README's times, which "
        f"were measured with those units ({FLOAT32} alone costs about 1.7× there; a slower CPU adds to it). "
        "Forcing bfloat16 without the units is slower still: it is emulated",
        True,
    )


# The hyper-parameters only one family reads start with its name (`cnn_blocks`, `resnet_width`).
FAMILY_PREFIXES = tuple(f"{family}_" for family in FAMILIES)


def own_hyperparameters(values: dict[str, Any]) -> dict[str, Any]:
    """Returns `values` without the other families' hyper-parameters (`cnn_blocks` for a `resnet`)."""
    family = values.get("family")
    return {
        name: value
        for name, value in values.items()
        if not (name.startswith(FAMILY_PREFIXES) and family and not name.startswith(f"{family}_"))
    }


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the allowed values."""


# How reports describe `ModelSettings.test_time_flip` in words (the model card, bench.serving).
FLIP_AVERAGING_WORDS = "each prediction averaged over the image and its mirror image"


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """What the configuration fixes for the model code.

    The defaults describe a model of the raw 28×28 images with no downsampling; every profile
    (`pipeline.config.PROFILES`) sets its own image size, stems and training budget over them.

    Attributes:
        image_size: side of the images the Transform graph receives (after any upscaling); also the
            side the ImageUpscaler upscales to.
        source_size: side of the raw images clients send (Fashion-MNIST: 28).
        upscale: whether the serving graph must upscale source images to `image_size` (the pipeline
            has an upscaler before Transform, and sets this).
        interpolation: the upscaler's OpenCV interpolation, reproduced inside the serving graph.
        families: model families the Tuner may choose from (`fcnn`, `cnn`, `transfer`); the first is
            the default when no Tuner runs.
        stems: the models' first downsampling (1, 2, 4 or 8) to search; the first is the default. It
            sets the training cost: at 128×128 a 4×4 stem is ~18× faster than none (measured).
        backbone: the `transfer` family's keras.applications network.
        backbone_weights: `imagenet` (needs a network once), `base_model` (the trunk of the model
            served now; works offline) or the path of a Keras weights file for `backbone`.
        tuner: `hyperband`, `random`, `bayesian`, or `none` to train with the default hyper-parameters.
        tuner_trials: the trial budget of `random` and `bayesian`.
        tuner_epochs: the most epochs one trial trains (Hyperband's `max_epochs`).
        tuner_train_cap: training examples per tuning epoch (None: all of the train split).
        batch_size: the default batch size (one of `BATCH_SIZES`), and the largest the Tuner may
            choose (16 or 32 for tiny data: 200 images at 128 per batch give 2 steps per epoch).
        learning_rate: the optimiser's peak rate (`schedule` takes it down over the epochs, after
            `warmup_epochs` of linear warm-up): what the Trainer uses when no Tuner runs, and the
            Tuner's first trial; the Tuner also tries the optimiser's `LEARNING_RATES`.
        optimizer: `adam` or `sgd` (Nesterov momentum 0.9; see `OPTIMIZERS`).
        weight_decay: decoupled weight decay per step, scaled by the rate (0: none); batch-norm
            scales and offsets and biases are exempt.
        warmup_epochs: epochs of linear warm-up to the peak rate before the decay (0: none).
        schedule: the decay after the warm-up (`SCHEDULES`): `cosine` or `linear`, each heading for
            zero where the last epoch ends (the rate is set per epoch).
        weight_averaging: the momentum per step of an exponential moving average of the trainable
            weights (Polyak averaging; 0: off, 0.999: about the last 1,000 steps). When on, each epoch's
            validation, early stopping, the checkpoints and the exported model use the average; the
            optimiser keeps stepping the raw weights. Batch norm's running statistics are not averaged.
        augmentations: the training-only transformations (`TRANSFORMS`), each applied to an image with
            the `augment_probability` hyper-parameter's probability.
        augment_probability: that hyper-parameter's default (and the Trainer's value without a Tuner).
        use_tuned: train with the Tuner's best trial (True), or train the profile's recipe (the
            defaults) and keep the Tuner's trials as a record (False): short trials cannot rank what
            only a long training shows.
        train_epochs: the Trainer's most epochs; early stopping may end sooner. 0 is for tests and
            gating demos: the Trainer exports the initialised, untrained model (chance accuracy).
        patience: epochs without validation improvement before early stopping (monitoring starts
            after the first `patience` epochs, while batch norm's running statistics settle).
        seed: drives the eval split and everything random downstream (shuffling, initialisation,
            augmentation, the search).
        precision: `auto`, `float32` or `mixed_bfloat16`: the arithmetic of training (see `PRECISIONS`).
            The exported model computes in float32 either way.
        test_time_flip: the model averages its probabilities over each image and its mirror image at
            inference (the exported model included); training is unaffected. It doubles the classifier's
            compute. Off by default: after 5-6 epochs it gains nothing on the eval split (`bench.accuracy`);
            after the full profile's 54 it gains +0.07-0.08 points there (`bench.flip_averaging`), so that
            profile sets it.
    """

    image_size: int = SOURCE_SIZE
    source_size: int = SOURCE_SIZE
    upscale: bool = False
    interpolation: str = DEFAULT_INTERPOLATION
    families: tuple[str, ...] = ("cnn",)
    stems: tuple[int, ...] = (1,)
    backbone: str = "mobilenet_v3_small"
    backbone_weights: str = IMAGENET
    tuner: str = "hyperband"
    tuner_trials: int = 6
    tuner_epochs: int = 3
    tuner_train_cap: int | None = None
    batch_size: int = 64
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    warmup_epochs: int = 0
    schedule: str = COSINE
    weight_averaging: float = 0.0
    augmentations: tuple[str, ...] = CLASSIC_AUGMENTATIONS
    augment_probability: float = 0.2
    use_tuned: bool = True
    train_epochs: int = 10
    patience: int = 3
    seed: int = 42
    precision: str = AUTO
    test_time_flip: bool = False

    def __post_init__(self) -> None:
        # A bare string would become a tuple of its letters, each then refused with a puzzling message.
        for name in ("families", "augmentations"):
            if isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} must be a list of names, got the string {getattr(self, name)!r}")
        # JSON (custom_config) hands tuples back as lists.
        object.__setattr__(self, "families", tuple(self.families))
        object.__setattr__(self, "stems", tuple(self.stems))
        object.__setattr__(self, "augmentations", tuple(self.augmentations))
        self.validate()

    def validate(self) -> None:
        """Raises ConfigError naming the first invalid field."""

        def choose(name: str, value, allowed) -> None:
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")

        # NumPy (and so Keras' set_random_seed) accepts only unsigned 32-bit seeds.
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be an integer from 0 to {2**32 - 1}, got {self.seed!r}")
        try:
            check_resize(self.source_size, self.image_size, self.interpolation, size_name="image_size")
        except ValueError as err:
            raise ConfigError(str(err)) from None
        if not self.families or not self.stems:
            raise ConfigError("families and stems must each name at least one choice")
        for family in self.families:
            choose("families", family, FAMILIES)
        for stem in self.stems:
            choose("stems", stem, STEMS)
        choose("backbone", self.backbone, BACKBONES)
        choose("tuner", self.tuner, TUNERS)
        choose("batch_size", self.batch_size, BATCH_SIZES)
        choose("precision", self.precision, PRECISIONS)
        choose("optimizer", self.optimizer, OPTIMIZERS)
        choose("schedule", self.schedule, SCHEDULES)
        for transform in self.augmentations:
            choose("augmentations", transform, TRANSFORMS)
        if len(set(self.augmentations)) != len(self.augmentations):
            raise ConfigError(f"augmentations must not repeat a transformation, got {self.augmentations!r}")
        for name, upper in (
            ("weight_decay", 0.1),
            ("augment_probability", MAX_AUGMENT_PROBABILITY),
            ("weight_averaging", MAX_WEIGHT_AVERAGING),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= upper:
                raise ConfigError(f"{name} must be a number from 0 to {upper}, got {value!r}")
        warmup = self.warmup_epochs
        if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
            raise ConfigError(f"warmup_epochs must be a non-negative integer, got {self.warmup_epochs!r}")
        if not isinstance(self.use_tuned, bool):
            raise ConfigError(f"use_tuned must be true or false, got {self.use_tuned!r}")
        for name in ("tuner_trials", "tuner_epochs", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.train_epochs, int) or self.train_epochs < 0:
            raise ConfigError(
                f"train_epochs must be a non-negative integer (0: export the untrained model), "
                f"got {self.train_epochs!r}"
            )
        rate = self.learning_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= MAX_LEARNING_RATE:
            raise ConfigError(
                f"learning_rate must be a number above 0 and at most {MAX_LEARNING_RATE}, got {rate!r}"
            )
        cap = self.tuner_train_cap
        if cap is not None and (not isinstance(cap, int) or cap <= 0):
            raise ConfigError(f"tuner_train_cap must be a positive integer or None, got {cap!r}")
        small = [s for s in self.stems if self.image_size // s < MIN_BACKBONE_INPUT]
        if TRANSFER in self.families and small:
            raise ConfigError(
                f"transfer backbones need inputs of at least {MIN_BACKBONE_INPUT} pixels: image_size "
                f"{self.image_size} is too small for stems {self.stems}"
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
        values["augmentations"] = list(self.augmentations)
        return values
