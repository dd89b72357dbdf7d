"""Compiles the pipeline factory's pipeline into a KFP v2 pipeline spec (YAML) with TFX's V2 runner."""

from __future__ import annotations

import copy
import dataclasses
import json
import posixpath
import re
import tempfile
import uuid
from pathlib import Path

from data import fashion_mnist
from kubeflow.settings import (
    DEFAULT_RUNTIME_PARAMETERS,
    IMAGE_DATA_DIR,
    S3_SECRET_KEYS_TO_ENV,
    KubeflowSettings,
)
from pipeline.config import (
    CHECKOUT_SETUP_FILE,
    KUBEFLOW_DEFAULT_PROFILE,
    S3_SCHEME,
    ConfigError,
    PipelineConfig,
    field_names,
    make_config,
)

# Where the Dockerfile copies the source tree; files the pipeline reads by path are named under it.
IMAGE_SOURCE_DIR = "/opt/fashion-tfx"
# Config fields that name a file of the source tree -> that file, relative to the repo root.
SOURCE_FILE_FIELDS = {"schema_path": "data/schema.pbtxt"}
# The KFP 2.x client and API server take the pipeline spec as YAML only, at schema 2.1.0.
SPEC_SUFFIXES = (".yaml", ".yml")
SCHEMA_VERSION = "2.1.0"
# TFX's V2 container entrypoint, which every task of TFX's compiled spec runs, and ours for `s3://` roots
# (that entrypoint with TensorFlow's S3 filesystem registered and an honest exit code).
TFX_ENTRYPOINT_MODULE = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"
S3_ENTRYPOINT_MODULE = "kubeflow.s3_entrypoint"


class CompileError(RuntimeError):
    """The compiled spec is unusable on a cluster (e.g. it holds a path of the build machine)."""


def pipeline_config(
    settings: KubeflowSettings, profile: str = KUBEFLOW_DEFAULT_PROFILE, **overrides
) -> PipelineConfig:
    """Builds the Kubeflow-flavoured PipelineConfig: storage root, the pods' data folder, Beam arguments.

    Args:
        settings: the Kubeflow settings.
        profile: the named profile (`test`, `quick`, `full`).
        **overrides: other PipelineConfig fields (None values are ignored).

    Raises:
        ConfigError: an unknown profile or field, or an invalid value.
    """
    fingerprint = settings.data_fingerprint
    if not fingerprint and settings.data_dir == IMAGE_DATA_DIR:
        # The image holds Debian's copy of the canonical files, whose digests are known.
        fingerprint = fashion_mnist.data_fingerprint(fashion_mnist.CANONICAL_SHA256)
    fields = field_names()
    # Files of the source tree, as the pods see them (their defaults would be this machine's paths).
    image_files = {
        name: f"{IMAGE_SOURCE_DIR}/{relative}"
        for name, relative in SOURCE_FILE_FIELDS.items()
        if name in fields and overrides.get(name) is None
    }
    # make_config resolves `root` against this machine; the real root (a URI or a pod path) replaces it.
    config = make_config(profile, ".", **overrides)
    return dataclasses.replace(
        config,
        root=settings.root,
        data_dir=settings.data_dir,
        data_fingerprint=fingerprint,
        beam_args=settings.beam_args,
        **image_files,
    )


def build_pipeline(settings: KubeflowSettings, config: PipelineConfig):
    """Builds the factory's pipeline (no ML Metadata connection: KFP has its own) with per-pod resources."""
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.dsl.components.base import base_component

    from pipeline.pipeline import create_pipeline

    pipeline = create_pipeline(
        config, metadata_connection_config=None, setup_file=f"{IMAGE_SOURCE_DIR}/{CHECKOUT_SETUP_FILE.name}"
    )
    resource_spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec
    ids = {node.id for node in pipeline.components}
    unknown = sorted(set(settings.resources) - ids)
    if unknown:
        raise ConfigError(f"resources name unknown component(s) {', '.join(unknown)}; known: {sorted(ids)}")
    for node in pipeline.components:
        # Resolvers and importers run in KFP's own driver, not in a container of ours.
        if isinstance(node, base_component.BaseComponent):
            resources = settings.resources_for(node.id)
            node.with_platform_config(
                resource_spec(cpu_limit=resources.cpu, memory_limit=resources.memory_gb)
            )
    return pipeline


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def promote_runtime_parameters(spec: dict, names: tuple[str, ...]) -> None:
    """Turns compiled constants into pipeline inputs whose defaults are those constants.

    This is what `RuntimeParameter` compiles to, except that TFX's YAML output drops the defaults
    (it keeps them in the PipelineJob's runtime config, which KFP's YAML has no place for).
    """
    tasks = spec["root"]["dag"]["tasks"]
    for name in names:
        component, parameter = name.split(".", 1)
        if component not in tasks:
            if name in DEFAULT_RUNTIME_PARAMETERS:
                continue
            raise ConfigError(f"runtime parameter {name}: the pipeline has no component {component}")
        inputs = tasks[component].get("inputs", {}).get("parameters", {})
        constant = inputs.get(parameter, {}).get("runtimeValue", {})
        if "constant" not in constant:
            raise ConfigError(f"runtime parameter {name}: {component} has no constant parameter {parameter}")
        definition = spec["components"][tasks[component]["componentRef"]["name"]]
        kind = definition["inputDefinitions"]["parameters"][parameter]["parameterType"]
        default = constant["constant"]
        if kind == "NUMBER_INTEGER":
            default = int(default)
        input_name = f"{_snake_case(component)}_{parameter}"
        root_inputs = spec["root"].setdefault("inputDefinitions", {}).setdefault("parameters", {})
        root_inputs[input_name] = {"parameterType": kind, "defaultValue": default, "isOptional": True}
        inputs[parameter] = {"componentInputParameter": input_name}


