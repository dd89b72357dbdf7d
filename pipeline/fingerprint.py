"""Digests of the code each custom pipeline step runs, so that TFX's cache re-runs a step when it changes.

TFX caches an execution when its inputs and parameters are unchanged. Function and executor paths
(`run_fn="models.trainer.run_fn"`) name the code without pinning its content, so the factory adds a
digest of the code that determines a step's output to that step's parameters: the model's to
Transform, Tuner and Trainer (`custom_config`), the upscaler's to ImageUpscaler, the report's to
EvaluationReport. A digest covers the step's own package and every project module it imports,
directly or through others, and nothing else: editing a report's drawing does not retrain.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from pathlib import Path

# The project's top-level packages: setup.py's FOLDERS (tests/test_packaging.py checks they agree); imports
# of anything else are libraries, pinned by the lock.
PROJECT_PACKAGES = ("pipeline", "components", "models", "data", "kubeflow", "serving", "security", "compat")

# The model code: the package TFX calls into (preprocessing_fn, tuner_fn, run_fn) and the Tuner's
# executor; what they import (the in-graph resize, the class names, the serving contract, the warm-up
# examples) follows.
MODEL_CODE = ("models", "components.tuner")
# The ImageUpscaler: its executor, the Beam pipeline, the resize and the fidelity report.
UPSCALER_CODE = ("components.upscaler",)
# The EvaluationReport: the report, its figures and the model card.
REPORT_CODE = ("components.evaluation_report",)


def _module_files(module: str, whole_package: bool) -> list[Path]:
    """The source files of `module`: its file (a package's `__init__.py`), or every .py file of a package.

    Only the top-level package is looked up through the import system (which finds a copy of the code
    on PYTHONPATH first); the rest of the name is followed on disk, so nothing is imported.
    """
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return []
    if spec is None or spec.origin is None:
        return []
    if not spec.submodule_search_locations:  # a plain module
        return [Path(spec.origin)] if not rest and spec.origin.endswith(".py") else []
    location = Path(next(iter(spec.submodule_search_locations))).joinpath(*rest)
    if location.with_suffix(".py").is_file():
        return [location.with_suffix(".py")]
    if not (location / "__init__.py").is_file():
        return []  # a name imported from a module (a class, a function), not a module
    if whole_package:
        return sorted(location.rglob("*.py"))
    return [location / "__init__.py"]


def _imported_modules(path: Path) -> set[str]:
    """The project modules a source file imports (at any depth in the file), with their parent packages."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from data import classes` imports the module data.classes (when it is one).
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    project = {n for n in names if n.split(".")[0] in PROJECT_PACKAGES}
    parents = {".".join(n.split(".")[:i]) for n in project for i in range(1, n.count(".") + 1)}
    return project | parents


def source_files(roots: tuple[str, ...]) -> list[Path]:
    """The files of `roots` and of every project module they import, transitively."""
    seen_modules: set[str] = set()
    files: dict[Path, None] = {}
    pending = list(roots)
    while pending:
        module = pending.pop()
        if module in seen_modules:
            continue
        seen_modules.add(module)
        for path in _module_files(module, whole_package=module in roots):
            if path not in files:
                files[path] = None
                pending.extend(_imported_modules(path) - seen_modules)
    return sorted(files)


def code_fingerprint(roots: tuple[str, ...] = MODEL_CODE) -> str:
    """Returns a 16-hex-digit SHA-256 over the names and contents of the code `roots` runs."""
    digest = hashlib.sha256()
    for path in source_files(roots):
        digest.update(f"{path.parent.name}/{path.name}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
