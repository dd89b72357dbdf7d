"""Kubeflow-only settings, typed and validated: image, storage, per-component resources, run parameters."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from data import fashion_mnist
from pipeline import nodes
from pipeline.config import (
    IN_MEMORY_BEAM_ARGS,
    MULTI_PROCESS_BEAM_ARGS,
    S3_SCHEME,
    STORAGE_SCHEMES,
    ConfigError,
    StorageRoot,
)

# Where the Dockerfile's `apt-get install dataset-fashion-mnist` puts the four IDX files in the image.
IMAGE_DATA_DIR = str(fashion_mnist.DEBIAN_DIR)
# Beam on the component's own pod by default, one worker per requested core (DEFAULT_COMPONENT_RESOURCES);
# pass Dataflow or Flink arguments to scale out (see the README).
DEFAULT_BEAM_ARGS = MULTI_PROCESS_BEAM_ARGS


def default_beam_args(root: str) -> tuple[str, ...]:
    """Returns the pods' Beam arguments when none are given: in the pod's own process on an s3:// root.

    Beam's worker processes are fresh interpreters that do not import tensorflow-io, so TensorFlow inside
    them (TFMA loading the model, TFT's analysers) could not open s3:// paths; the in-process runner is
    what the S3 rehearsal and the S3 run test exercise.
    """
    return IN_MEMORY_BEAM_ARGS if root.startswith(S3_SCHEME) else DEFAULT_BEAM_ARGS


# Executor args TFX's V2 runner writes itself; a Beam argument must not shadow them.
_RESERVED_ARGS = (
    "--executor_class_path",
    "--json_serialized_invocation_args",
    "--json_serialized_inputs_spec",
)
# An image reference with an explicit tag or digest, after Docker's reference grammar (ASCII only; a
# registry host with an optional port, lower-case path components): a moving `latest` makes runs
# unreproducible, and anything else (a trailing newline, control characters, `::`) is not an image.
_HOST_PART = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?/)"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_PATTERN = re.compile(
    rf"{_DOMAIN}?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?:@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})",
    re.ASCII,
)
# A Beam argument: `--name` or `--name=value`, with a name and no control characters.
_BEAM_ARG_PATTERN = re.compile(r"--[A-Za-z][A-Za-z0-9_-]*(?:=[^\x00-\x1f\x7f]*)?", re.ASCII)


@dataclasses.dataclass(frozen=True)
class Resources:
    """CPU and memory limits of one component's pod.

    Attributes:
        cpu: cores (fractions allowed).
        memory_gb: memory in GB (KFP's unit for `memoryLimit`).
    """

    cpu: float
    memory_gb: float

    def __post_init__(self) -> None:
        for name in ("cpu", "memory_gb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1024:
                raise ConfigError(f"resources {name} must be a number in (0, 1024], got {value!r}")

    @classmethod
    def parse(cls, text: str) -> Resources:
        """Parses `CPU,MEMORY_GB`, e.g. `4,16`.

        Raises:
            ConfigError: the text is not two positive numbers.
        """
        parts = text.split(",")
        try:
            cpu, memory = (float(p) for p in parts)
        except ValueError:
            raise ConfigError(f"resources must read CPU,MEMORY_GB (e.g. 4,16), got {text!r}") from None
        return cls(cpu, memory)


# Applied to the components the pipeline has; the Tuner and Trainer train models, so they get more.
DEFAULT_RESOURCES: dict[str, Resources] = {
    nodes.TUNER: Resources(cpu=4, memory_gb=16),
    nodes.TRAINER: Resources(cpu=4, memory_gb=16),
}
DEFAULT_COMPONENT_RESOURCES = Resources(cpu=2, memory_gb=8)

# Execution parameters exposed as KFP run parameters, as `Component.parameter`; their compiled values
# become the defaults. Entries whose component the pipeline lacks are skipped.
DEFAULT_RUNTIME_PARAMETERS = (f"{nodes.EXAMPLE_GEN}.seed", f"{nodes.EXAMPLE_GEN}.eval_fraction")


# Pipeline roots KFP's launcher accepts are gs://, s3:// and minio:// (its `objectstore` package refuses
# every other scheme, and a volume path, with "unrecognized pipeline root format"); the pipeline's file
# layers know the first two (STORAGE_SCHEMES), and minio:// is refused with MINIO_ADVICE.
# KFP's launcher takes `minio://` roots, but no file layer of the pipeline knows the scheme; the same
# MinIO is reached through its S3 API.
MINIO_ADVICE = (
    "use s3://BUCKET/PATH with --s3-endpoint http://minio-service.kubeflow:9000 (the same MinIO, "
    "through its S3 API)"
)
# A default Kubeflow Pipelines install keeps its MinIO credentials in this secret, under these keys.
DEFAULT_S3_SECRET = "mlpipeline-minio-artifact"
S3_SECRET_KEYS_TO_ENV = {"accesskey": "AWS_ACCESS_KEY_ID", "secretkey": "AWS_SECRET_ACCESS_KEY"}
# A Kubernetes object name (DNS-1123 subdomain).
_SECRET_NAME_PATTERN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", re.ASCII)
_ENDPOINT_PATTERN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/?", re.ASCII)
_REGION_PATTERN = re.compile(r"[a-z0-9-]{1,32}", re.ASCII)


def validate_root(value: str, what: str = "pipeline_root") -> StorageRoot:
    """Returns `value` as a StorageRoot without a trailing slash.

    Raises:
        ConfigError: not a `gs://` or `s3://` URI with a bucket (the roots KFP's launcher accepts).
    """
    text = str(value)
    if text.startswith("minio://"):
        raise ConfigError(f"{what} {value!r}: minio:// roots are not supported; {MINIO_ADVICE}")
    scheme = next((s for s in STORAGE_SCHEMES if text.startswith(s)), None)
    if scheme is not None:
        text = scheme + text[len(scheme) :].rstrip("/")
    else:
        raise ConfigError(
            f"{what} must be a {' or '.join(STORAGE_SCHEMES)} URI (KFP's launcher accepts no volume "
            f"path or other scheme), got {value!r}"
        )
    if not text[len(scheme) :] or text[len(scheme) :].startswith("/"):
        raise ConfigError(f"{what} {value!r} names no bucket")
    if any(c.isspace() for c in text) or "/../" in text + "/" or "/./" in text + "/":
        raise ConfigError(f"{what} {value!r} holds whitespace or '.'/'..' segments")
    return StorageRoot(text)


@dataclasses.dataclass(frozen=True)
class KubeflowSettings:
    """What the Kubeflow runner decides beyond the pipeline's own configuration.

    Attributes:
        image: the pipeline image every component runs in, with a tag or digest.
        root: the run root, a `gs://` or `s3://` URI: artifacts under `<root>/pipeline`, the served
            model under `<root>/serving`.
        data_dir: the IDX folder as the pods see it: the image's copy (default) or a mounted volume.
        data_fingerprint: digest of that data for the cache key; computed for the image's copy.
        beam_args: arguments for every Beam-powered component (DirectRunner, Dataflow or Flink).
        resources: component id -> CPU and memory; these override the defaults for that component.
        default_resources: resources of the components not named in `resources` or DEFAULT_RESOURCES.
        runtime_parameters: `Component.parameter` names exposed as KFP run parameters.
        s3_endpoint: for an `s3://` root, the S3 API's URL as the pods reach it (a MinIO service);
            empty for AWS S3.
        s3_region: for an `s3://` root, the bucket's region (empty: the SDKs' default).
        s3_secret: for an `s3://` root, the Kubernetes secret holding the credentials under the keys
            of S3_SECRET_KEYS_TO_ENV (a default install's MinIO secret by default).
    """

    image: str
    root: str
    data_dir: str = IMAGE_DATA_DIR
    data_fingerprint: str = ""
    beam_args: tuple[str, ...] = DEFAULT_BEAM_ARGS
    resources: Mapping[str, Resources] = dataclasses.field(default_factory=dict)
    default_resources: Resources = DEFAULT_COMPONENT_RESOURCES
    runtime_parameters: tuple[str, ...] = DEFAULT_RUNTIME_PARAMETERS
    s3_endpoint: str = ""
    s3_region: str = ""
    s3_secret: str = DEFAULT_S3_SECRET

    def __post_init__(self) -> None:
        if not isinstance(self.image, str) or not _IMAGE_PATTERN.fullmatch(self.image):
            raise ConfigError(
                f"image must be a registry reference with a tag or digest (e.g. "
                f"ghcr.io/acme/fashion-tfx:0.1.0), got {self.image!r}"
            )
        if self.image.endswith(":latest"):
            raise ConfigError("image tag 'latest' moves; tag the image with a version or use its digest")
        object.__setattr__(self, "root", validate_root(self.root, "root"))
        # IdxExampleGen reads with local file I/O, so the data must be a path in the pod: the image's copy
        # or a mounted volume (a bucket mounted with a CSI driver works too).
        if not str(self.data_dir).startswith("/"):
            raise ConfigError(f"data_dir must be an absolute path in the pod, got {self.data_dir!r}")
        object.__setattr__(self, "beam_args", tuple(self.beam_args))
        for arg in self.beam_args:
            if not isinstance(arg, str) or not _BEAM_ARG_PATTERN.fullmatch(arg):
                raise ConfigError(
                    f"beam argument {arg!r} must read --name=value (a name after '--', no control characters)"
                )
            if arg.split("=", 1)[0] in _RESERVED_ARGS:
                raise ConfigError(f"beam argument {arg!r} is a TFX argument; TFX's runner sets it itself")
        for component, value in self.resources.items():
            if not isinstance(value, Resources):
                raise ConfigError(f"resources[{component!r}] must be Resources, got {value!r}")
        object.__setattr__(self, "runtime_parameters", tuple(self.runtime_parameters))
        for name in self.runtime_parameters:
            if not re.fullmatch(r"[A-Za-z][\w]*\.[A-Za-z_]\w*", name):
                raise ConfigError(f"runtime parameter must read Component.parameter, got {name!r}")
        if self.s3_endpoint and not _ENDPOINT_PATTERN.fullmatch(self.s3_endpoint):
            raise ConfigError(
                f"s3 endpoint must be an http:// or https:// URL of a host and port (e.g. "
                f"http://minio-service.kubeflow:9000), got {self.s3_endpoint!r}"
            )
        if self.s3_region and not _REGION_PATTERN.fullmatch(self.s3_region):
            raise ConfigError(f"s3 region must read like us-east-1, got {self.s3_region!r}")
        if not _SECRET_NAME_PATTERN.fullmatch(self.s3_secret):
            raise ConfigError(f"s3 secret must be a Kubernetes secret name, got {self.s3_secret!r}")
        is_s3 = self.root.startswith(S3_SCHEME)
        if not is_s3 and (self.s3_endpoint or self.s3_region or self.s3_secret != DEFAULT_S3_SECRET):
            raise ConfigError(f"s3 settings apply to an s3:// root only; the root is {self.root}")

    def pod_environment(self) -> dict[str, str]:
        """Returns the environment every pod gets (besides the secret's credentials) to reach the store.

        For an `s3://` root: the endpoint for tensorflow-io (`S3_ENDPOINT`) and for boto3 and Beam
        (`AWS_ENDPOINT_URL`), and the region; nothing for `gs://` (Google's default credentials).
        """
        if not self.root.startswith(S3_SCHEME):
            return {}
        environment = {}
        if self.s3_endpoint:
            endpoint = self.s3_endpoint.rstrip("/")
            environment |= {"S3_ENDPOINT": endpoint, "AWS_ENDPOINT_URL": endpoint}
        if self.s3_region:
            environment |= {"AWS_REGION": self.s3_region, "AWS_DEFAULT_REGION": self.s3_region}
        return environment

    def resources_for(self, component_id: str) -> Resources:
        """Returns the resources of one component: explicit, else its default, else the general default."""
        return (
            self.resources.get(component_id) or DEFAULT_RESOURCES.get(component_id) or self.default_resources
        )