def build_machine_paths() -> list[str]:
    """Returns this machine's folders that must never appear in a spec: checkout, home, temp, cwd."""
    checkout = Path(fashion_mnist.__file__).resolve().parents[1]
    candidates = {checkout, Path.home(), Path(tempfile.gettempdir()), Path.cwd()}
    expanded = candidates | {p.resolve() for p in candidates}
    # A working directory of `/` would match every path.
    return sorted(str(p) for p in expanded if str(p) != "/")


def find_build_machine_paths(text: str, paths: list[str] | None = None) -> list[str]:
    """Returns the build-machine paths that occur in `text` as whole path prefixes."""
    found = []
    for path in paths if paths is not None else build_machine_paths():
        # Preceded by nothing path-like (so `gs://b/root` is not `/root`), followed by a separator or end.
        if re.search(r"(?<![\w/.:-])" + re.escape(path) + r"(?=/|$|[\"'\s,}\]\\])", text):
            found.append(path)
    return found


def compile_spec(settings: KubeflowSettings, profile: str = KUBEFLOW_DEFAULT_PROFILE, **overrides) -> dict:
    """Compiles the pipeline into a KFP v2 PipelineSpec, as a dict that parses strictly as the proto.

    Raises:
        ConfigError: invalid settings or configuration.
        CompileError: the spec holds a path of the build machine.
    """
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

    config = pipeline_config(settings, profile, **overrides)
    pipeline = build_pipeline(settings, config)
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
            default_image=settings.image, use_pipeline_spec_2_1=True
        )
    )
    job = runner.run(pipeline, write_out=False)
    spec = copy.deepcopy(job["pipelineSpec"])
    # KFP's YAML carries no runtime config, so the root travels in the spec itself.
    spec["defaultPipelineRoot"] = str(config.pipeline_root)
    if settings.root.startswith(S3_SCHEME):
        use_s3_entrypoint(spec, settings.pod_environment())
    promote_runtime_parameters(spec, settings.runtime_parameters)
    # Strict: an unknown field raises here rather than on the cluster.
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    if spec.get("schemaVersion") != SCHEMA_VERSION:
        raise CompileError(
            f"schema {spec.get('schemaVersion')}; the KFP 2.x API server takes {SCHEMA_VERSION}"
        )
    leaks = find_build_machine_paths(json.dumps(spec))
    if leaks:
        raise CompileError(f"the compiled spec refers to this machine's {', '.join(leaks)}")
    return spec


def use_s3_entrypoint(spec: dict, environment: dict[str, str]) -> None:
    """Makes every container task of the spec run the S3 entrypoint, with `environment` set.

    Raises:
        CompileError: a task's command is not TFX's entrypoint (TFX changed how it compiles).
    """
    for label, executor in spec["deploymentSpec"]["executors"].items():
        container = executor.get("container")
        if container is None:
            continue
        if container.get("command") != ["python", "-m", TFX_ENTRYPOINT_MODULE]:
            raise CompileError(f"executor {label} runs {container.get('command')}, not TFX's entrypoint")
        container["command"] = ["python", "-m", S3_ENTRYPOINT_MODULE]
        if environment:
            container["env"] = [{"name": name, "value": value} for name, value in sorted(environment.items())]


