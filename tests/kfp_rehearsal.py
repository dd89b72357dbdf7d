"""A rehearsal of a KFP run (a test harness): each task's container command, in order, as a subprocess.

What KFP's launcher does for a container task, done here with kfp 2.5's own local-execution code
wherever it builds the pieces (`kfp.local`: the executor input with its output artifact URIs, output
parameter files and output metadata file; placeholder resolution such as `{{$}}`; reading the executor
output back):

1. take the tasks of the compiled spec in dependency order (`dependentTasks`);
2. build the task's `ExecutorInput`: parameter values (task constants, or the pipeline's parameter
   defaults for `componentInputParameter`), output artifacts under `<pipeline root>/<run>/<task>/`, and
   the input artifacts, i.e. the upstream tasks' output artifacts *as their executor output described
   them* (URI and metadata: split names, blessing, pushed version...). kfp 2.5's
   `construct_executor_input` refuses input artifacts ("not yet supported for local execution"), so
   those are added after it has built the rest;
3. resolve the container's `command` + `args` placeholders and run them as a subprocess of this
   venv's Python (the image's `python`), then read the executor output file.

Each task's process gets the environment the spec gives its pod: the container's `env`, and the
Kubernetes secrets its platform spec maps to variables (`secretAsEnv`, as kfp-kubernetes writes it),
from `secrets` (secret name -> key -> value), which play the cluster's secrets; the S3 and AWS variables
of this process are not passed on, so a task reaches the store only through what the spec says. As in
KFP's launcher, the executor output file and output parameter files are local files of the "pod"
(under `work_dir`), while artifact URIs are in the pipeline root (a bucket).

What it does not do: containers, images, pods, KFP's ML Metadata, caching and retries. Paths the image
or its volumes provide (the source tree in the image, the data volume) are played by local folders:
`mounts` maps each such path prefix to a local folder, in parameter values.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys
from graphlib import TopologicalSorter
from pathlib import Path

from google.protobuf import json_format
from kfp.local import executor_input_utils, executor_output_utils, placeholder_utils
from kfp.pipeline_spec import pipeline_spec_pb2


@dataclasses.dataclass
class TaskRun:
    """One rehearsed task: its executor input and output, and what the process printed."""

    name: str
    executor_input: pipeline_spec_pb2.ExecutorInput
    executor_output: pipeline_spec_pb2.ExecutorOutput
    returncode: int
    stderr: str

    def output_artifact(self, key: str) -> pipeline_spec_pb2.RuntimeArtifact:
        """The task's output artifact `key`: as allocated (name, type, URI), with what the executor
        output reported (URI, metadata) laid over it, as KFP records it for the next task."""
        artifact = copy.deepcopy(self.executor_input.outputs.artifacts[key].artifacts[0])
        if key in self.executor_output.artifacts:
            reported = self.executor_output.artifacts[key].artifacts[0]
            if reported.uri:
                artifact.uri = reported.uri
            artifact.metadata.CopyFrom(reported.metadata)
        return artifact


def _mapped(value, mounts: dict[str, str]):
    if isinstance(value, str):
        for image_path, local_path in mounts.items():
            value = value.replace(image_path, local_path)
    return value


def _parameter_arguments(task: dict, spec: dict, mounts: dict[str, str]) -> dict:
    defaults = {
        name: definition.get("defaultValue")
        for name, definition in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items()
    }
    arguments = {}
    for name, source in task.get("inputs", {}).get("parameters", {}).items():
        if "componentInputParameter" in source:
            value = defaults[source["componentInputParameter"]]
        else:
            value = source["runtimeValue"]["constant"]
        arguments[name] = _mapped(value, mounts)
    return arguments


# Variables of this process that would reach a store without the spec's say-so; not passed to the tasks.
_STORE_VARIABLE_PREFIXES = ("AWS_", "S3_")


def pod_environment(
    executor_label: str, spec: dict, platform: dict, secrets: dict[str, dict[str, str]]
) -> dict:
    """Returns the variables the spec gives the executor's pod: its container `env` and its secrets."""
    container = spec["deploymentSpec"]["executors"][executor_label]["container"]
    environment = {item["name"]: item["value"] for item in container.get("env", [])}
    kubernetes = platform.get("platforms", {}).get("kubernetes", {})
    config = kubernetes.get("deploymentSpec", {}).get("executors", {}).get(executor_label, {})
    for secret in config.get("secretAsEnv", []):
        for pair in secret["keyToEnv"]:
            environment[pair["envVar"]] = secrets[secret["secretName"]][pair["secretKey"]]
    return environment


