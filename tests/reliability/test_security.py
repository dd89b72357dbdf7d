"""Security hygiene: no unsafe deserialisation or shell in the source, and no escape from the serving root."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from data.examples import encode_png
from pipeline import cli

REPO = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".venv", ".git", "runs", "__pycache__", ".pytest_cache", ".ruff_cache"}
# Each pattern runs code or builds objects from bytes a user could hand us.
UNSAFE = {
    "pickle/marshal/dill load": re.compile(r"\b(pickle|cPickle|marshal|dill|joblib)\.loads?\("),
    "eval()": re.compile(r"(?<![\w.])eval\("),
    "exec()": re.compile(r"(?<![\w.])exec\("),
    "yaml.load without SafeLoader": re.compile(r"yaml\.load\((?![^)]*Safe)"),
    "shell=True": re.compile(r"shell\s*=\s*True"),
    "numpy allow_pickle": re.compile(r"allow_pickle\s*=\s*True"),
    "os.system": re.compile(r"\bos\.(system|popen)\("),
}


def unsafe_uses(root: Path) -> list[str]:
    """Returns `path:line: kind` for every unsafe pattern in the Python and shell files under `root`."""
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if SKIPPED_DIRS & set(relative.parts) or path.suffix not in (".py", ".sh") or path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for kind, pattern in UNSAFE.items():
                if pattern.search(line):
                    found.append(f"{relative}:{number}: {kind}")
    return found


def test_the_scanner_finds_each_unsafe_pattern(tmp_path):
    (tmp_path / "bad.py").write_text(
        "pickle.loads(blob)\nx = eval(text)\nexec(code)\nyaml.load(stream)\n"
        "subprocess.run(cmd, shell=True)\nnp.load(f, allow_pickle=True)\nos.system(cmd)\n"
        "yaml.load(stream, Loader=yaml.SafeLoader)\nmodel.evaluate(x)\n"
    )
    assert [entry.split(": ", 1)[1] for entry in unsafe_uses(tmp_path)] == list(UNSAFE)


def test_source_tree_has_no_unsafe_deserialisation_or_shell():
    assert unsafe_uses(REPO) == []


@pytest.fixture
def png(tmp_path) -> Path:
    path = tmp_path / "shirt.png"
    path.write_bytes(encode_png(np.zeros((28, 28), np.uint8)))
    return path


@pytest.mark.parametrize("name", ["../../etc", "..", "/etc/passwd", "a/../../b", ".hidden/../x", ""])
def test_predict_refuses_model_names_that_escape_the_serving_root(name, png, tmp_path, capsys):
    serving = tmp_path / "serving"
    serving.mkdir()
    code = cli.main(["predict", "--serving-root", str(serving), "--model-name", name, str(png)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith(f"fashion-tfx: error: invalid model name {name!r}"), err


def test_predict_refuses_a_symlinked_model_folder_leading_outside(png, tmp_path, capsys):
    serving, outside = tmp_path / "serving", tmp_path / "outside"
    (outside / "1").mkdir(parents=True)
    serving.mkdir()
    (serving / "fashion-tfx").symlink_to(outside)
    code = cli.main(["predict", "--serving-root", str(serving), "--model-name", "fashion-tfx", str(png)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"fashion-tfx: error: model folder {serving / 'fashion-tfx'} resolves outside"), err
