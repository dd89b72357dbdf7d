"""The README a newcomer reads first: short, and every command in it runs as written."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import cli

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
VENV_BIN = Path(sys.executable).parent
MAX_LINES = 150


def shell_commands(markdown: str) -> list[list[str]]:
    """Returns every command of the ```sh blocks, split as the shell would (comments dropped)."""
    commands = []
    for block in re.findall(r"```(?:sh|bash)\n(.*?)```", markdown, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


def inline_commands(markdown: str, program: str) -> list[list[str]]:
    """Returns the `program …` commands written inline in the prose."""
    return [
        shlex.split(span) for span in re.findall(r"`([^`\n]+)`", markdown) if span.startswith(program + " ")
    ]


COMMANDS = shell_commands(README)


def make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), flags=re.M))


def test_readme_is_short_and_names_the_two_commands():
    assert len(README.splitlines()) <= MAX_LINES
    assert ["make", "run"] in [c[:2] for c in COMMANDS] and ["make", "test"] in [c[:2] for c in COMMANDS]
    # CI runs the README's test command.
    assert "make test" in (REPO / ".ci/run").read_text()


def test_every_make_command_names_a_target():
    commands = [c for c in COMMANDS + inline_commands(README, "make") if c[0] == "make"]
    assert len(commands) >= 4
    targets = make_targets()
    for command in commands:
        names = [word for word in command[1:] if "=" not in word]
        assert names and set(names) <= targets, command
        assert all(word.split("=")[0] in ("PROFILE", "ARGS") for word in command[1:] if "=" in word), command


def test_every_venv_tool_exists_and_fashion_tfx_commands_parse():
    tools = [c for c in COMMANDS if c[0].startswith(".venv/bin/")]
    assert {Path(c[0]).name for c in tools} >= {"tensorboard", "python", "jupyter", "fashion-tfx"}
    for command in tools:
        assert (VENV_BIN / Path(command[0]).name).is_file(), command
        if Path(command[0]).name == "fashion-tfx":
            cli.build_parser().parse_args(command[1:])  # exits 2 on an unknown flag or choice
        if Path(command[0]).name == "jupyter":
            assert (VENV_BIN / f"jupyter-{command[1]}").is_file() and (REPO / command[2]).is_file(), command
        if command[1:2] == ["-m"]:
            assert importlib.util.find_spec(command[2]) is not None, command
    for command in inline_commands(README, "fashion-tfx"):
        cli.build_parser().parse_args(command[1:])


def test_every_link_and_repo_path_exists():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" not in target:
            assert (REPO / target).exists(), target
    top = {p.name for p in REPO.iterdir() if p.is_dir() and not p.name.startswith(".")}
    for span in re.findall(r"`([^`\s]+/[^`\s]*)`", README):
        if (
            span.split("/")[0] in top
            and "<" not in span
            and span.split("/")[0] != "pipeline"
            or span in ("pipeline/config.py",)
        ):
            assert (REPO / span).exists(), span


def test_tensorboard_starts():
    out = subprocess.run(
        [str(VENV_BIN / "tensorboard"), "--version"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.fullmatch(r"\d+\.\d+\.\d+\s*", out.stdout), out.stdout


@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if c[0] == ".venv/bin/python"], ids=lambda c: " ".join(c[1:3])
)
def test_the_inspection_commands_run_against_a_real_run(full_test_run, command):
    """Runs each `.venv/bin/python` command of the README with `runs/local` pointing at a test run."""
    assert full_test_run.returncode == 0, full_test_run.stderr[-3000:]
    argv = [sys.executable] + [word.replace("runs/local", str(full_test_run.root)) for word in command[1:]]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip(), "printed nothing"
