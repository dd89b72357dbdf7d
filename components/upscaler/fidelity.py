"""The resize-fidelity report: round-trip error per resize method and a picture to inspect by eye."""

from __future__ import annotations

import json
import math
import os

import numpy as np
from tfx.dsl.io import fileio

from fashion_tfx.components.upscaler.resize import (
    INTERPOLATIONS,
    round_to_uint8,
    upscale_images,
    upscale_images_tf,
)
from fashion_tfx.data.fashion_mnist import CLASS_NAMES

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


def _text(canvas: np.ndarray, text: str, x: int, y: int, scale: float = 0.45, bold: bool = False) -> None:
    import cv2

    cv2.putText(
        canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 2 if bold else 1, cv2.LINE_AA
    )


def _fit_text(text: str, max_width: int, scale: float) -> str:
    """Shortens `text` from the left ('..' + its tail) until it is at most `max_width` pixels wide."""
    import cv2

    def width(candidate: str) -> int:
        return cv2.getTextSize(candidate, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]

    if width(text) <= max_width:
        return text
    for start in range(1, len(text)):
        if width(".." + text[start:]) <= max_width:
            return ".." + text[start:]
    return ""


def render_grid(
    originals: np.ndarray, labels: np.ndarray, ids: list[str], size: int, interpolation: str
) -> bytes:
    """Draws one row per class: original, OpenCV upscale, tf.image.resize upscale, their difference.

    Panels are drawn pixel for pixel (enlarged by whole factors with nearest neighbour when smaller
    than 128, so the original's pixels stay visible); the difference uses the magma colour map.
    Drawn with OpenCV rather than matplotlib, which takes seconds for forty panels.

    Returns:
        PNG bytes (BGR).
    """
    import cv2

    opencv = upscale_images(originals, size, interpolation)
    keras = tf_image_resize(originals, size, KERAS_DEFAULT_METHOD)
    diff = np.abs(opencv.astype(np.int16) - keras)
    diff_max = max(int(diff.max()), 1)  # colour scale; at least one level so zero stays black
    cell = size * max(1, -(-128 // size)) if size < 128 else min(size, 256)
    column = max(cell, 150)  # room for the column titles
    label_width, header, gap, footer = 170, 96, 10, 44
    rows = len(originals)
    height = header + rows * (cell + gap) + footer
    width = label_width + 4 * (column + gap)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    _text(canvas, f"Resize fidelity: one example per class, upscaled to {size}x{size}", 10, 24, 0.6, True)
    titles = (
        ("original", f"{originals.shape[1]}x{originals.shape[2]}", ""),
        (f"OpenCV {interpolation}", f"{size}x{size}", "(this component)"),
        ("tf.image.resize", KERAS_DEFAULT_METHOD, "(Keras default)"),
        ("|OpenCV - TF|", "black: 0, yellow:", f"{diff_max} grey level(s)"),
    )
    for col, lines in enumerate(titles):
        x = label_width + col * (column + gap)
        for n, line in enumerate(lines):
            _text(canvas, line, x, 52 + 17 * n, 0.45 if n == 0 else 0.4, bold=n == 0)

    def fit(panel: np.ndarray) -> np.ndarray:
        return cv2.resize(panel, (cell, cell), interpolation=cv2.INTER_NEAREST)

    for row in range(rows):
        y = header + row * (cell + gap)
        label = int(labels[row])
        name = CLASS_NAMES[label] if 0 <= label < len(CLASS_NAMES) else "?"
        _text(canvas, f"{label}: {name}", 10, y + cell // 2 - 4, 0.55, True)
        # Example ids are long (split/index); their tail is the part that tells two rows apart.
        _text(canvas, _fit_text(ids[row], label_width - 20, 0.38), 10, y + cell // 2 + 18, 0.38)
        heat = cv2.applyColorMap(round_to_uint8(diff[row] * (255.0 / diff_max)), cv2.COLORMAP_MAGMA)
        panels = [cv2.cvtColor(fit(p), cv2.COLOR_GRAY2BGR) for p in (originals[row], opencv[row], keras[row])]
        panels.append(fit(heat))
        for col, panel in enumerate(panels):
            x = label_width + col * (column + gap)
            canvas[y : y + cell, x : x + cell] = panel
        verdict = "identical" if not diff[row].any() else f"max {int(diff[row].max())} levels"
        x = label_width + 3 * (column + gap)
        cv2.putText(
            canvas,
            verdict,
            (x + 6, y + cell - 8),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    _text(
        canvas,
        "round-trip PSNR and max error of every method: fidelity.json",
        10,
        height - footer // 2 + 4,
        0.45,
    )
    ok, png = cv2.imencode(".png", canvas)
    if not ok:
        raise ValueError("could not encode the fidelity grid as PNG")
    return png.tobytes()


def write_fidelity_report(
    samples: list[tuple[int, str, np.ndarray]], size: int, interpolation: str, output_dir: str
) -> dict:
    """Writes fidelity.png (first sample of each class) and fidelity.json (metrics over all samples).

    Args:
        samples: (label, example id, uint8 original image) triples.
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
    }
    fileio.makedirs(output_dir)
    grid = render_grid(originals[first], labels[first], [samples[i][1] for i in first], size, interpolation)
    with fileio.open(os.path.join(output_dir, FIDELITY_PNG), "wb") as f:
        f.write(grid)
    with fileio.open(os.path.join(output_dir, FIDELITY_JSON), "w") as f:
        json.dump(content, f, indent=2, sort_keys=True)
    return content
