"""ImageUpscaler, the component class."""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import channel_utils, standard_artifacts

from components.upscaler import executor, spec
from data.resize import DEFAULT_INTERPOLATION, SOURCE_SIZE, check_resize


class ImageUpscaler(base_beam_component.BaseBeamComponent):
    """Upscales every image of every split with OpenCV and reports the resize's fidelity.

    Outputs: `examples` (the input's splits and features, `image` a PNG at `image_size`, `height`
    and `width` updated) and `report` (a `ResizeReport`: fidelity.png and fidelity.json).
    """

    SPEC_CLASS = spec.ImageUpscalerSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        image_size: int,
        interpolation: str = DEFAULT_INTERPOLATION,
        code_fingerprint: str | None = None,
    ):
        """Builds the component.

        Args:
            examples: a channel of Examples holding 28x28 one-channel PNG images.
            image_size: side of the upscaled images (28 to 1024).
            interpolation: OpenCV interpolation: nearest, linear (cv2.resize's default), area, cubic
                or lanczos4.
            code_fingerprint: a digest of the upscaling code, only for TFX's cache key (the
                pipeline passes `pipeline.fingerprint.code_fingerprint(UPSCALER_CODE)`).

        Raises:
            ValueError: an invalid size or interpolation (when the pipeline is built, not run).
        """
        check_resize(SOURCE_SIZE, image_size, interpolation)
        super().__init__(
            spec=spec.ImageUpscalerSpec(
                input_examples=examples,
                image_size=image_size,
                interpolation=interpolation,
                **({spec.CODE_FINGERPRINT: code_fingerprint} if code_fingerprint else {}),
                examples=channel_utils.as_channel([standard_artifacts.Examples()]),
                report=channel_utils.as_channel([spec.ResizeReport()]),
            )
        )
