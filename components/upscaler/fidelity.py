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


DIFFERENCE_GAIN = 16  # the grid's difference panels: one grey level of error shows as 16


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
    """Draws one row per class: the original, then per method its upscale and its amplified round-trip error.

    The error panel is |INTER_AREA back to the source size - original| x DIFFERENCE_GAIN (black: none;
    white: 16 grey levels or more), the pixels the round-trip PSNR printed under it is computed from.
    Panels are drawn pixel for pixel (enlarged by whole factors with nearest neighbour), with OpenCV
    rather than matplotlib, which takes seconds for seventy panels.

    Args:
        originals: uint8 (N, H, W), one example per row.
        labels: class ids, one per row.
        ids: example ids, one per row.
        size: the upscaled side.
        interpolation: the component's OpenCV interpolation.
        splits: each row's split (train / eval / test), shown with its id.
        in_graph_max_difference: the component's resize against the served model's in-graph twin.

    Returns:
        PNG bytes (BGR).
    """
    import cv2

    height_px, width_px = originals.shape[1:]
    methods = grid_methods(interpolation)
    upscaled = {key: _upscale(originals, size, key) for key, _, _ in methods}
    cell = size * max(1, -(-128 // size)) if size < 128 else min(size, 256)
    column = max(cell, 112)
    label_width, header, gap, under = 180, 112, 8, 20
    rows = len(originals)
    columns = 1 + 2 * len(methods)
    row_height = cell + under + gap
    footer = 52
    height = header + rows * row_height + footer
    width = label_width + columns * (column + gap)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    _text(
        canvas,
        f"Resize fidelity: one example per class, {height_px}x{width_px} upscaled to {size}x{size}",
        10,
        24,
        0.6,
        True,
    )
    _text(
        canvas,
        f"error panels: |upscale, then INTER_AREA back to {height_px}x{width_px}, minus the original| "
        f"x {DIFFERENCE_GAIN} (magma: black 0, pale yellow {256 // DIFFERENCE_GAIN} grey levels or more); "
        "round-trip PSNR under each",
        10,
        46,
        0.42,
    )
    titles = [("original", f"{height_px}x{width_px}")]
    for _, title, note in methods:
        titles += [(title, note), (f"error x{DIFFERENCE_GAIN}", title)]
    for col, (first, second) in enumerate(titles):
        x = label_width + col * (column + gap)
        _text(canvas, first, x, 80, 0.42, bold=True)
        _text(canvas, second, x, 97, 0.38)

    def fit(panel: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(
            cv2.resize(panel, (cell, cell), interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR
        )

    for row in range(rows):
        y = header + row * row_height
        label = int(labels[row])
        name = CLASS_NAMES[label] if 0 <= label < len(CLASS_NAMES) else "?"
        _text(canvas, f"{label}: {name}", 10, y + cell // 2 - 12, 0.55, True)
        if splits is not None:
            _text(canvas, f"split: {splits[row]}", 10, y + cell // 2 + 8, 0.4)
        _text(canvas, _fit_text(_short_id(ids[row]), label_width - 16, 0.38), 10, y + cell // 2 + 26, 0.38)
        panels = [fit(originals[row])]
        notes = [""]
        for key, _, _ in methods:
            back = _round_trip(upscaled[key][row], height_px, width_px)
            error = np.abs(back.astype(np.int16) - originals[row])
            psnr = round_trip_error(originals[row][np.newaxis], upscaled[key][row][np.newaxis])["psnr_db"]
            amplified = round_to_uint8(np.minimum(error * DIFFERENCE_GAIN, 255.0))
            heat = cv2.applyColorMap(amplified, cv2.COLORMAP_MAGMA)
            panels += [
                fit(upscaled[key][row]),
                cv2.resize(heat, (cell, cell), interpolation=cv2.INTER_NEAREST),
            ]
            notes += ["", "lossless" if psnr is None else f"PSNR {psnr:.1f} dB"]
        for col, (panel, note) in enumerate(zip(panels, notes, strict=True)):
            x = label_width + col * (column + gap)
            canvas[y : y + cell, x : x + cell] = panel
            if note:
                _text(canvas, note, x, y + cell + 15, 0.4)
    _text(
        canvas,
        "round-trip PSNR and max error of every method over all sampled images: fidelity.json",
        10,
        height - footer + 20,
        0.42,
    )
    if in_graph_max_difference is not None:
        _text(
            canvas,
            f"the served model's in-graph resize differs from this component's output by at most "
            f"{in_graph_max_difference} grey level(s) on these images",
            10,
            height - footer + 40,
            0.42,
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
