"""Fixtures for the bucket tests: a GCS emulator on 127.0.0.1 with a writable and a read-only bucket."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from gcs_emulator import BUCKET, READ_ONLY_BUCKET, client_environment, free_port


@dataclasses.dataclass(frozen=True)
class Emulator:
    """A running emulator: its endpoint and the environment that points every client at it."""

    endpoint: str

    @property
    def environment(self) -> dict[str, str]:
        return client_environment(self.endpoint)


@pytest.fixture(scope="session")
def gcs_emulator() -> Emulator:
    """gcp-storage-emulator (in memory) in its own process, so the pipeline's threads never starve it."""
    port = free_port()
    script = Path(__file__).resolve().parents[1] / "gcs_emulator.py"
    command = [sys.executable, str(script), "--port", str(port), "--bucket", BUCKET]
    process = subprocess.Popen(
        [*command, "--read-only-bucket", READ_ONLY_BUCKET], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(endpoint + "/", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the GCS emulator did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield Emulator(endpoint)
    process.kill()
    process.wait(timeout=30)
