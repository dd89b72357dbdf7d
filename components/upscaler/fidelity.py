"""The resize-fidelity report: round-trip error per resize method and a picture to inspect by eye."""

from __future__ import annotations

import json
import math
import os

import numpy as np
from tfx.dsl.io import fileio

from data.classes import CLASS_NAMES
from data.resize import (
    INTERPOLATIONS,
    round_to_uint8,
    upscale_images,
    upscale_images_tf,
)

FIDELITY_PNG = "fidelity.png"
FIDELITY_JSON = "fidelity.json"
# tf.image.resize methods compared with OpenCV; "bilinear" is what keras.layers.Resizing uses by default.
TF_METHODS = ("bilinear", "bicubic", "area", "nearest", "lanczos3")
KERAS_DEFAULT_METHOD = "bilinear"


def tf_image_resize(images: np.ndarray, size: int, method: str) -> np.ndarray:
    """Upscales uint8 images (N, H, W) with `tf.image.resize`, rounded like the OpenCV path."""
    import tensorflow as tf

    resized = tf.image.resize(images[..., np.newaxis].astype(np.float32), (size, size), method=method)
    return round_to_uint8(resized.numpy()[..., 0])


def round_trip_error(originals: np.ndarray, upscaled: np.ndarray) -> dict[str, float]:
    """Downscales with INTER_AREA back to the source size and compares with the originals.

    Args:
        originals: uint8 (N, H, W).
        upscaled: uint8 (N, size, size), as stored on disk.

    Returns:
        PSNR in dB (over all pixels), max and mean absolute error in grey levels.
    """
    import cv2

    height, width = originals.shape[1:]
    back = np.stack(
        [
            round_to_uint8(
                cv2.resize(image.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
            )
            for image in upscaled
        ]
    )
    error = back.astype(np.float64) - originals
    mse = float(np.mean(error**2))
    return {
        "psnr_db": round(10 * math.log10(255.0**2 / mse), 3) if mse > 0 else None,  # None: lossless
        "max_abs_error": int(np.abs(error).max()),
        "mean_abs_error": round(float(np.abs(error).mean()), 4),
    }


def difference(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Per-pixel disagreement of two uint8 image batches of the same shape."""
    diff = np.abs(a.astype(np.int16) - b)
    return {
        "max_abs_difference": int(diff.max()),
        "mean_abs_difference": round(float(diff.mean()), 4),
        "fraction_of_pixels_differing": float((diff > 0).mean()),
    }


def fidelity_metrics(originals: np.ndarray, size: int, interpolation: str) -> dict:
    """Measures every OpenCV and tf.image.resize method on the same sample.

    Args:
        originals: uint8 (N, H, W) sample images.
        size: the upscaled side.
        interpolation: the component's OpenCV interpolation (compared with Keras' default).

    Returns:
        A JSON-ready dict: round-trip error per method, the component's OpenCV output against
        tf.image.resize (Keras' default), and against the in-graph `upscale_images_tf`.
    """
    methods = {}
    outputs = {}
    for name in INTERPOLATIONS:
        outputs[f"opencv_{name}"] = upscale_images(originals, size, name)
    for method in TF_METHODS:
        outputs[f"tf_image_resize_{method}"] = tf_image_resize(originals, size, method)
    for key, upscaled in outputs.items():
        methods[key] = round_trip_error(originals, upscaled)
    component = outputs[f"opencv_{interpolation}"]
    in_graph = upscale_images_tf(originals, size, interpolation, source_size=originals.shape[1]).numpy()
    return {
        "round_trip": "upscale, then cv2.INTER_AREA back to the source size, against the original",
        "methods": methods,
        "component_vs_keras_default": {
            "component": f"opencv_{interpolation}",
            "keras_default": f"tf_image_resize_{KERAS_DEFAULT_METHOD}",
            **difference(component, outputs[f"tf_image_resize_{KERAS_DEFAULT_METHOD}"]),
        },
        "component_vs_in_graph_resize": difference(component, in_graph),
    }


# Why the default resize is OpenCV linear although its round trip scores lowest: one line, in the
# report's JSON and under its picture.
DEFAULT_METHOD_REASON = (
    "OpenCV linear is the default because the served model repeats it exactly in its graph (identical "
    "uint8 pixels at 28->128), and test accuracy does not follow the round trip: every upscale of "
    "BENCHMARKS.md's comparison at a fixed budget lands within run-to-run noise of the others."
)


def grid_methods(interpolation: str) -> list[tuple[str, str, str]]:
    """Returns the methods the grid shows: (fidelity.json key, title, note), the component's first."""
    contrast = "cubic" if interpolation != "cubic" else "linear"
    return [
        (f"opencv_{interpolation}", f"OpenCV {interpolation}", "(this component)"),
        (f"tf_image_resize_{KERAS_DEFAULT_METHOD}", f"tf {KERAS_DEFAULT_METHOD}", "(Keras default)"),
        (f"opencv_{contrast}", f"OpenCV {contrast}", "(for contrast)"),
    ]


def _upscale(originals: np.ndarray, size: int, key: str) -> np.ndarray:
    if key.startswith("opencv_"):
        return upscale_images(originals, size, key.removeprefix("opencv_"))
    return tf_image_resize(originals, size, key.removeprefix("tf_image_resize_"))


def _round_trip(upscaled: np.ndarray, height: int, width: int) -> np.ndarray:
    """INTER_AREA back to the source size, as `round_trip_error` measures it."""
    import cv2

    return round_to_uint8(
        cv2.resize(upscaled.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
    )


def _short_id(example_id: str) -> str:
    """`train-images-idx3-ubyte:1043` -> `train-images:1043` (the file and the index tell rows apart)."""
    return example_id.replace("-idx3-ubyte", "").replace("-idx1-ubyte", "")


def render_grid(
    originals: np.ndarray,
    labels: np.ndarray,
    ids: list[str],
    size: int,
    interpolation: str,
    splits: list[str] | None = None,
    in_graph_max_difference: int | None = None,
) -> bytes:
    """Draws one row per class: the original, then per method its upscale and its round-trip error.

    The error panel is |INTER_AREA back to the source size - original| in grey levels, the pixels the
    round-trip PSNR under it is computed from, on one colour scale for every panel (0 to the largest
    error shown), with its colour bar.

    Args:
        originals: uint8 (N, H, W), one example per row.
        labels: class ids, one per row.
        ids: example ids, one per row.
        size: the upscaled side.
        interpolation: the component's OpenCV interpolation.
        splits: each row's split (train / eval / test), shown with its id.
        in_graph_max_difference: the component's resize against the served model's in-graph twin.

    Returns:
        PNG bytes.
    """
    import io
    import textwrap

    from matplotlib.colors import Normalize

    from data.plots import subplots

    height_px, width_px = originals.shape[1:]
    methods = grid_methods(interpolation)
    upscaled = {key: _upscale(originals, size, key) for key, _, _ in methods}
    errors = {
        key: [
            np.abs(_round_trip(upscaled[key][row], height_px, width_px).astype(np.int16) - originals[row])
            for row in range(len(originals))
        ]
        for key, _, _ in methods
    }
    largest = max(1, max(int(e.max()) for per_row in errors.values() for e in per_row))
    scale = Normalize(vmin=0, vmax=largest)
    rows, columns = len(originals), 1 + 2 * len(methods)
    inches = 1.6 * rows + 0.9  # rows of panels, and a margin for the titles over the first row
    fig, axes = subplots(rows, columns, figsize=(1.55 * columns + 1.6, inches), squeeze=False)
    fig.subplots_adjust(
        left=0.08, right=0.9, top=1 - 0.55 / inches, bottom=0.3 / inches, hspace=0.3, wspace=0.08
    )
    titles = [f"original\n{height_px}x{width_px}"]
    for _, title, note in methods:
        titles += [f"{title}\n{note}", f"round-trip error\n{title}"]
    heat = None
    for row in range(rows):
        label = int(labels[row])
        name = CLASS_NAMES[label] if 0 <= label < len(CLASS_NAMES) else f"class {label}"
        where = [f"split: {splits[row]}"] if splits is not None else []
        axes[row][0].imshow(originals[row], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        axes[row][0].set_ylabel("\n".join([f"{label}: {name}", *where, _short_id(ids[row])]), fontsize=8)
        for i, (key, _, _) in enumerate(methods):
            psnr = round_trip_error(originals[row][np.newaxis], upscaled[key][row][np.newaxis])["psnr_db"]
            axes[row][1 + 2 * i].imshow(
                upscaled[key][row], cmap="gray", vmin=0, vmax=255, interpolation="nearest"
            )
            heat = axes[row][2 + 2 * i].imshow(
                errors[key][row], cmap="magma", norm=scale, interpolation="nearest"
            )
            axes[row][2 + 2 * i].set_xlabel("lossless" if psnr is None else f"PSNR {psnr:.1f} dB", fontsize=8)
    for col, title in enumerate(titles):
        axes[0][col].set_title(title, fontsize=8)
    for ax in (ax for line in axes for ax in line):
        ax.set_xticks([])
        ax.set_yticks([])
    colour_bar = fig.colorbar(heat, ax=[ax for line in axes for ax in line], fraction=0.02, pad=0.01)
    colour_bar.set_label("|round trip - original| (grey levels)")
    wrap = 130
    heading = [
        f"Resize fidelity: one example per class, {height_px}x{width_px} upscaled to {size}x{size}",
        textwrap.fill(
            f"Round-trip error: upscale, then INTER_AREA back to {height_px}x{width_px}, minus the original; "
            f"one colour scale for every error panel (0 to {largest} grey levels). PSNR under each.",
            wrap,
        ),
    ]
    footer = ["Round-trip PSNR and max error of every method over all sampled images: fidelity.json."]
    if in_graph_max_difference is not None:
        footer.append(
            f"The served model's in-graph resize differs from this component's output by at most "
            f"{in_graph_max_difference} grey level(s) on these images."
        )
    footer.append(textwrap.fill(DEFAULT_METHOD_REASON, wrap))
    fig.text(0.02, 1.0, heading[0] + "\n" + heading[1], fontsize=10, ha="left", va="bottom")
    fig.text(0.02, 0.0, "\n".join(footer), fontsize=8, ha="left", va="top")
    buffer = io.BytesIO()
    # bbox_inches="tight" grows the picture to hold every text: nothing is cut at an edge.
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    from matplotlib import pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def write_fidelity_report(
    samples: list[tuple[int, str, np.ndarray]], size: int, interpolation: str, output_dir: str
) -> dict:
    """Writes fidelity.png (first sample of each class) and fidelity.json (metrics over all samples).

    Args:
        samples: (label, example id, uint8 original image, split) tuples.
        size: the upscaled side.
        interpolation: the component's OpenCV interpolation.
        output_dir: folder that receives the two files (created if missing).

    Returns:
        The content of fidelity.json.

    Raises:
        ValueError: no samples.
    """
    if not samples:
        raise ValueError("no examples to build the fidelity report from: every input split is empty")
    samples = sorted(samples, key=lambda s: (s[0], s[1]))
    labels = np.array([s[0] for s in samples])
    originals = np.stack([s[2] for s in samples])
    first = [int(np.flatnonzero(labels == label)[0]) for label in np.unique(labels)]
    content = {
        "source_size": int(originals.shape[1]),
        "image_size": size,
        "interpolation": interpolation,
        "sample": {
            "images": len(samples),
            "per_class": {
                str(int(c)): int(k) for c, k in zip(*np.unique(labels, return_counts=True), strict=True)
            },
            "selection": "the examples with the smallest ids of each class, over all splits",
        },
        **fidelity_metrics(originals, size, interpolation),
        "grid": FIDELITY_PNG,
        "default_method_reason": DEFAULT_METHOD_REASON,
    }
    fileio.makedirs(output_dir)
    grid = render_grid(
        originals[first],
        labels[first],
        [samples[i][1] for i in first],
        size,
        interpolation,
        splits=[samples[i][3] for i in first],
        in_graph_max_difference=content["component_vs_in_graph_resize"]["max_abs_difference"],
    )
    with fileio.open(os.path.join(output_dir, FIDELITY_PNG), "wb") as f:
        f.write(grid)
    with fileio.open(os.path.join(output_dir, FIDELITY_JSON), "w") as f:
        json.dump(content, f, indent=2, sort_keys=True)
    return content
