"""Where to put a figure's labels so that none sits on a marker or on another label.

Used by the headline figure (``course_lib.views.figures``, notebooks 06, 07 and 11). Everything
here works on boxes in display units (pixels, y upwards as in matplotlib); the figure code
measures the texts and markers and calls ``place_labels``.
"""

from __future__ import annotations

import math

from course_lib.i18n import _

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

# Directions tried around each point, nearest first: right, left, up-right, down-right,
# up-left, down-left, up, down (unit vectors; the box is put beyond the point in that way).
DIRECTIONS = ((1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1), (0, 1), (0, -1))
RINGS = (1.0, 2.0, 3.5, 5.0, 7.0, 9.5, 12.0, 15.0)  # distances, in units of ``gap``


def overlap_area(a: Box, b: Box, pad: float = 0.0) -> float:
    """Area shared by two boxes, each grown by ``pad`` (0 when they are apart)."""
    w = min(a[2], b[2]) - max(a[0], b[0]) + 2 * pad
    h = min(a[3], b[3]) - max(a[1], b[1]) + 2 * pad
    return w * h if w > 0 and h > 0 else 0.0


def inside(box: Box, bounds: Box) -> bool:
    return (
        box[0] >= bounds[0] and box[1] >= bounds[1] and box[2] <= bounds[2] and box[3] <= bounds[3]
    )


def candidate_box(
    anchor: tuple[float, float], size: tuple[float, float], direction, r: float
) -> Box:
    """The box of a label ``size`` = (w, h) put at distance ``r`` from ``anchor``."""
    (x, y), (w, h), (dx, dy) = anchor, size, direction
    x0 = x + r * dx if dx > 0 else (x - r * abs(dx) - w if dx < 0 else x - w / 2)
    y0 = y + r * dy if dy > 0 else (y - r * abs(dy) - h if dy < 0 else y - h / 2)
    if dx and dy:  # diagonal: the nearest corner at distance r
        x0 = x + r / math.sqrt(2) if dx > 0 else x - r / math.sqrt(2) - w
        y0 = y + r / math.sqrt(2) if dy > 0 else y - r / math.sqrt(2) - h
    return (x0, y0, x0 + w, y0 + h)


def place_labels(
    anchors: list[tuple[float, float]],
    sizes: list[tuple[float, float]],
    obstacles: list[Box],
    bounds: Box,
    gap: float,
    pad: float = 1.0,
) -> list[Box]:
    """A box per label, in the order given: the nearest candidate that stays inside
    ``bounds`` and touches no obstacle and no label placed before it.

    When no candidate is free, the one with the least overlap is taken (the figure test
    then fails, which is how a too crowded figure is noticed).
    """
    if len(anchors) != len(sizes):
        raise ValueError(
            _("anchors ({n}) and sizes ({n2}) differ in length").format(
                n=len(anchors), n2=len(sizes)
            )
        )
    placed: list[Box] = []
    for anchor, size in zip(anchors, sizes, strict=True):
        best, best_cost = None, math.inf
        for ring in RINGS:
            for direction in DIRECTIONS:
                box = candidate_box(anchor, size, direction, ring * gap)
                if not inside(box, bounds):
                    continue
                cost = sum(overlap_area(box, o, pad) for o in [*obstacles, *placed])
                if cost < best_cost:
                    best, best_cost = box, cost
                if cost == 0.0:
                    break
            if best_cost == 0.0:
                break
        if best is None:  # nothing fits inside: the first candidate, clipped by the figure
            best = candidate_box(anchor, size, DIRECTIONS[0], gap)
        placed.append(best)
    return placed
