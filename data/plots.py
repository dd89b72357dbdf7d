"""The one way the project draws and saves its PNGs (curves, trials, the fidelity and similar grids)."""

from __future__ import annotations

import tensorflow as tf


def subplots(*args, **kwargs):
    """Returns matplotlib's (figure, axes) drawn off-screen (no display on servers or in pods)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt.subplots(*args, **kwargs)


def save_png(fig, path: str) -> None:
    """Lays out, writes (to any tf.io.gfile path, local or gs://) and closes a figure."""
    from matplotlib import pyplot as plt

    fig.tight_layout()
    with tf.io.gfile.GFile(path, "wb") as out:
        fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
