"""IdxExampleGen, the component class."""

from __future__ import annotations

import json

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel_utils, standard_artifacts

from components.example_gen import executor, spec


class IdxExampleGen(base_component.BaseComponent):
    """Reads the four Fashion-MNIST IDX files and emits Examples with train / eval / test splits."""

    SPEC_CLASS = spec.IdxExampleGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        data_dir: str,
        *,
        eval_fraction: float,
        seed: int,
        data_fingerprint: str = "",
        split_caps: dict[str, int | None] | None = None,
        allow_foreign_data: bool = False,
    ):
        """Builds the component.

        Args:
            data_dir: folder holding the four IDX files.
            data_fingerprint: digest of the files' content (for the cache key).
            eval_fraction: share of the 60k training images that becomes `eval`.
            seed: seed of the stable hash that picks the eval images.
            split_caps: optional class-balanced caps per split.
            allow_foreign_data: ingest IDX files that are not the canonical Fashion-MNIST (refused
                otherwise); the output records which data it holds.
        """
        super().__init__(
            spec=spec.IdxExampleGenSpec(
                data_dir=data_dir,
                data_fingerprint=data_fingerprint,
                eval_fraction=eval_fraction,
                seed=seed,
                split_caps=json.dumps(split_caps or {}, sort_keys=True),
                allow_foreign_data=int(bool(allow_foreign_data)),
                examples=channel_utils.as_channel([standard_artifacts.Examples()]),
            )
        )
