"""The Kubernetes files agree with the serving layout: ports, config file and mount point."""

from __future__ import annotations

from pathlib import Path

import yaml

from serving import grpc_client, push, rest
from serving.signatures import DEFAULT_MODEL_NAME

K8S = Path(__file__).resolve().parents[2] / "serving" / "k8s"


def _load(name: str) -> dict:
    return yaml.safe_load((K8S / name).read_text())


def test_deployment_serves_the_config_file_from_the_mounted_root():
    deployment = _load("deployment.yaml")
    assert deployment["kind"] == "Deployment"
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == push.TF_SERVING_IMAGE  # the image the summary and docs name
    args = container["args"]
    assert f"--port={grpc_client.DEFAULT_PORT}" in args
    assert f"--rest_api_port={rest.DEFAULT_PORT}" in args
    assert f"--model_config_file={push.CONTAINER_ROOT}/{push.MODELS_CONFIG}" in args
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": 8500, "http": 8501}
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == push.CONTAINER_ROOT
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["persistentVolumeClaim"]["claimName"] == _load("pvc.yaml")["metadata"]["name"]
    assert container["readinessProbe"]["httpGet"]["path"] == f"/v1/models/{DEFAULT_MODEL_NAME}"
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["template"]["metadata"]["labels"] == labels


def test_service_exposes_both_ports_of_the_deployment_pods():
    service, deployment = _load("service.yaml"), _load("deployment.yaml")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        "grpc": (8500, "grpc"),
        "http": (8501, "http"),
    }


def test_kustomization_lists_every_manifest():
    listed = set(_load("kustomization.yaml")["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
