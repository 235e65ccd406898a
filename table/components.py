"""Connected components of nearly empty masks, labelled band by band.

Rule masks and dark-fill masks hold ink in a few rows (or columns) of a page of
millions of pixels, and labelling the whole page (cv2.connectedComponentsWithStats)
took a fifth of the structure's time. No component crosses a row without ink, so only
the runs of inked rows are labelled: the same components, in a fraction of the time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import cv2
import numpy as np

__all__ = ["Component", "component_stats", "components"]


def _bands(mask: np.ndarray, along_rows: bool) -> list[tuple[int, int]]:
    """[start, end) of each run of rows (columns) holding ink."""
    inked = np.flatnonzero(mask.max(axis=1 if along_rows else 0))  # (30x cv2.reduce's speed)
    if not inked.size:
        return []
    breaks = np.flatnonzero(np.diff(inked) > 1)
    starts = inked[np.r_[0, breaks + 1]]
    ends = inked[np.r_[breaks, inked.size - 1]] + 1
    return list(zip(starts.tolist(), ends.tolist()))


def _labelled_bands(mask: np.ndarray, connectivity: int, along_rows: bool):
    for a, b in _bands(mask, along_rows):
        band = mask[a:b] if along_rows else np.ascontiguousarray(mask[:, a:b])
        _, labels, stats, centroids = cv2.connectedComponentsWithStats(band, connectivity=connectivity)
        yield a, labels, stats[1:], centroids[1:]


def component_stats(mask: np.ndarray, connectivity: int = 8, along_rows: bool = True
                    ) -> tuple[np.ndarray, np.ndarray]:
    """cv2.connectedComponentsWithStats' stats (x, y, w, h, area) and centroids (x, y)
    of every component, in page coordinates, without the background's row. Banded
    along rows, or along columns for a mask whose ink runs down the page."""
    stats, centroids = [np.zeros((0, 5), np.int32)], [np.zeros((0, 2))]
    coord = 1 if along_rows else 0  # the y (x) column of both
    for offset, _, st, ce in _labelled_bands(mask, connectivity, along_rows):
        st[:, coord] += offset
        ce[:, coord] += offset
        stats.append(st)
        centroids.append(ce)
    return np.concatenate(stats), np.concatenate(centroids)


class Component(NamedTuple):
    box: tuple[slice, slice]  # the component's bounding box on the page (rows, columns)
    pixels: np.ndarray  # bool, the box's shape: the component's own pixels in it
    width: int
    height: int


def components(mask: np.ndarray, connectivity: int = 8) -> Iterator[Component]:
    """Each component of ``mask`` with its box and pixels, band by band."""
    for offset, labels, stats, _ in _labelled_bands(mask, connectivity, True):
        for i, (x, y, w, h, _area) in enumerate(stats.tolist(), 1):
            local = (slice(y, y + h), slice(x, x + w))
            yield Component((slice(offset + y, offset + y + h), local[1]), labels[local] == i, w, h)
