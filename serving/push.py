"""Serving-root helpers for the Pusher: writability check, safe model paths and TF Serving's models.config."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.signatures import DEFAULT_MODEL_NAME

MODELS_CONFIG = "models.config"
CONFIG_MODE = 0o644  # readable by TF Serving's user, whoever owns the file
# Where the deployment files mount the serving root inside the tensorflow/serving container.
CONTAINER_ROOT = "/models"
# The TF Serving image the docs, the run summary and serving/k8s/deployment.yaml use.
TF_SERVING_IMAGE = "tensorflow/serving:2.16.1"
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class ServingRootError(ValueError):
    """The serving root or a model name cannot be used; the message says why and what to do."""


def validate_model_name(model_name: str) -> str:
    """Returns the name if it is a single safe folder name.

    Raises:
        ServingRootError: an empty, absolute, dotted (`.`, `..`) or multi-part name.
    """
    if not isinstance(model_name, str) or not _MODEL_NAME.fullmatch(model_name) or set(model_name) <= {"."}:
        raise ServingRootError(
            f"invalid model name {model_name!r}: use letters, digits, '.', '-' and '_' only, starting "
            "with a letter or digit (no path separators, no absolute paths)"
        )
    return model_name


def safe_model_path(serving_root: str | Path, model_name: str) -> Path:
    """Returns `<serving_root>/<model_name>`, refusing names that could escape the serving root.

    Raises:
        ServingRootError: an invalid name (see `validate_model_name`), or a model folder that is a
            symlink leading outside the serving root.
    """
    root = Path(serving_root).expanduser().absolute()
    path = root / validate_model_name(model_name)
    # The name pattern already excludes separators; a symlinked model folder could still escape.
    if path.exists() and root.resolve() not in path.resolve().parents:
        raise ServingRootError(f"model folder {path} resolves outside the serving root {root}")
    return path


def add_model_entry(
    config: model_server_config_pb2.ModelServerConfig, model_name: str, base_root: str = CONTAINER_ROOT
) -> None:
    """Adds (or updates) the `model_config_list` entry of one model in a ModelServerConfig.

    Args:
        config: the config to change in place.
        model_name: the served model (its folder name under the serving root).
        base_root: the serving root as TF Serving sees it (`/models` in the container).
    """
    validate_model_name(model_name)
    entries = [e for e in config.model_config_list.config if e.name == model_name]
    entry = entries[0] if entries else config.model_config_list.config.add()
    entry.name = model_name
    entry.base_path = f"{base_root.rstrip('/')}/{model_name}"
    entry.model_platform = "tensorflow"


def serving_root_as_seen(serving_root: str | Path, seen_as: str | None = None) -> str:
    """Returns the serving root as TF Serving sees it, the base of each model's `base_path`.

    Args:
        serving_root: the serving folder the pipeline writes (a local folder or a bucket URI).
        seen_as: where TF Serving sees that folder, when the caller knows (a mount point of its own).

    Returns:
        `seen_as` when given; a bucket URI itself (TF Serving reads `gs://` and `s3://` directly);
        otherwise `/models`, where the documented container mounts a local serving folder.
    """
    if seen_as:
        return seen_as.rstrip("/")
    if "://" in str(serving_root):
        return str(serving_root).rstrip("/")
    return CONTAINER_ROOT


def write_models_config(
    serving_root: str | Path, model_name: str = DEFAULT_MODEL_NAME, base_root: str | None = None
) -> str | Path:
    """Writes (or updates) `<serving_root>/models.config` so it lists `model_name`.

    `base_root` is the serving root as TF Serving sees it (see `serving_root_as_seen`, the default).

    Other entries already listed are kept as they are; the file is replaced at once (a rename) so a
    TF Serving polling it (`--model_config_file_poll_wait_seconds`) never reads half a file. The
    serving root may be a local folder or a bucket (`gs://...`, through tf.io.gfile).

    Returns:
        The path of the config file.

    Raises:
        ServingRootError: an invalid model name, or an existing file that is not a valid config.
    """
    import tensorflow as tf

    if "://" in str(serving_root):
        root: str | Path = str(serving_root).rstrip("/")
        validate_model_name(model_name)  # a bucket has no symlinks to escape through
        path: str | Path = f"{root}/{MODELS_CONFIG}"
    else:
        root = Path(serving_root).expanduser().absolute()
        safe_model_path(root, model_name)
        path = root / MODELS_CONFIG
    config = model_server_config_pb2.ModelServerConfig()
    if tf.io.gfile.exists(str(path)):
        try:
            with tf.io.gfile.GFile(str(path)) as source:
                text_format.Parse(source.read(), config)
        except text_format.ParseError as err:
            raise ServingRootError(f"{path} is not a TF Serving model config ({err})") from err
    add_model_entry(config, model_name, serving_root_as_seen(serving_root, base_root))
    text = text_format.MessageToString(config)
    tf.io.gfile.makedirs(str(root))
    tmp = f"{root}/.{MODELS_CONFIG}.{uuid.uuid4().hex}"
    with tf.io.gfile.GFile(tmp, "w") as out:
        out.write(text)
    if "://" not in str(tmp):
        # A TF Serving running as another user must read its config, whatever the umask says.
        os.chmod(tmp, CONFIG_MODE)
    tf.io.gfile.rename(tmp, str(path), overwrite=True)
    return path
