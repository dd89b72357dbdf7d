"""Hostile or mistaken `kubeflow compile` and `submit` flags: one line, exit 2, nothing written or sent."""

from __future__ import annotations

import http.server
import re
import threading

import pytest
import yaml
from support import run_cli

from kubeflow import submit
from kubeflow.settings import KubeflowSettings

IMAGE = "ghcr.io/acme/fashion-tfx:0.1.0"
ROOT = "gs://bucket/runs"


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("fashion-tfx: error: "), err
    assert "Traceback" not in err
    return lines[0]


IMAGE_MESSAGE = "image must be a registry reference with a tag or digest"
# case -> (extra compile arguments, where the output goes, the message)
COMPILE_CASES = {
    "latest with a trailing newline": (["--image", "ghcr.io/acme/fashion-tfx:latest\n"], None, IMAGE_MESSAGE),
    "tag with a trailing newline": (["--image", IMAGE + "\n"], None, IMAGE_MESSAGE),
    "escape sequence in the tag": (["--image", "ghcr.io/acme/fashion-tfx:1.0\x1b[31m"], None, IMAGE_MESSAGE),
    "NUL in the name": (["--image", "ghcr.io/acme/fashion\x00-tfx:1.0"], None, IMAGE_MESSAGE),
    "non-ASCII tag": (["--image", "ghcr.io/acme/fashion-tfx:1.0é"], None, IMAGE_MESSAGE),
    "empty tag": (["--image", "ghcr.io/acme/fashion-tfx:"], None, IMAGE_MESSAGE),
    "double colon": (["--image", "ghcr.io/acme/fashion-tfx::1.0"], None, IMAGE_MESSAGE),
    "tag starting with a dash": (["--image", "ghcr.io/acme/fashion-tfx:-1"], None, IMAGE_MESSAGE),
    "empty path component": (["--image", "ghcr.io//fashion-tfx:1.0"], None, IMAGE_MESSAGE),
    "upper-case repository": (["--image", "ghcr.io/Acme/fashion-tfx:1.0"], None, IMAGE_MESSAGE),
    "tag of 129 characters": (["--image", "ghcr.io/acme/fashion-tfx:" + "1" * 129], None, IMAGE_MESSAGE),
    "latest": (["--image", "ghcr.io/acme/fashion-tfx:latest"], None, "image tag 'latest' moves"),
    "beam arg with no name": (["--beam-arg=--"], None, r"beam argument '--' must read --name=value"),
    "beam arg with a newline": (
        ["--beam-arg=--runner=Direct\nRunner"],
        None,
        r"beam argument .* no control characters",
    ),
    "beam arg without dashes": (["--beam-arg=runner=x"], None, "beam argument 'runner=x' must read"),
    "output under a file": ([], "{tmp}/a-file/spec.yaml", r"cannot write the spec into .*a-file"),
    "output in an impossible folder": (
        [],
        "/proc/fashion-tfx/spec.yaml",
        r"cannot write the spec into /proc",
    ),
    "output not yaml": ([], "{tmp}/spec.json", r"output must end in \.yaml or \.yml"),
    "output is a folder": ([], "{tmp}/folder.yaml", r"output .*folder\.yaml is a folder"),
    "output with a newline": ([], "{tmp}/spec.yaml\n", "output must name a .yaml file"),
}


@pytest.mark.parametrize("case", sorted(COMPILE_CASES))
def test_bad_compile_flags_exit_2_with_one_line_and_write_nothing(case, tmp_path, capsys):
    extra, output, message = COMPILE_CASES[case]
    (tmp_path / "a-file").write_text("a file where a folder is expected")
    (tmp_path / "folder.yaml").mkdir()
    output = (output or "{tmp}/spec.yaml").replace("{tmp}", str(tmp_path))
    argv = ["kubeflow", "compile", "--image", IMAGE, "--pipeline-root", ROOT, "--output", output, *extra]
    code, out, err = run_cli(argv, capsys)
    assert code == 2, err
    assert re.search(message, _one_error_line(err)), err
    assert out == ""
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name not in ("a-file", "folder.yaml"))
    assert leftovers == []


@pytest.mark.parametrize(
    "image",
    [
        IMAGE,
        "fashion-tfx:0.1.0",
        "localhost:5000/ml/fashion-tfx:v1_2.3",
        "registry.example.com/ml/fashion-tfx@sha256:" + "0" * 64,
        "registry.example.com/ml/fashion-tfx:1.0@sha256:" + "a" * 64,
    ],
)
def test_well_formed_images_are_accepted(image):
    assert KubeflowSettings(image=image, root=ROOT).image == image


