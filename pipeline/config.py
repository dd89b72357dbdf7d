"""Typed, validated pipeline configuration and its named profiles (`test`, `quick`, `full`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

# One definition of the resize's names and limits; that module loads neither OpenCV nor TensorFlow.
from fashion_tfx.components.upscaler.resize import INTERPOLATIONS, MAX_IMAGE_SIZE, SOURCE_SIZE


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the allowed values."""


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything that varies between runs and environments.

    Attributes:
        profile: the profile this config came from.
        root: the run's root folder: artifacts, ML Metadata (SQLite) and the serving folder.
        data_dir: the folder with the four IDX files (resolved by `fashion_tfx.data.fashion_mnist`).
        data_fingerprint: a digest of the data's content; changing data invalidates the cache.
        pipeline_name: the TFX pipeline's name (also the served model's name).
        seed: drives the eval split and everything random downstream.
        eval_fraction: share of the 60k training images carved out as `eval`.
        train_cap, eval_cap, test_cap: optional class-balanced caps on split sizes.
        image_size: side of the upscaled images.
        interpolation: the OpenCV interpolation used to upscale.
        beam_args: arguments for every Beam-powered component.
        enable_cache: reuse executions whose inputs and parameters are unchanged.
        schema_path: the curated schema of the raw examples (default: the packaged data/schema.pbtxt).
        stop_on_anomalies: stop before upscaling and training when the data does not match the schema.
        min_accuracy: the Evaluator blesses a model only at or above this test accuracy.
        max_accuracy_drop: largest test-accuracy drop against the latest blessed model still blessed.
    """

    profile: str
    root: Path
    data_dir: str | None = None
    data_fingerprint: str = ""
    pipeline_name: str = "fashion-tfx"
    seed: int = 42
    eval_fraction: float = 1 / 6
    train_cap: int | None = None
    eval_cap: int | None = None
    test_cap: int | None = None
    image_size: int = 128
    interpolation: str = "linear"
    beam_args: tuple[str, ...] = ("--direct_running_mode=in_memory", "--direct_num_workers=1")
    enable_cache: bool = True
    schema_path: str | None = None
    stop_on_anomalies: bool = True
    min_accuracy: float = 0.85
    max_accuracy_drop: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raises ConfigError naming the first invalid field."""
        if not 0.0 < self.eval_fraction < 1.0:
            raise ConfigError(f"eval_fraction must lie strictly between 0 and 1, got {self.eval_fraction}")
        for name in ("train_cap", "eval_cap", "test_cap"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ConfigError(f"{name} must be a positive integer or None, got {value!r}")
        if not isinstance(self.image_size, int) or not SOURCE_SIZE <= self.image_size <= MAX_IMAGE_SIZE:
            raise ConfigError(
                f"image_size must be an integer from {SOURCE_SIZE} (the source size) to {MAX_IMAGE_SIZE}, "
                f"got {self.image_size!r}"
            )
        if self.interpolation not in INTERPOLATIONS:
            raise ConfigError(
                f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {self.interpolation!r}"
            )
        if not 0.0 <= self.min_accuracy <= 1.0:
            raise ConfigError(f"min_accuracy must lie in [0, 1], got {self.min_accuracy}")
        if not 0.0 <= self.max_accuracy_drop <= 1.0:
            raise ConfigError(f"max_accuracy_drop must lie in [0, 1], got {self.max_accuracy_drop}")
        if not self.pipeline_name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(
                f"pipeline_name may hold letters, digits, '-' and '_' only, got {self.pipeline_name!r}"
            )

    @property
    def schema_file(self) -> str:
        """The curated schema file ImportSchemaGen reads."""
        return self.schema_path or str(Path(__file__).resolve().parent.parent / "data" / "schema.pbtxt")

    @property
    def pipeline_root(self) -> Path:
        """Where TFX writes the artifacts."""
        return self.root / "pipeline"

    @property
    def metadata_path(self) -> Path:
        """The ML Metadata SQLite file."""
        return self.root / "metadata.sqlite"

    @property
    def serving_dir(self) -> Path:
        """TF Serving's model base folder (the Pusher's destination)."""
        return self.root / "serving"

    def caps(self) -> dict[str, int | None]:
        """Returns the per-split caps keyed by split name."""
        return {"train": self.train_cap, "eval": self.eval_cap, "test": self.test_cap}


PROFILES: dict[str, dict] = {
    # Seconds on CI: a few hundred images at a small size.
    # min_accuracy: blessing bounds well above chance (10 %) and below what each profile reaches.
    "test": dict(train_cap=200, eval_cap=60, test_cap=60, image_size=32, min_accuracy=0.3),
    # The README's main job: minutes on 2 cores.
    "quick": dict(train_cap=6000, eval_cap=1000, test_cap=None, image_size=128, min_accuracy=0.8),
    # All data at full size.
    "full": dict(
        image_size=128,
        min_accuracy=0.9,
        beam_args=("--direct_running_mode=multi_processing", "--direct_num_workers=2"),
    ),
}


def make_config(profile: str, root: str | Path, **overrides) -> PipelineConfig:
    """Builds the config of a named profile, with field overrides (None values are ignored).

    Raises:
        ConfigError: an unknown profile or field, or an invalid value.
    """
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    fields = {f.name for f in dataclasses.fields(PipelineConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise ConfigError(f"unknown configuration field(s): {', '.join(sorted(unknown))}")
    values = {**PROFILES[profile], **{k: v for k, v in overrides.items() if v is not None}}
    return PipelineConfig(profile=profile, root=Path(root).expanduser().resolve(), **values)
