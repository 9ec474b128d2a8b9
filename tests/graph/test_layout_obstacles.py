"""The obstacles of the edge router (`layout._Obstacles`): a horizontal or vertical run is
blocked exactly when a box other than its ends' meets it, sides included, as a test of every
box says: on random boxes (negative coordinates, boxes wider than a cell, runs ending on a
side or a cell line)."""

from __future__ import annotations

import random

from identities.graph.layout import _CELL, Box, _Obstacles


def _blocked_by_any(boxes: dict[str, Box], a: tuple[float, float], b: tuple[float, float],
                    ends: tuple[str, str]) -> bool:  # fmt: skip
    x0, x1 = min(a[0], b[0]), max(a[0], b[0])
    y0, y1 = min(a[1], b[1]), max(a[1], b[1])
    return any(
        box[0] <= x1 and x0 <= box[2] and box[1] <= y1 and y0 <= box[3] and node_id not in ends
        for node_id, box in boxes.items()
    )


def _random_boxes(rng: random.Random, count: int) -> dict[str, Box]:
    boxes: dict[str, Box] = {}
    for index in range(count):
        x, y = rng.uniform(-600, 2400), rng.uniform(-400, 1600)
        w, h = rng.choice((40.0, 110.0, 210.0, 3.5 * _CELL)), rng.choice((20.0, 42.0, 90.0))
        boxes[f"n{index}"] = (x, y, x + w, y + h)
    return boxes


def _coordinate(rng: random.Random, sides: list[float]) -> float:
    """On a box side or a cell line as often as anywhere else."""
    if rng.random() < 0.5:
        return rng.choice(sides)
    return rng.choice((rng.uniform(-800, 2600), rng.randint(-10, 30) * _CELL))


def test_runs_along_an_axis_are_blocked_as_a_test_of_every_box_says() -> None:
    rng = random.Random(7)
    checked = blocked = 0
    for _ in range(20):
        boxes = _random_boxes(rng, rng.randint(1, 60))
        obstacles = _Obstacles(boxes)
        sides = [v for box in boxes.values() for v in box]
        for _ in range(300):
            at, start, stop = (_coordinate(rng, sides) for _ in range(3))
            a, b = ((start, at), (stop, at)) if rng.random() < 0.5 else ((at, start), (at, stop))
            ends = tuple(rng.sample(sorted(boxes), min(2, len(boxes))) + ["", ""])[:2]
            expected = _blocked_by_any(boxes, a, b, ends)  # type: ignore[arg-type]
            assert obstacles.blocked(a, b, ends) is expected, (a, b, ends)  # type: ignore[arg-type]
            checked += 1
            blocked += expected
    assert checked == 6000
    assert 500 < blocked < 5500  # both answers were compared, many times each
