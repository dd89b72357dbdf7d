"""A digest of the model code, so that TFX's cache re-runs Transform, Tuner and Trainer when it changes.

TFX caches an execution when its inputs and parameters are unchanged. Function-path arguments
(`run_fn="models.trainer.run_fn"`) name the code without pinning its content, so the
pipeline adds this digest to each model component's `custom_config`.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

# The model package, plus code the exported graph embeds: the in-graph upscale, the class names, the
# serving contract (signature names, PNG limits) and the examples written as warm-up requests.
MODULES = (
    "models",
    "components.upscaler",
    "data.examples",
    "data.fashion_mnist",
    "serving.signatures",
    "serving.payloads",
)


def _source_files(module: str) -> list[Path]:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return []
    origin = Path(spec.origin)
    if spec.submodule_search_locations:  # a package: every .py file under it
        return sorted(p for loc in spec.submodule_search_locations for p in Path(loc).rglob("*.py"))
    return [origin]


def code_fingerprint(modules: tuple[str, ...] = MODULES) -> str:
    """Returns a 16-hex-digit SHA-256 over the names and contents of the modules' source files."""
    digest = hashlib.sha256()
    for module in modules:
        for path in _source_files(module):
            digest.update(f"{module}:{path.name}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
