"""The IdxExampleGen component's contract: its parameter and output names."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

DATA_DIR = "data_dir"
DATA_FINGERPRINT = "data_fingerprint"
EVAL_FRACTION = "eval_fraction"
SEED = "seed"
SPLIT_CAPS = "split_caps"  # JSON: {"train": 200, "eval": null, ...}
ALLOW_FOREIGN_DATA = "allow_foreign_data"  # 1: ingest IDX data that is not the canonical set
EXAMPLES = "examples"

# Custom properties written on the output artifact.
CLASS_COUNTS_PROPERTY = "split_class_counts"  # JSON: {split: {class id: count}}
PROVENANCE_PROPERTY = "data_provenance"  # "canonical" or "foreign"
DESCRIPTION_PROPERTY = "data_description"  # one line for headers, summaries and the model card
DATA_DIR_PROPERTY = "data_dir"  # the folder the four files were read from
FINGERPRINT_PROPERTY = "data_fingerprint"  # digest of the four files' content


class IdxExampleGenSpec(ComponentSpec):
    """Parameters and output of IdxExampleGen."""

    PARAMETERS = {
        DATA_DIR: ExecutionParameter(type=str),
        # Part of the cache key, so new data is re-ingested even at the same path.
        DATA_FINGERPRINT: ExecutionParameter(type=str),
        EVAL_FRACTION: ExecutionParameter(type=float),
        SEED: ExecutionParameter(type=int),
        SPLIT_CAPS: ExecutionParameter(type=str),
        # Part of the cache key: allowing foreign data is a decision the run records.
        ALLOW_FOREIGN_DATA: ExecutionParameter(type=int),
    }
    INPUTS = {}
    OUTPUTS = {EXAMPLES: ChannelParameter(type=standard_artifacts.Examples)}
