"""The Trainer's epoch checkpoint on a bucket: a preempted pod's rerun resumes after its last epoch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from gcs_emulator import BUCKET

# Runs the real pipeline: outside the fast tier (`make test-fast`).
pytestmark = pytest.mark.pipeline

DIRECTORY = f"gs://{BUCKET}/resume-io/pipeline/Trainer/resume/0123456789abcdef"

# Each attempt is its own process (TensorFlow reads the emulator settings when it first touches gs://);
# the first is killed by SIGKILL from inside, at the end of its second epoch.
SCRIPT = textwrap.dedent(
    f"""
    import json, os, signal, sys
    import keras, numpy as np
    from models.resume import EpochCheckpoint

    kill_after = int(sys.argv[1])
    keras.utils.set_random_seed(int(sys.argv[2]))
    layers = [keras.Input((8,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)]
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    checkpoint = EpochCheckpoint("{DIRECTORY}")
    start = checkpoint.restore(model)

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    history = model.fit(x, y, batch_size=16, epochs=4, initial_epoch=start, verbose=0,
                        callbacks=[checkpoint, Kill()])
    print(json.dumps({{"start": start, "epochs": history.epoch, "iterations": int(model.optimizer.iterations),
                      "losses": len(checkpoint.history["loss"])}}))
    """
)


def test_a_preempted_training_resumes_from_the_bucket(gcs_emulator, tmp_path):
    env = {**os.environ, **gcs_emulator.environment, "HOME": str(tmp_path / "home")}
    work = tmp_path / "work"
    work.mkdir()

    def attempt(kill_after: int, seed: int) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", SCRIPT, str(kill_after), str(seed)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    killed = attempt(2, 1)
    assert killed.returncode == -9, killed.stderr[-3000:]
    rerun = attempt(0, 2)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    result = json.loads(rerun.stdout.strip().splitlines()[-1])
    # Two epochs had finished (4 batches each): the rerun trains the last two, with the optimizer's state.
    assert result == {"start": 2, "epochs": [2, 3], "iterations": 16, "losses": 4}
    assert list(work.iterdir()) == []  # nothing went to the local disk
