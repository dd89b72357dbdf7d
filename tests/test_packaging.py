"""The project's top-level import names: what setup.py installs, and that no other distribution has them."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from pathlib import Path

from support import setup_arguments

from pipeline.fingerprint import PROJECT_PACKAGES

REPO = Path(__file__).resolve().parent.parent


def _top_level_names() -> set[str]:
    arguments = setup_arguments()
    return {name.split(".")[0] for name in arguments["packages"]} | set(arguments["py_modules"])


def _normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock_distributions() -> set[str]:
    lines = (REPO / "requirements.lock").read_text().splitlines()
    return {_normalized(line.split("==")[0]) for line in lines if "==" in line and not line.startswith(" ")}


def test_every_repo_root_package_folder_is_installed():
    folders = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"bench"}
    assert folders <= _top_level_names()
    assert {"pipeline", "data", "models"} <= _top_level_names()


def test_the_code_fingerprint_knows_every_installed_package():
    # setup.py's FOLDERS is the package list; the code fingerprint follows imports of exactly those.
    packages = {name for name in setup_arguments()["packages"] if "." not in name}
    assert set(PROJECT_PACKAGES) == packages


def test_no_installed_distribution_provides_a_project_top_level_name():
    # The bare folder names (`data`, `models`, `kubeflow`, ...) are common; a distribution in the lock
    # that installs one of them would shadow this project's package, or be shadowed by it.
    providers = importlib.metadata.packages_distributions()
    names = _top_level_names()
    clashes = {
        name: sorted(d for d in providers.get(name, []) if _normalized(d) != "fashion-tfx") for name in names
    }
    assert not {name: dists for name, dists in clashes.items() if dists}
    # The check above sees every distribution of the lock only if all of them are installed.
    installed = {_normalized(d.metadata["Name"]) for d in importlib.metadata.distributions()}
    lock = _lock_distributions()
    assert lock <= installed, f"not installed: {sorted(lock - installed)}"


def test_each_project_name_imports_from_this_checkout():
    for name in sorted(_top_level_names()):
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        assert Path(spec.origin).resolve().is_relative_to(REPO), f"{name} imports from {spec.origin}"
