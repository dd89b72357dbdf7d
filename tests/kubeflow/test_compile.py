"""Compiling the pipeline factory for Kubeflow: the spec's DAG, image, resources, files and paths."""

from __future__ import annotations

import copy
import fnmatch
import importlib.util
import json
import os
import re
import shlex
import tempfile
from pathlib import Path

import pytest
import yaml
from support import setup_arguments

from kubeflow import runner
from kubeflow.runner import IMAGE_SOURCE_DIR
from kubeflow.settings import IMAGE_DATA_DIR, KubeflowSettings, Resources
from pipeline import cli
from pipeline.config import CHECKOUT_SETUP_FILE, ConfigError, make_config

REPO = Path(__file__).resolve().parents[2]
IMAGE = "registry.example.com/ml/fashion-tfx:1.2.3"
ROOT = "gs://fashion-bucket/runs"
PROFILE = "test"
RESOURCES = {"StatisticsGen": Resources(cpu=3, memory_gb=12)}
# TFX's V2 compiler splits a latest-blessed-model Resolver into two tasks with these suffixes.
RESOLVER_TASK_SUFFIXES = ("-model-blessing-resolver", "-model-resolver")


def _settings(**changes) -> KubeflowSettings:
    values = dict(image=IMAGE, root=ROOT, resources=RESOURCES)
    return KubeflowSettings(**{**values, **changes})


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[Path, dict]:
    """Compiles once through the CLI, from a temporary working directory; returns the YAML and its dict."""
    work = tmp_path_factory.mktemp("kfp-compile")
    output = work / "spec" / "fashion-tfx.yaml"
    argv = ["kubeflow", "compile", "--image", IMAGE, "--pipeline-root", ROOT, "--output", str(output)]
    argv += ["--profile", PROFILE, "--resources", "StatisticsGen=3,12"]
    previous = Path.cwd()
    os.chdir(work)
    try:
        assert cli.main(argv) == 0
    finally:
        os.chdir(previous)
    return output, yaml.safe_load(output.read_text())


@pytest.fixture(scope="module")
def local_pipeline(tmp_path_factory):
    """The pipeline as the local runner builds it, from the same factory."""
    from tfx.orchestration import metadata as tfx_metadata

    from pipeline.pipeline import create_pipeline

    root = tmp_path_factory.mktemp("local")
    config = make_config(PROFILE, root, data_dir=str(root / "idx"))
    return create_pipeline(config, tfx_metadata.sqlite_metadata_connection_config(str(root / "m.sqlite")))


def _node_of_task(task: str) -> str:
    for suffix in RESOLVER_TASK_SUFFIXES:
        if task.endswith(suffix):
            return task[: -len(suffix)]
    return task


def _executors(spec: dict) -> dict[str, dict]:
    return spec["deploymentSpec"]["executors"]


def _task_of_executor(spec: dict) -> dict[str, str]:
    """executor label -> task name."""
    tasks = spec["root"]["dag"]["tasks"]
    return {spec["components"][t["componentRef"]["name"]]["executorLabel"]: name for name, t in tasks.items()}


def _strings(value):
    """Yields every string in a nested structure, and the strings inside JSON-encoded strings."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value
        try:
            inner = json.loads(value) if value[:1] in "{[" else None
        except json.JSONDecodeError:
            inner = None
        if inner is not None:
            yield from _strings(inner)


def _dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions need a fuller matcher in this test"
    return patterns


def _ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            return True
    return False


@pytest.fixture(scope="module")
def build_context() -> set[str]:
    """Relative paths of the files `docker build .` sends, after .dockerignore."""
    patterns = _dockerignore_patterns()
    files = set()
    for folder, dirs, names in os.walk(REPO):
        rel_folder = Path(folder).relative_to(REPO).as_posix()
        rel = "" if rel_folder == "." else rel_folder + "/"
        dirs[:] = [d for d in dirs if not _ignored(rel + d, patterns)]
        files |= {rel + n for n in names if not _ignored(rel + n, patterns)}
    return files


def _packages() -> set[str]:
    """The packages setup.py installs."""
    return set(setup_arguments()["packages"])


def _top_level_names() -> set[str]:
    """The project's top-level package names (`pipeline`, `models`, ...), as setup.py installs them."""
    return {name.split(".")[0] for name in _packages()}


