"""The ImageUpscaler component's contract: its input, parameters, outputs and report artifact type."""

from tfx.types import artifact, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

# TFX wants input, output and parameter names unique within a spec. Downstream components read the
# output as `outputs["examples"]`, so the input takes another name in the spec; the component's
# constructor still calls it `examples`.
INPUT_EXAMPLES = "input_examples"  # 28x28 Examples (ExampleGen's)
EXAMPLES = "examples"  # the same examples, images at IMAGE_SIZE
REPORT = "report"
IMAGE_SIZE = "image_size"
INTERPOLATION = "interpolation"
# A digest of the code that upscales (pipeline.fingerprint): TFX's cache key then changes with that code.
CODE_FINGERPRINT = "code_fingerprint"

# Custom properties written on the output Examples artifact.
IMAGE_SIZE_PROPERTY = "image_size"
INTERPOLATION_PROPERTY = "interpolation"


class ResizeReport(artifact.Artifact):
    """A folder with fidelity.png (samples of every class, per method) and fidelity.json (the figures)."""

    # KFP v2 accepts custom type names shaped like "namespace.Name" only.
    TYPE_NAME = "fashion_tfx_artifacts.ResizeReport"  # importable: see fashion_tfx_artifacts.py


class ImageUpscalerSpec(ComponentSpec):
    """Input, parameters and outputs of ImageUpscaler."""

    PARAMETERS = {
        IMAGE_SIZE: ExecutionParameter(type=int),
        INTERPOLATION: ExecutionParameter(type=str),
        CODE_FINGERPRINT: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {INPUT_EXAMPLES: ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {
        EXAMPLES: ChannelParameter(type=standard_artifacts.Examples),
        REPORT: ChannelParameter(type=ResizeReport),
    }
