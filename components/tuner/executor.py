"""The Tuner's executor: TFX's search, then the trials table and plot beside `tuner_results.json`."""

from __future__ import annotations

from tfx.components.tuner import executor as tuner_executor
from tfx.types import artifact_utils, standard_component_specs

from models.tuner import export_trials


class TrialExportingExecutor(tuner_executor.Executor):
    """TFX's Tuner executor, plus the trials table and plot written beside `tuner_results.json`."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        tuner = tuner_executor.search(input_dict, exec_properties, self._get_tmp_dir())
        if tuner.oracle.max_trials is None:
            # Hyperband sets no trial budget, and TFX's writer compares the trial count with it.
            tuner.oracle.max_trials = len(tuner.oracle.trials)
        tuner_executor.write_best_hyperparameters(tuner, output_dict)
        results = artifact_utils.get_single_uri(output_dict[standard_component_specs.TUNER_RESULTS_KEY])
        export_trials(tuner, results)
