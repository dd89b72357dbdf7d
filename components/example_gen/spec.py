"""The IdxExampleGen component's contract: its parameter and output names."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

DATA_DIR = "data_dir"
DATA_FINGERPRINT = "data_fingerprint"
EVAL_FRACTION = "eval_fraction"
SEED = "seed"
SPLIT_CAPS = "split_caps"  # JSON: {"train": 200, "eval": null, ...}
EXAMPLES = "examples"

# Custom properties written on the output artifact.
CLASS_COUNTS_PROPERTY = "split_class_counts"  # JSON: {split: {class id: count}}


class IdxExampleGenSpec(ComponentSpec):
    """Parameters and output of IdxExampleGen."""

    PARAMETERS = {
        DATA_DIR: ExecutionParameter(type=str),
        # Part of the cache key, so new data is re-ingested even at the same path.
        DATA_FINGERPRINT: ExecutionParameter(type=str),
        EVAL_FRACTION: ExecutionParameter(type=float),
        SEED: ExecutionParameter(type=int),
        SPLIT_CAPS: ExecutionParameter(type=str),
    }
    INPUTS = {}
    OUTPUTS = {EXAMPLES: ChannelParameter(type=standard_artifacts.Examples)}
