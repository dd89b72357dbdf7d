"""The private-API fence: outside compat/, no project module imports a library's private name.

ruff's SLF rules (ruff.toml) flag a private attribute access (`obj._x`); they do not see a private
name imported from a library (`from apache_beam.io.tfrecordio import _TFRecordUtil`), which this does.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The repo's own top-level names (packages, bench, the tests' helper modules): not libraries.
OWN = {
    p.stem for folder in (REPO, REPO / "tests") for p in folder.iterdir() if p.suffix == ".py" or p.is_dir()
}


def _private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in OWN:
                continue
            found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if any(p.startswith("_") for p in a.name.split(".")[1:])]
    return found


def test_no_private_library_name_is_imported_outside_compat():
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True)
    paths = [REPO / name for name in files.stdout.split() if not name.startswith("compat/")]
    assert len(paths) > 100  # the whole tree was read
    found = {str(p.relative_to(REPO)): names for p in paths if p.is_file() and (names := _private_imports(p))}
    assert found == {}


def test_the_check_sees_a_private_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from apache_beam.io.tfrecordio import _TFRecordUtil\nfrom data.idx import _x\n")
    assert _private_imports(sample) == ["apache_beam.io.tfrecordio._TFRecordUtil"]
