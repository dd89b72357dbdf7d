"""The pipeline names its own setup.py as the Beam steps' dependency: TFX builds (and leaks) no package."""

from __future__ import annotations

import tempfile

import pytest
from tfx.utils import dependency_utils

from pipeline.config import (
    CHECKOUT_SETUP_FILE,
    IN_MEMORY_BEAM_ARGS,
    MULTI_PROCESS_BEAM_ARGS,
    make_config,
    with_beam_dependency,
)
from pipeline.pipeline import create_pipeline


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """Points Python's temporary folder (where TFX would build its package) at an empty folder."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.parametrize("beam_args", [IN_MEMORY_BEAM_ARGS, MULTI_PROCESS_BEAM_ARGS])
def test_tfx_builds_nothing_for_the_pipelines_beam_args(scratch, tmp_path, beam_args):
    config = make_config("test", tmp_path / "root", beam_args=beam_args)
    args = create_pipeline(config, setup_file=str(CHECKOUT_SETUP_FILE)).beam_pipeline_args

    assert args == [*beam_args, f"--setup_file={CHECKOUT_SETUP_FILE}"]
    # TFX's own check, as each Beam-powered executor runs it: the arguments pass unchanged.
    assert dependency_utils.make_beam_dependency_flags(list(args)) == args
    assert list(scratch.iterdir()) == []


def test_without_a_named_dependency_tfx_builds_a_package_that_stays(scratch):
    # What every Beam-powered executor did before: the leak the setup file prevents.
    args = dependency_utils.make_beam_dependency_flags(list(IN_MEMORY_BEAM_ARGS))

    (extra,) = [arg for arg in args if arg.startswith("--extra_package=")]
    assert extra.split("=", 1)[1].startswith(str(scratch))
    assert any(path.name.startswith("tfx_ephemeral") for path in scratch.rglob("*"))


@pytest.mark.parametrize(
    "user_arg",
    ["--setup_file=/elsewhere/setup.py", "--extra_package=dist/x.tar.gz", "--sdk_container_image=img:1"],
)
def test_a_dependency_the_user_names_is_kept_alone(user_arg):
    beam_args = (*IN_MEMORY_BEAM_ARGS, user_arg)
    assert with_beam_dependency(beam_args, str(CHECKOUT_SETUP_FILE)) == beam_args


def test_no_setup_file_or_no_beam_args_leave_the_arguments_as_they_are():
    assert with_beam_dependency(IN_MEMORY_BEAM_ARGS, None) == IN_MEMORY_BEAM_ARGS
    assert with_beam_dependency((), str(CHECKOUT_SETUP_FILE)) == ()


def test_the_checkout_setup_file_is_the_projects():
    assert CHECKOUT_SETUP_FILE.is_file()
    assert 'name="fashion-tfx"' in CHECKOUT_SETUP_FILE.read_text()