def kubernetes_platform_spec(settings: KubeflowSettings, spec: dict) -> dict | None:
    """Returns KFP's Kubernetes platform spec for the compiled spec, or None if it needs none.

    For an `s3://` root every container executor gets the credentials from the settings' secret as
    environment variables: the `secretAsEnv` entry `kfp-kubernetes`' `use_secret_as_env` writes (built
    with its proto, `kfp.kubernetes.kubernetes_executor_config_pb2`), placed where kfp's compiler puts a
    task's platform config (`platforms.kubernetes.deploymentSpec.executors.<executor label>`).
    """
    from google.protobuf import json_format
    from kfp.kubernetes import kubernetes_executor_config_pb2 as kubernetes_pb2
    from kfp.pipeline_spec import pipeline_spec_pb2

    if not settings.root.startswith(S3_SCHEME):
        return None
    config = kubernetes_pb2.KubernetesExecutorConfig(
        secret_as_env=[
            kubernetes_pb2.SecretAsEnv(
                secret_name=settings.s3_secret,
                key_to_env=[
                    kubernetes_pb2.SecretAsEnv.SecretKeyToEnvMap(secret_key=key, env_var=env)
                    for key, env in S3_SECRET_KEYS_TO_ENV.items()
                ],
            )
        ]
    )
    executor_config = json_format.MessageToDict(config)
    executors = {
        label: copy.deepcopy(executor_config)
        for label, executor in spec["deploymentSpec"]["executors"].items()
        if "container" in executor
    }
    platform = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}
    # Strict, as kfp's client parses it on upload.
    json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec())
    return platform


def check_output(output: str | Path) -> str:
    """Makes sure the spec can be written at `output` (creating missing folders), before compiling.

    Returns:
        The output path as given.

    Raises:
        ConfigError: a name that is not .yaml/.yml, or a folder that cannot be created or written.
    """
    import tensorflow as tf

    text = str(output)
    if not text.strip() or any(not c.isprintable() for c in text):
        raise ConfigError(f"output must name a .yaml file, got {text!r}")
    if posixpath.splitext(text)[1] not in SPEC_SUFFIXES:
        raise ConfigError(f"output must end in {' or '.join(SPEC_SUFFIXES)} (KFP's format), got {text}")
    folder = posixpath.dirname(text) or "."
    probe = posixpath.join(folder, f".compile-probe-{uuid.uuid4().hex}")
    try:
        tf.io.gfile.makedirs(folder)
        if tf.io.gfile.isdir(text):
            raise ConfigError(f"output {text} is a folder; name a .yaml file")
        with tf.io.gfile.GFile(probe, "w") as out:
            out.write("")
        tf.io.gfile.remove(probe)
    except (tf.errors.OpError, OSError) as err:
        reason = getattr(err, "message", None) or getattr(err, "strerror", None) or str(err)
        raise ConfigError(f"cannot write the spec into {folder}: {reason}") from None
    return text


def write_spec(spec: dict, output: str | Path, platform: dict | None = None) -> Path:
    """Writes the spec as KFP YAML (the form `kfp.Client` uploads) and returns its path.

    A platform spec, if any, follows as a second YAML document, as kfp's compiler writes it.

    The file is written under a temporary name and renamed, so a failure leaves no half-written spec.

    Raises:
        ConfigError: the output does not end in .yaml or .yml, or its folder cannot be written.
    """
    import tensorflow as tf
    import yaml

    text = check_output(output)
    header = (
        f"# PIPELINE DEFINITION\n# Name: {spec['pipelineInfo']['name']}\n"
        "# Compiled by `fashion-tfx kubeflow compile` from pipeline/pipeline.py.\n"
    )
    partial = posixpath.join(posixpath.dirname(text) or ".", f".{posixpath.basename(text)}.partial")
    try:
        with tf.io.gfile.GFile(partial, "w") as out:
            documents = [spec, platform] if platform else [spec]
            out.write(header + yaml.safe_dump_all(documents, sort_keys=True))
        tf.io.gfile.rename(partial, text, overwrite=True)
    except (tf.errors.OpError, OSError) as err:
        if tf.io.gfile.exists(partial):
            tf.io.gfile.remove(partial)
        reason = getattr(err, "message", None) or getattr(err, "strerror", None) or str(err)
        raise ConfigError(f"cannot write the spec {text}: {reason}") from None
    return Path(text)


def compile_pipeline(
    settings: KubeflowSettings, output: str | Path, profile: str = KUBEFLOW_DEFAULT_PROFILE, **overrides
) -> Path:
    """Compiles the pipeline and writes its KFP YAML to `output`; returns the written path.

    The output is checked first: a folder that cannot be written is refused before the (slow) compile.
    """
    check_output(output)
    spec = compile_spec(settings, profile, **overrides)
    return write_spec(spec, output, kubernetes_platform_spec(settings, spec))
