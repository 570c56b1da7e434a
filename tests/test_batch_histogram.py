"""The batch's score histogram shows the scores it was given: its bars are read back from the PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import image

from grader.batch.class_report import write_histogram

BAR_COLOUR = np.array([0x3B, 0x6E, 0xA5]) / 255


def bar_heights(png: Path) -> list[int]:
    """The height in pixels of each bar drawn in the histogram, left to right."""
    pixels = image.imread(png)[:, :, :3]
    in_bar = (np.abs(pixels - BAR_COLOUR) < 0.02).all(axis=2)
    heights, current = [], 0
    for column in in_bar.sum(axis=0):
        if column:
            current = max(current, int(column))
        elif current:
            heights.append(current)
            current = 0
    return heights


def test_the_histogram_has_one_bar_per_score_and_heights_in_proportion(tmp_path: Path) -> None:
    path = tmp_path / "totals.png"
    write_histogram(path, [10.0, 10.0, 10.0, 19.5], 20.0)
    heights = bar_heights(path)
    assert len(heights) == 2, heights
    assert abs(heights[0] / heights[1] - 3) < 0.1, heights


def test_different_scores_draw_a_different_histogram(tmp_path: Path) -> None:
    write_histogram(tmp_path / "a.png", [2.0, 4.0, 6.0, 6.0], 20.0)
    heights = bar_heights(tmp_path / "a.png")
    assert len(heights) == 3 and abs(heights[2] / heights[0] - 2) < 0.1, heights