def rehearse(
    spec: dict,
    pipeline_root: str,
    mounts: dict[str, str],
    work_dir: Path,
    timeout: float = 1800,
    platform: dict | None = None,
    secrets: dict[str, dict[str, str]] | None = None,
) -> dict[str, TaskRun]:
    """Runs every task of a compiled PipelineSpec (a dict) as KFP would; stops at the first failure.

    Args:
        spec: the compiled spec, as `fashion-tfx kubeflow compile` writes it.
        pipeline_root: the pipeline root (`<root>/pipeline`), a bucket URI or a local folder.
        mounts: image or volume path prefix -> local folder that plays it.
        work_dir: the subprocesses' working directory.
        timeout: seconds one task may take.
        platform: the spec's platform spec (the YAML's second document), if any.
        secrets: the Kubernetes secrets the platform spec names: name -> key -> value.

    Returns:
        task name -> its TaskRun, in execution order.
    """
    tasks = spec["root"]["dag"]["tasks"]
    order = TopologicalSorter({name: task.get("dependentTasks", []) for name, task in tasks.items()})
    run_name = executor_input_utils.get_local_pipeline_resource_name(spec["pipelineInfo"]["name"])
    runs: dict[str, TaskRun] = {}
    for name in order.static_order():
        task = tasks[name]
        component_name = task["componentRef"]["name"]
        component = pipeline_spec_pb2.ComponentSpec()
        json_format.ParseDict(spec["components"][component_name], component)
        container = spec["deploymentSpec"]["executors"][component.executor_label]["container"]
        task_root = executor_input_utils.construct_local_task_root(pipeline_root, run_name, name)
        without_inputs = copy.deepcopy(component)
        without_inputs.input_definitions.ClearField("artifacts")
        executor_input = executor_input_utils.construct_executor_input(
            without_inputs, _parameter_arguments(task, spec, mounts), task_root
        )
        # KFP's launcher hands the executor local files for its outputs (it uploads them afterwards).
        local_outputs = work_dir / "kfp_outputs" / name
        local_outputs.mkdir(parents=True, exist_ok=True)
        executor_input.outputs.output_file = str(local_outputs / "executor_output.json")
        for key, parameter in executor_input.outputs.parameters.items():
            parameter.output_file = str(local_outputs / key)
        for key, artifact_list in executor_input.outputs.artifacts.items():
            # Names identify artifacts to TFX's entrypoint (it hashes them into ids), as MLMD's do.
            artifact_list.artifacts[0].name = f"{run_name}/{name}/{key}"
        for key, source in task.get("inputs", {}).get("artifacts", {}).items():
            upstream = source["taskOutputArtifact"]
            artifact = runs[upstream["producerTask"]].output_artifact(upstream["outputArtifactKey"])
            executor_input.inputs.artifacts[key].artifacts.append(artifact)
        executor_input_dict = executor_input_utils.executor_input_to_dict(executor_input, component)
        command = placeholder_utils.replace_placeholders(
            full_command=[*container["command"], *container.get("args", [])],
            executor_input_dict=executor_input_dict,
            pipeline_resource_name=run_name,
            task_resource_name=name,
            pipeline_root=pipeline_root,
        )
        if command[0] == "python":  # the image's interpreter is this venv's
            command[0] = sys.executable
        if "://" not in task_root:
            Path(task_root).mkdir(parents=True, exist_ok=True)
        environment = {k: v for k, v in os.environ.items() if not k.startswith(_STORE_VARIABLE_PREFIXES)}
        environment |= pod_environment(component.executor_label, spec, platform or {}, secrets or {})
        process = subprocess.run(
            command, cwd=work_dir, env=environment, capture_output=True, text=True, timeout=timeout
        )
        executor_output = executor_output_utils.load_executor_output(executor_input.outputs.output_file)
        runs[name] = TaskRun(name, executor_input, executor_output, process.returncode, process.stderr)
        if process.returncode != 0:
            break
    return runs


def custom_properties(artifact: pipeline_spec_pb2.RuntimeArtifact) -> dict:
    """Returns an artifact's metadata (TFX's properties and custom properties) as plain values."""
    return json.loads(json_format.MessageToJson(artifact.metadata))
