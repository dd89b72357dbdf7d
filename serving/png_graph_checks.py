"""The served graph's own PNG checks: the serving contract on PNG bytes, enforced inside `serving_default`.

The client checks the same contract before sending (`serving.payloads`); these ops make the served model
refuse, naming the example, what a client that skipped the checks sends: more than `MAX_PNG_BYTES`
bytes, anything that is not a PNG, other dimensions, a bit depth above 8, a colour type other than grey.
"""

from __future__ import annotations

import struct

import tensorflow as tf

from data.graph import branch
from serving.signatures import MAX_PNG_BYTES, PNG_GREY_COLOUR_TYPE, PNG_MAX_BIT_DEPTH, PNG_SIGNATURE

_PNG_HEADER_BYTES = 26  # signature (8), IHDR length and type (8), width, height (8), depth, colour type


def refuse_unless(ok: tf.Tensor, message: str, values: list[tf.Tensor]) -> tf.Operation:
    """An assertion that names the first example failing `ok` (a bool vector) with `message`.

    `message` is a `tf.strings.format` template: its first `{}` is the example's index, the others
    take `values` (vectors aligned with `ok`) at that index.
    """
    bad = tf.cast(tf.logical_not(ok), tf.int32)
    # One dummy slot at the end, so an empty or all-good batch still has something to gather.
    first = tf.argmax(tf.concat([bad, [1]], axis=0), output_type=tf.int32)
    picked = [tf.gather(tf.concat([v, tf.zeros([1], v.dtype)], axis=0), first) for v in values]
    text = tf.strings.format(message, [first, *picked])
    return tf.debugging.Assert(tf.reduce_all(ok), [text])


def good_pngs(png: tf.Tensor, side: int) -> tf.Tensor:
    """Per example, whether its first bytes are one of the few headers a good PNG can have (bool [N])."""
    good_header = PNG_SIGNATURE + b"\0\0\0\x0dIHDR" + struct.pack(">II", side, side)
    good_headers = tf.constant([good_header + bytes([depth, PNG_GREY_COLOUR_TYPE]) for depth in (1, 2, 4, 8)])
    prefix = tf.strings.substr(png, 0, len(good_header) + 2)
    return tf.logical_and(
        tf.reduce_any(tf.equal(prefix[:, tf.newaxis], good_headers), axis=1),
        tf.strings.length(png) <= MAX_PNG_BYTES,
    )


def png_contract_checks(png: tf.Tensor, side: int, good: tf.Tensor | None = None) -> list[tf.Tensor]:
    """The client's PNG contract, checked in the graph from the bytes and the header only.

    Refuses, naming the example: more than `MAX_PNG_BYTES` bytes; anything that is not a PNG (a JPEG,
    GIF or BMP, which `tf.io.decode_png` would otherwise decode); a header declaring other dimensions
    than side×side (so a 20000×20000 image is never decompressed); a bit depth above 8; a colour type
    other than grey.

    A request of good PNGs costs a handful of ops: each example's first 26 bytes are compared with the
    few headers a good one can have. Only when one differs do the detailed checks run, to name the
    example and say what is wrong.

    Args:
        png: string [N], the `image` feature of each example.
        side: the side the images must have.
        good: `good_pngs(png, side)`, if already computed.

    Returns:
        Tensors to depend on before decoding (evaluating them raises on a bad example).
    """
    good = good_pngs(png, side) if good is None else good

    def refuse() -> tf.Tensor:
        with tf.control_dependencies(_detailed_png_checks(png, side)):
            return tf.constant(False)

    return [branch(tf.reduce_all(good), lambda: tf.constant(True), refuse)]


def _detailed_png_checks(png: tf.Tensor, side: int) -> list[tf.Operation]:
    """The contract's checks one by one, each naming the first example that fails it."""
    length = tf.strings.length(png)
    # Pad every string to the header's length so the header fields can be read as a [N, 26] array.
    padded = tf.strings.substr(tf.strings.join([png, b"\0" * _PNG_HEADER_BYTES]), 0, _PNG_HEADER_BYTES)
    header = tf.cast(tf.io.decode_raw(padded, tf.uint8), tf.int64)
    header = tf.reshape(header, [-1, _PNG_HEADER_BYTES])
    signature = tf.constant(list(PNG_SIGNATURE + b"\0\0\0\x0dIHDR"), tf.int64)
    is_png = tf.logical_and(
        tf.reduce_all(tf.equal(header[:, :16], signature), axis=1), length >= _PNG_HEADER_BYTES
    )
    big_endian = tf.constant([1 << 24, 1 << 16, 1 << 8, 1], tf.int64)
    width = tf.reduce_sum(header[:, 16:20] * big_endian, axis=1)
    height = tf.reduce_sum(header[:, 20:24] * big_endian, axis=1)
    depth, colour_type = header[:, 24], header[:, 25]
    # Each check assumes the previous ones passed, so they run in order.
    checks = [
        refuse_unless(
            length <= MAX_PNG_BYTES,
            f"example {{}}: {{}} bytes is too large for a {side}x{side} PNG (at most {MAX_PNG_BYTES})",
            [tf.cast(length, tf.int64)],
        )
    ]
    with tf.control_dependencies(checks):
        checks.append(
            refuse_unless(is_png, "example {}: not a PNG image (missing PNG signature / IHDR header)", [])
        )
    with tf.control_dependencies(checks):
        checks.append(
            refuse_unless(
                tf.logical_and(tf.equal(height, side), tf.equal(width, side)),
                f"example {{}}: PNG header declares {{}}x{{}} pixels; the model takes {side}x{side}",
                [height, width],
            )
        )
    with tf.control_dependencies(checks):
        checks.append(
            refuse_unless(
                depth <= PNG_MAX_BIT_DEPTH,
                "example {}: {}-bit PNG; expected 8-bit grey levels",
                [depth],
            )
        )
    with tf.control_dependencies(checks):
        # A colour or palette PNG would be turned grey by TensorFlow's own formula, which is not the
        # client's (it converts colour files itself, then sends grey PNGs) and was never trained on.
        checks.append(
            refuse_unless(
                tf.equal(colour_type, PNG_GREY_COLOUR_TYPE),
                f"example {{}}: PNG colour type {{}}; expected grey (colour type {PNG_GREY_COLOUR_TYPE})",
                [colour_type],
            )
        )
    return checks
