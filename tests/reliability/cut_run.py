"""`fashion-tfx` with the pipeline cut after one component (env FASHION_TFX_CUT_AFTER), for the CI budget.

The reliability tests that only need the data half of the pipeline (ExampleGen to ImageUpscaler) run the
real CLI and LocalDagRunner through this script, so CI does not pay for Transform, Tuner and Trainer;
the slow target (`make test-crash`) runs the whole pipeline.
"""

from __future__ import annotations

import os
import sys

from pipeline import cli
from pipeline import pipeline as factory

CUT_AFTER = os.environ.get("FASHION_TFX_CUT_AFTER")

if CUT_AFTER:
    _all_components = factory.create_components

    def _cut_components(config, stages=factory.STAGES):
        components = _all_components(config, stages)
        ids = [c.id for c in components]
        if CUT_AFTER not in ids:
            raise SystemExit(f"cut_run: no component {CUT_AFTER!r} in the pipeline ({', '.join(ids)})")
        # Components come in execution order and depend only on earlier ones, so a prefix is a DAG.
        return components[: ids.index(CUT_AFTER) + 1]

    factory.create_components = _cut_components

if __name__ == "__main__":
    sys.exit(cli.main())
