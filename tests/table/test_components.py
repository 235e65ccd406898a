"""Banded labelling (table/components.py) finds exactly the components that labelling
the whole page finds."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from table.components import component_stats, components


def _page(seed: int, shape=(90, 70)) -> np.ndarray:
    """A sparse mask: bars, blocks and specks, some touching only at a corner."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    for _ in range(rng.integers(0, 12)):
        y, x = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        h, w = rng.integers(1, 12), rng.integers(1, 30)
        mask[y : y + h, x : x + w] = 255
    if rng.random() < 0.5:  # two pixels meeting at a corner: one component at 8, two at 4
        mask[40, 10] = mask[41, 11] = 255
    return mask


def _whole_page(mask, connectivity):
    _, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=connectivity)
    return sorted(zip(map(tuple, stats[1:].tolist()), map(tuple, centroids[1:].tolist())))


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10**6), connectivity=st.sampled_from([4, 8]), along_rows=st.booleans())
def test_banded_stats_are_the_whole_pages(seed, connectivity, along_rows):
    mask = _page(seed)
    stats, centroids = component_stats(mask, connectivity, along_rows)
    got = sorted(zip(map(tuple, stats.tolist()), map(tuple, centroids.tolist())))
    want = _whole_page(mask, connectivity)
    assert [s for s, _ in got] == [s for s, _ in want]
    np.testing.assert_allclose([c for _, c in got] or np.zeros((0, 2)),
                               [c for _, c in want] or np.zeros((0, 2)), atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 10**6), connectivity=st.sampled_from([4, 8]))
def test_each_component_comes_with_its_own_pixels(seed, connectivity):
    mask = _page(seed)
    n, labels = cv2.connectedComponents(mask, connectivity=connectivity)
    found = list(components(mask, connectivity))
    assert len(found) == n - 1
    redrawn = np.zeros(mask.shape, np.int32)
    for k, c in enumerate(found, 1):
        assert c.pixels.shape == (c.height, c.width) and c.pixels.any()
        assert not redrawn[c.box][c.pixels].any()  # no pixel in two components
        redrawn[c.box][c.pixels] = k
        # the box is tight: its edges hold the component
        assert c.pixels[0].any() and c.pixels[-1].any() and c.pixels[:, 0].any() and c.pixels[:, -1].any()
    assert np.array_equal(redrawn > 0, mask > 0)
    # the same partition as labelling the whole page
    pairs = {(a, b) for a, b in zip(labels[mask > 0].tolist(), redrawn[mask > 0].tolist())}
    assert len(pairs) == n - 1


def test_an_empty_mask_has_no_components():
    mask = np.zeros((30, 40), np.uint8)
    stats, centroids = component_stats(mask)
    assert stats.shape == (0, 5) and centroids.shape == (0, 2)
    assert list(components(mask)) == []
