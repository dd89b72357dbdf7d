"""The factory's seam for running part of the pipeline: `stop_after` and the hidden `--stop-after` flag."""

from __future__ import annotations

import contextlib
import io

import pytest

from pipeline import cli, nodes
from pipeline.config import ConfigError, make_config
from pipeline.pipeline import create_components, create_pipeline


def _ids(components) -> list[str]:
    return [component.id for component in components]


def test_stop_after_ends_the_pipeline_with_that_node(tmp_path):
    config = make_config("test", tmp_path)
    whole = _ids(create_components(config))
    assert whole[-1] == nodes.SMOKE_CHECK

    cut = _ids(create_components(config, stop_after=nodes.TUNER))
    assert cut == whole[: whole.index(nodes.TUNER) + 1]
    assert cut[-1] == nodes.TUNER and nodes.TRAINER not in cut
    pipeline = create_pipeline(config, stop_after=nodes.UPSCALER)
    assert [c.id for c in pipeline.components][-1] == nodes.UPSCALER


def test_every_node_id_names_a_component_of_some_configuration(tmp_path):
    with_tuner = set(_ids(create_components(make_config("test", tmp_path))))
    constants = {value for name, value in vars(nodes).items() if name.isupper()}
    # ServedBaseModel runs only for the transfer family on the served model's weights.
    assert constants - with_tuner == {nodes.SERVED_BASE_MODEL}


def test_stop_after_refuses_a_node_the_pipeline_lacks(tmp_path):
    with pytest.raises(ConfigError, match="no component 'Nope'.*IdxExampleGen"):
        create_components(make_config("test", tmp_path), stop_after="Nope")
    # Without a Tuner, stopping after it is an error, not a silent full run.
    with pytest.raises(ConfigError, match="no component 'Tuner'"):
        create_components(make_config("test", tmp_path, tuner="none"), stop_after=nodes.TUNER)


def test_the_flag_is_hidden_and_a_bad_node_is_one_error_line(tmp_path, capsys):
    help_text = io.StringIO()
    with contextlib.redirect_stdout(help_text), pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    assert "--stop-after" not in help_text.getvalue() and "--profile" in help_text.getvalue()

    code = cli.main(["run", "--profile", "test", "--root", str(tmp_path / "root"), "--stop-after", "Nope"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("fashion-tfx: error: --stop-after: no component 'Nope'") and err.count("\n") == 1
    assert not (tmp_path / "root" / "pipeline").exists()
