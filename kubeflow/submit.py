"""Submitting a compiled pipeline spec to a Kubeflow Pipelines 2.x cluster with the kfp client."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from fashion_tfx.pipeline.config import ConfigError


@dataclasses.dataclass(frozen=True)
class SubmittedRun:
    """A run the cluster accepted: its id and where to watch it."""

    run_id: str
    url: str


def read_parameters(package: str | Path) -> dict[str, dict]:
    """Returns the run parameters a compiled spec declares (name -> definition).

    Raises:
        ConfigError: the file is missing or not a KFP YAML spec.
    """
    import yaml

    path = Path(package)
    if not path.is_file():
        raise ConfigError(f"pipeline package {path} not found; run `fashion-tfx kubeflow compile` first")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not YAML: {err}") from err
    if not isinstance(spec, dict) or "root" not in spec or "deploymentSpec" not in spec:
        raise ConfigError(f"{path} is not a KFP pipeline spec")
    return spec["root"].get("inputDefinitions", {}).get("parameters", {})


def parse_arguments(pairs: list[str], declared: dict[str, dict]) -> dict[str, object]:
    """Parses NAME=VALUE pairs (VALUE as JSON when it parses, else a string) against the declared names.

    Raises:
        ConfigError: a pair without `=`, or a name the spec does not declare.
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
            arguments[name] = json.loads(text)
        except json.JSONDecodeError:
            arguments[name] = text
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