SPEC = {
    "pipelineInfo": {"name": "fashion-tfx"},
    "deploymentSpec": {"executors": {}},
    "root": {
        "inputDefinitions": {
            "parameters": {
                "idx_example_gen_seed": {"parameterType": "NUMBER_INTEGER"},
                "idx_example_gen_eval_fraction": {"parameterType": "NUMBER_DOUBLE"},
            }
        },
        "dag": {
            "tasks": {
                "IdxExampleGen": {
                    "inputs": {
                        "parameters": {
                            "seed": {"componentInputParameter": "idx_example_gen_seed"},
                            "eval_fraction": {"componentInputParameter": "idx_example_gen_eval_fraction"},
                        }
                    }
                }
            }
        },
    },
}

SUBMIT_CASES = {
    "seed not a number": ("idx_example_gen_seed=abc", "idx_example_gen_seed must be an integer, got 'abc'"),
    "seed a fraction": ("idx_example_gen_seed=1.5", "idx_example_gen_seed must be an integer, got 1.5"),
    "seed a boolean": ("idx_example_gen_seed=true", "idx_example_gen_seed must be an integer, got True"),
    "seed negative": ("idx_example_gen_seed=-1", "seed must be an integer from 0 to 4294967295, got -1"),
    "seed too large": ("idx_example_gen_seed=4294967296", "seed must be an integer from 0 to 4294967295"),
    "fraction of 1.5": (
        "idx_example_gen_eval_fraction=1.5",
        "eval_fraction must lie strictly between 0 and 1, got 1.5",
    ),
    "fraction NaN": ("idx_example_gen_eval_fraction=NaN", "must be a finite number, got nan"),
    "fraction a string": ("idx_example_gen_eval_fraction=half", "must be a number, got 'half'"),
    "unknown parameter": ("epochs=3", "the pipeline has no run parameter 'epochs'"),
    "no equals sign": ("idx_example_gen_seed", "--param must read NAME=VALUE"),
}


@pytest.fixture(scope="module")
def kfp_host():
    """A loopback HTTP server standing in for the KFP API: it records every request and answers 503.

    Except the health check, which it answers (an empty JSON object) so the kfp client does not retry it
    for 20 seconds: the client's next call fails at once.
    """
    received = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def _record(self):
            received.append(f"{self.command} {self.path}")
            if "healthz" not in self.path:
                self.send_error(503)
                return
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self._record()

        def do_POST(self):
            self._record()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("case", sorted(SUBMIT_CASES))
def test_bad_run_parameters_are_refused_before_sending(case, tmp_path, capsys, kfp_host):
    host, received = kfp_host
    package = tmp_path / "spec.yaml"
    package.write_text(yaml.safe_dump(SPEC))
    pair, message = SUBMIT_CASES[case]
    argv = ["kubeflow", "submit", "--host", host, "--package", str(package), "--param", pair]
    before = len(received)
    code, _, err = run_cli(argv, capsys)
    assert code == 2, err
    assert message in _one_error_line(err), err
    assert received[before:] == []  # nothing reached the API


def test_the_stand_in_api_sees_a_submission_that_is_not_refused(tmp_path, capsys, kfp_host):
    # The check above can fail: well-formed parameters do reach the API (which answers 503).
    host, received = kfp_host
    package = tmp_path / "spec.yaml"
    package.write_text(yaml.safe_dump(SPEC))
    pair = "idx_example_gen_seed=7"
    argv = ["kubeflow", "submit", "--host", host, "--package", str(package), "--param", pair]
    before = len(received)
    code, _, err = run_cli(argv, capsys)
    assert code == 1 and f"submitting to {host} failed" in err, err
    assert received[before:], "the submission never reached the stand-in API"


def test_good_run_parameters_are_sent_with_their_types(tmp_path):
    package = tmp_path / "spec.yaml"
    package.write_text(yaml.safe_dump(SPEC))
    arguments = submit.parse_arguments(
        ["idx_example_gen_seed=7", "idx_example_gen_eval_fraction=0.25"],
        submit.read_parameters(package),
        submit.parameter_fields(package),
    )
    assert arguments == {"idx_example_gen_seed": 7, "idx_example_gen_eval_fraction": 0.25}
