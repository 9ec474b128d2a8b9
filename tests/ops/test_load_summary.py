"""bench/load.py's figures: exact percentiles per group and per class of groups, 5xx and
dropped connections counted apart from the other failures."""

from __future__ import annotations

from bench.load import percentile, results_of


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]  # 1 … 100

    assert (percentile(values, 0.5), percentile(values, 0.95)) == (50.0, 95.0)
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_results_per_group_and_class() -> None:
    raw = {
        "timings": {
            "list: users": [100.0] * 18 + [900.0, 1000.0],
            "list: roles": [50.0] * 10,
            "graph json: access": [200.0, 400.0],
            "login": [30.0],
        },
        "statuses": {
            "list: users": {"200": 17, "500": 1, "502": 1, "0": 1},
            "list: roles": {"200": 9, "404": 1},
            "graph json: access": {"200": 2},
            "login": {"302": 1},
        },
    }

    results = results_of(raw)
    users = results["groups"]["list: users"]
    lists = results["classes"]["lists"]

    assert (users["count"], users["5xx"], users["dropped"], users["failures"]) == (20, 2, 1, 3)
    assert (users["p50_ms"], users["p95_ms"], users["max_ms"]) == (100.0, 900.0, 1000.0)
    assert (lists["count"], lists["5xx"], lists["failures"]) == (30, 2, 4)
    assert lists["p50_ms"] == 100.0
    assert lists["statuses"] == {0: 1, 200: 26, 404: 1, 500: 1, 502: 1}
    assert set(results["classes"]) == {"lists", "graph json"}
    assert "login" in results["groups"]
