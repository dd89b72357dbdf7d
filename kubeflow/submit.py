"""Submitting a compiled pipeline spec to a Kubeflow Pipelines 2.x cluster with the kfp client."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from pipeline.config import ConfigError


@dataclasses.dataclass(frozen=True)
class SubmittedRun:
    """A run the cluster accepted: its id and where to watch it."""

    run_id: str
    url: str


def _load_spec(package: str | Path) -> dict:
    """Returns a compiled spec's pipeline spec (its YAML's first document) as a dict.

    Raises:
        ConfigError: the file is missing, not UTF-8 text, not YAML, or not a KFP pipeline spec.
    """
    import yaml

    path = Path(package)
    if not path.is_file():
        raise ConfigError(f"pipeline package {path} not found; run `fashion-tfx kubeflow compile` first")
    try:
        # The pipeline spec is the first document; a platform spec (s3:// roots) may follow.
        spec = next(yaml.safe_load_all(path.read_bytes().decode("utf-8")), None)
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"pipeline package {path} is not a YAML file "
            f"(not UTF-8 text: byte {err.start} is {err.object[err.start]:#04x})"
        ) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"pipeline package {path} is not YAML: {' '.join(str(err).split())}") from err
    if not isinstance(spec, dict) or not isinstance(spec.get("root"), dict) or "deploymentSpec" not in spec:
        raise ConfigError(f"{path} is not a KFP pipeline spec")
    return spec


def read_parameters(package: str | Path) -> dict[str, dict]:
    """Returns the run parameters a compiled spec declares (name -> definition).

    Raises:
        ConfigError: the file is missing or not a KFP YAML spec.
    """
    return _load_spec(package)["root"].get("inputDefinitions", {}).get("parameters", {})


def parameter_fields(package: str | Path) -> dict[str, str]:
    """Returns run parameter name -> the component parameter it feeds (e.g. `seed`), from the spec's DAG.

    Raises:
        ConfigError: the file is missing or not a KFP YAML spec.
    """
    fields = {}
    for task in _load_spec(package)["root"].get("dag", {}).get("tasks", {}).values():
        for parameter, source in task.get("inputs", {}).get("parameters", {}).items():
            if isinstance(source, dict) and "componentInputParameter" in source:
                fields[source["componentInputParameter"]] = parameter
    return fields


# KFP parameter types -> the Python types a JSON value of that type may take (bool is not a number),
# and how to name them in an error.
_PARAMETER_TYPES = {
    "NUMBER_INTEGER": ((int,), "an integer"),
    "NUMBER_DOUBLE": ((int, float), "a number"),
    "STRING": ((str,), "a string"),
    "BOOLEAN": ((bool,), "true or false"),
    "LIST": ((list,), "a JSON list"),
    "STRUCT": ((dict,), "a JSON object"),
}


def check_argument(name: str, value: object, definition: dict, field: str | None = None) -> None:
    """Checks one run parameter value against its declared type and, for a configuration field, its range.

    The ranges are the pipeline configuration's own (`PipelineConfig.validate`), so a run parameter
    cannot start a run that `fashion-tfx run` would refuse.

    Raises:
        ConfigError: a value of the wrong type, not finite, or out of its field's range.
    """
    import math

    from pipeline.config import field_names, make_config

    kind = definition.get("parameterType", "")
    if kind in _PARAMETER_TYPES:
        allowed, described = _PARAMETER_TYPES[kind]
        wrong_bool = isinstance(value, bool) and bool not in allowed
        if wrong_bool or not isinstance(value, allowed):
            raise ConfigError(f"run parameter {name} must be {described}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"run parameter {name} must be a finite number, got {value!r}")
    known = field_names()
    if field in known:
        try:
            make_config("test", "/", **{field: value})
        except ConfigError as err:
            raise ConfigError(f"run parameter {name}: {err}") from None


def parse_arguments(
    pairs: list[str], declared: dict[str, dict], fields: dict[str, str] | None = None
) -> dict[str, object]:
    """Parses NAME=VALUE pairs (VALUE as JSON when it parses, else a string) against the declared names.

    Args:
        pairs: the `--param` values.
        declared: the spec's run parameters (name -> definition, see `read_parameters`).
        fields: run parameter -> component parameter (see `parameter_fields`), for range checks.

    Raises:
        ConfigError: a pair without `=`, a name the spec does not declare, or a value of the wrong
            type or out of range.
    """
    arguments: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise ConfigError(f"--param must read NAME=VALUE, got {pair!r}")
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ConfigError(f"the pipeline has no run parameter {name!r}; it has: {known}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        # A declared string stays the text given (`--param tag=007` is the string "007").
        if declared[name].get("parameterType") == "STRING":
            value = text
        check_argument(name, value, declared[name], (fields or {}).get(name))
        arguments[name] = value
    return arguments


def submit(
    host: str,
    package: str | Path,
    arguments: dict[str, object] | None = None,
    *,
    experiment: str = "fashion-tfx",
    run_name: str | None = None,
    namespace: str | None = None,
    service_account: str | None = None,
    client_factory=None,
) -> SubmittedRun:
    """Uploads the spec and starts a run (`kfp.Client(host).create_run_from_pipeline_package`).

    Args:
        host: the KFP API endpoint, e.g. http://localhost:8080 after a port-forward.
        package: the compiled YAML.
        arguments: run parameter values; the spec's defaults apply to the others.
        experiment: the experiment the run is filed under (created if missing).
        run_name: the run's display name (default: file name and time).
        namespace: the Kubernetes namespace, on multi-user installations.
        service_account: the Kubernetes service account the pods run as.
        client_factory: builds the client (tests pass a fake); `kfp.Client` by default.
    """
    read_parameters(package)
    if client_factory is None:
        import kfp

        client_factory = kfp.Client
    client = client_factory(host=host, namespace=namespace)
    result = client.create_run_from_pipeline_package(
        str(package),
        arguments=arguments or {},
        run_name=run_name,
        experiment_name=experiment,
        namespace=namespace,
        service_account=service_account,
    )
    return SubmittedRun(run_id=result.run_id, url=f"{host.rstrip('/')}/#/runs/details/{result.run_id}")