def _project_module_file(dotted: str) -> str | None:
    """Returns the source path (relative to the repo) of the module a project dotted path names."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = "/".join(parts[:end])
        for path in (f"{candidate}.py", f"{candidate}/__init__.py"):
            if (REPO / path).is_file():
                return path
    return None


# ---------------------------------------------------------------- the spec's format


def test_spec_parses_strictly_as_pipeline_spec(compiled):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    path, spec = compiled
    message = json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec(), ignore_unknown_fields=False)
    assert message.schema_version == runner.SCHEMA_VERSION
    assert message.pipeline_info.name == "fashion-tfx"
    assert message.default_pipeline_root == f"{ROOT}/pipeline"
    # The same reading `kfp.Client` does before uploading.
    from compat.kfp import read_pipeline_file

    assert read_pipeline_file(str(path)).pipeline_spec == message


def test_strict_parse_rejects_an_unknown_field(compiled):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec = copy.deepcopy(compiled[1])
    spec["root"]["dag"]["surprise"] = 1
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())


# ---------------------------------------------------------------- the DAG against the factory


def test_dag_has_the_local_pipelines_components(compiled, local_pipeline):
    tasks = compiled[1]["root"]["dag"]["tasks"]
    expected = {node.id for node in local_pipeline.components}
    assert expected, "the factory built no components"
    assert {_node_of_task(name) for name in tasks} == expected


def test_dag_has_the_local_pipelines_edges(compiled, local_pipeline):
    tasks = compiled[1]["root"]["dag"]["tasks"]
    edges = {
        (_node_of_task(upstream), _node_of_task(name))
        for name, task in tasks.items()
        for upstream in task.get("dependentTasks", [])
    }
    edges -= {(a, b) for a, b in edges if a == b}  # a resolver's two halves
    expected = {(up.id, node.id) for node in local_pipeline.components for up in node.upstream_nodes}
    assert edges == expected


# ---------------------------------------------------------------- image and resources


def test_every_executor_runs_the_configured_image(compiled, local_pipeline):
    from tfx.dsl.components.base import base_component

    executors = _executors(compiled[1])
    containers = [e["container"] for e in executors.values() if "container" in e]
    expected = sum(isinstance(n, base_component.BaseComponent) for n in local_pipeline.components)
    assert len(containers) == expected
    assert {c["image"] for c in containers} == {IMAGE}


def test_every_container_has_its_resources(compiled):
    spec = compiled[1]
    settings = _settings()
    tasks = _task_of_executor(spec)
    checked = 0
    for label, executor in _executors(spec).items():
        if "container" not in executor:
            continue
        expected = settings.resources_for(tasks[label])
        assert executor["container"]["resources"] == {
            "cpuLimit": expected.cpu,
            "memoryLimit": expected.memory_gb,
        }, label
        checked += 1
    assert checked
    assert _executors(spec)["StatisticsGen_executor"]["container"]["resources"]["cpuLimit"] == 3


def test_beam_args_reach_every_container(compiled):
    for executor in _executors(compiled[1]).values():
        if "container" in executor:
            args = executor["container"]["args"]
            assert all(arg in args for arg in _settings().beam_args)
            # The image's copy of the project is the Beam steps' dependency: TFX builds no package of itself.
            assert f"--setup_file={IMAGE_SOURCE_DIR}/{CHECKOUT_SETUP_FILE.name}" in args


def test_unknown_component_in_resources_is_refused():
    config = runner.pipeline_config(_settings(), PROFILE)
    with pytest.raises(ConfigError, match="Nope"):
        runner.build_pipeline(_settings(resources={"Nope": Resources(1, 1)}), config)


# ---------------------------------------------------------------- runtime parameters


def test_runtime_parameters_default_to_the_compiled_values(compiled):
    spec = compiled[1]
    config = runner.pipeline_config(_settings(), PROFILE)
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    assert inputs["idx_example_gen_seed"] == {
        "parameterType": "NUMBER_INTEGER",
        "defaultValue": config.seed,
        "isOptional": True,
    }
    assert inputs["idx_example_gen_eval_fraction"]["defaultValue"] == pytest.approx(config.eval_fraction)
    task_inputs = spec["root"]["dag"]["tasks"]["IdxExampleGen"]["inputs"]["parameters"]
    assert task_inputs["seed"] == {"componentInputParameter": "idx_example_gen_seed"}


def test_a_runtime_parameter_the_pipeline_lacks_is_refused(compiled):
    spec = copy.deepcopy(compiled[1])
    with pytest.raises(ConfigError, match="no component"):
        runner.promote_runtime_parameters(spec, ("Nope.seed",))
    with pytest.raises(ConfigError, match="no constant parameter"):
        runner.promote_runtime_parameters(spec, ("StatisticsGen.nope",))


# ---------------------------------------------------------------- files the spec refers to


def test_every_module_the_spec_names_is_in_the_image(compiled, build_context):
    packages = _packages()
    project = _top_level_names()
    alternatives = "|".join(sorted(project))
    dotted = re.compile(rf"^({alternatives})(\.[A-Za-z_]\w*)+$")
    names = [
        args[args.index("--executor_class_path") + 1]
        for e in _executors(compiled[1]).values()
        if "container" in e and "--executor_class_path" in (args := e["container"]["args"])
    ]
    names += [s for s in _strings(compiled[1]["root"]) if dotted.match(s)]
    assert any(n.split(".")[0] in project for n in names), "expected at least IdxExampleGen's executor"
    for name in names:
        if name.split(".")[0] in project:
            source = _project_module_file(name)
            assert source is not None, f"{name}: no module file in the repo"
            assert source in build_context, f"{name}: {source} is excluded from the Docker build context"
            package = Path(source).parent.as_posix().replace("/", ".")
            assert package in packages, f"{name}: setup.py does not install {package}"
        else:
            module = name.rsplit(".", 1)[0]
            assert importlib.util.find_spec(module) is not None, f"{name}: not installed by the lock"


def test_every_command_module_is_installed(compiled):
    for executor in _executors(compiled[1]).values():
        command = executor.get("container", {}).get("command", [])
        if command[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(command[2]) is not None, command


def test_every_file_path_the_spec_names_exists_in_the_image(compiled, build_context):
    dockerfile = (REPO / "Dockerfile").read_text()
    values = {s.split("=", 1)[1] if s.startswith("--") and "=" in s else s for s in _strings(compiled[1])}
    paths = {s for s in values if s.startswith("/") or s.endswith(".py")}
    assert IMAGE_DATA_DIR in paths
    for path in paths:
        if path == IMAGE_DATA_DIR:
            assert re.search(r"apt-get install [^\n]*dataset-fashion-mnist", dockerfile), path
        elif path.startswith(IMAGE_SOURCE_DIR + "/"):
            assert path[len(IMAGE_SOURCE_DIR) + 1 :] in build_context, path
        else:
            pytest.fail(f"the spec names {path}, which the image does not hold")


# ---------------------------------------------------------------- no path of the build machine


def test_no_build_machine_path_leaks(compiled, tmp_path_factory):
    text = compiled[0].read_text()
    machine = {str(REPO), str(Path.home()), tempfile.gettempdir(), str(tmp_path_factory.getbasetemp())}
    assert runner.find_build_machine_paths(text, sorted(machine)) == []
    for path in machine:
        assert path not in text


def test_leak_detector_finds_paths_and_ignores_uri_look_alikes():
    paths = ["/work/main", "/root"]
    assert runner.find_build_machine_paths('{"d": "/work/main/data"}', paths) == ["/work/main"]
    assert runner.find_build_machine_paths('args: ["--x=1", "\\"/root\\""]', paths) == ["/root"]
    assert runner.find_build_machine_paths("gs://bucket/root/pipeline /work/mainline", paths) == []


def test_compiling_a_build_machine_path_is_refused(tmp_path):
    with pytest.raises(runner.CompileError, match="this machine's") as caught:
        runner.compile_spec(_settings(data_dir=str(tmp_path / "idx")), PROFILE)
    named = str(caught.value).split("this machine's ", 1)[1].split(", ")
    assert any(str(tmp_path).startswith(path) for path in named)


# ---------------------------------------------------------------- the Dockerfile


def _pip_flags(command: str) -> set[str]:
    return {word for word in shlex.split(command) if word.startswith("-")}


def _pip_commands(text: str) -> list[str]:
    joined = text.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        commands += [c.strip() for c in re.split(r"&&|\|\||\||;", line) if re.search(r"\bpip install\b", c)]
    return commands


def test_dockerfile_installs_the_lock_as_the_local_setup_does():
    """The image installs the runtime lock, set-up the dev lock (runtime pins plus tools): same flags."""
    setup = _pip_commands((REPO / "scripts/setup-venv.sh").read_text())
    docker = _pip_commands((REPO / "Dockerfile").read_text())
    cosmetic = {"--quiet", "--no-cache-dir"}
    (setup_lock,) = [c for c in setup if "requirements.lock" in c]
    (docker_lock,) = [c for c in docker if "requirements-runtime.lock" in c]
    assert "-r" in _pip_flags(docker_lock)
    assert _pip_flags(docker_lock) - cosmetic == _pip_flags(setup_lock) - cosmetic
    # The same pins of pip, setuptools and wheel.
    pins = re.compile(r"\b[\w-]+==[\w.]+")
    (setup_tools,) = [c for c in setup if "--upgrade" in c]
    (docker_tools,) = [c for c in docker if "--upgrade" in c]
    assert sorted(pins.findall(docker_tools)) == sorted(pins.findall(setup_tools))


def test_dockerfile_installs_the_project_not_editable():
    setup = _pip_commands((REPO / "scripts/setup-venv.sh").read_text())
    docker = _pip_commands((REPO / "Dockerfile").read_text())
    (setup_project,) = [c for c in setup if re.search(r"(^|\s)-e\s", c)]
    (docker_project,) = [c for c in docker if IMAGE_SOURCE_DIR in c and "requirements-runtime.lock" not in c]
    assert not _pip_flags(docker_project) & {"-e", "--editable"}
    cosmetic = {"--quiet", "--no-cache-dir", "-e", "--editable"}
    assert _pip_flags(docker_project) - cosmetic == _pip_flags(setup_project) - cosmetic


def test_dockerfile_base_and_runtime_layout():
    text = (REPO / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, re.M)
    assert base and base.group(1).startswith("python:3.10-")
    assert re.search(r"^COPY requirements-runtime\.lock ", text, re.M)
    # The spec's `python` is the venv's, and the working directory does not shadow installed packages.
    assert re.search(r"^ENV PATH=/opt/venv/bin:\$PATH", text, re.M)
    workdirs = re.findall(r"^WORKDIR (\S+)", text, re.M)
    assert workdirs and workdirs[-1] != IMAGE_SOURCE_DIR


def test_build_context_holds_what_the_image_installs(build_context):
    assert {"requirements-runtime.lock", "setup.py"} <= build_context
    for package in _packages():
        folder = package.replace(".", "/")
        assert f"{folder}/__init__.py" in build_context, package
    assert not any(p.startswith((".venv/", ".git/", "runs/")) for p in build_context)


# What the open-source KFP 2.x backend runs: its Argo compiler (backend/src/v2/compiler/argocompiler)
# turns `container` and `importer` executors into pods and refuses every other kind (a `resolver`
# gets "resolver executors not implemented"; `custom_job` is Vertex AI only).
OPEN_SOURCE_KFP_EXECUTORS = {"container", "importer"}


@pytest.mark.parametrize(
    "profile, overrides",
    [
        ("test", {}),
        ("quick", {}),
        ("full", {}),
        # The transfer family on the trunk of the served model: its base-model look-up is a step too.
        ("test", {"families": ("transfer",), "backbone_weights": "base_model", "stems": (1,)}),
    ],
)
def test_spec_holds_only_executors_open_source_kfp_runs(profile, overrides):
    spec = runner.compile_spec(_settings(), profile, **overrides)
    kinds = {node: set(executor) for node, executor in _executors(spec).items()}
    refused = {node: sorted(kind) for node, kind in kinds.items() if not kind <= OPEN_SOURCE_KFP_EXECUTORS}
    assert not refused, f"executors the open-source KFP backend refuses: {refused}"
    tasks = spec["root"]["dag"]["tasks"]
    assert "ServingBaseline" in tasks and "ServingBaseline" in tasks["Evaluator"]["dependentTasks"]
    if overrides:
        assert "ServedBaseModel" in tasks["Trainer"]["dependentTasks"]


def test_every_artifact_type_of_the_spec_resolves_to_its_class_in_the_pod(compiled):
    """TFX's V2 entrypoint rebuilds each artifact from its schema title; a custom title must import."""
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.types.artifact import Artifact
    from tfx.utils import import_utils

    from compat.tfx import artifact_class_path

    _, spec = compiled
    titles = {}
    for component in spec["components"].values():
        for side in ("inputDefinitions", "outputDefinitions"):
            for definition in component.get(side, {}).get("artifacts", {}).values():
                schema = pipeline_spec_pb2.ArtifactTypeSchema(
                    **{
                        {"schemaTitle": "schema_title", "instanceSchema": "instance_schema"}[k]: v
                        for k, v in definition["artifactType"].items()
                        if k in ("schemaTitle", "instanceSchema")
                    }
                )
                path = artifact_class_path(schema)
                titles[path] = import_utils.import_class_by_path(path)
    assert all(issubclass(cls, Artifact) for cls in titles.values())
    custom = {path for path in titles if path.startswith("fashion_tfx")}
    assert custom == {
        "fashion_tfx_artifacts.AnomalyVerdict",
        "fashion_tfx_artifacts.ResizeReport",
        "fashion_tfx_artifacts.EvaluationReport",
        "fashion_tfx_artifacts.SmokeCheckResult",
    }
    assert all(path == titles[path].TYPE_NAME for path in custom)
