"""The `similar` grid's panel titles: rank, class (or `unlabelled`), a readable id and the similarity."""

from __future__ import annotations

import cv2
import numpy as np

from data.examples import encode_png
from serving.catalogue import GRID_ID_CHARACTERS, Neighbour, draw_grid, label_name, short_id


def test_an_unlabelled_item_is_named_so_and_long_ids_keep_their_tail():
    assert label_name(None) == "unlabelled" and label_name(3) == "Dress" and label_name(42) == "unlabelled"
    long_id = "catalogue/summer-2026/shoes/item-000123.png"
    shown = short_id(long_id)
    assert len(shown) == GRID_ID_CHARACTERS and shown.startswith("…") and long_id.endswith(shown[1:])
    assert short_id("train[59001]") == "train[59001]"


def test_the_grid_draws_the_query_and_every_neighbour(tmp_path):
    image = np.zeros((28, 28), np.uint8)
    image[8:20, 8:20] = 255
    neighbours = [
        Neighbour(rank=1, id="train[59001]", label=8, similarity=0.98, png=encode_png(image)),
        Neighbour(rank=2, id="folder/item-000123.png", label=None, similarity=0.91, png=encode_png(image)),
    ]
    path = tmp_path / "grid.png"
    draw_grid(image, "model: Bag", neighbours, str(path))
    picture = cv2.imread(str(path))
    assert picture is not None and picture.shape[1] > 2 * picture.shape[0]  # one row of three panels
