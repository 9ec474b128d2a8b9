"""gunicorn's settings for `docker/entrypoint.sh web` (`--config python:iamviz.gunicorn_config`).

The application is loaded once, in the master, and made ready there before the workers fork:
its URL map (resolving it imports every view module and what they use: networkx, the engine,
the graph builders) and every template, compiled by the cached loader. Each worker inherits
them instead of paying for them in its first request (1–1.5 s of CPU on this project), and the
current analysis run's reach graph. The database connection that read it is closed before the
fork, so no connection is shared across it. With the app preloaded, a code change needs a
restart of the master, not a HUP. Each worker then loads the reach graph of every later
analysis in a thread of its own (`watch_reach_graph`), soon after the analysis finishes,
rather than in the first request that needs it.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from pathlib import Path
from typing import Any, cast

preload_app = True
logger = logging.getLogger(__name__)
# How often a worker looks for a newer analysis whose reach graph to load (one small query).
REACH_WATCH_SECONDS = float(os.environ.get("IAMVIZ_REACH_WATCH_SECONDS", "30"))


def when_ready(server: Any) -> None:
    warm_up()
    # What the master holds now lives as long as the workers: left out of their garbage
    # collections (a full one walks the reach graph's objects, about 0.14 s at 50 accounts, and
    # writes to every page it shares with the master). Dropped, it is still freed (no cycles).
    gc.freeze()
    server.log.info("iamviz: URL map, templates and reach graph loaded before forking workers")


def post_fork(server: Any, worker: Any) -> None:
    threading.Thread(
        target=watch_reach_graph,
        args=(REACH_WATCH_SECONDS, threading.Event()),
        name="reach-graph-watch",
        daemon=True,
    ).start()


def watch_reach_graph(interval: float, stop: threading.Event) -> None:
    """Every ``interval`` seconds until ``stop`` is set, load the current run's reach graph if
    this process does not hold it yet (`load_reach_graph`): after a nightly analysis, each
    worker's first role access tab or reach page would otherwise load it (1.5 s at 50
    accounts). A request needing it meanwhile waits for the same load, not a second one."""
    from django.db import connections

    while not stop.wait(interval):
        load_reach_graph()
        connections.close_all()  # this thread's own


def warm_up() -> None:
    """Resolve the URL map and compile every project template (idempotent)."""
    from django.conf import settings
    from django.db import connections
    from django.template.loader import get_template
    from django.urls import get_resolver

    get_resolver().reverse_dict  # noqa: B018 — populating it imports every view module
    folders = cast(list[Path], settings.TEMPLATES[0]["DIRS"])
    for folder in folders:
        root = Path(folder)
        for template in sorted(root.rglob("*.html")):
            get_template(template.relative_to(root).as_posix())
    load_reach_graph()
    connections.close_all()


def load_reach_graph() -> None:
    """The current analysis run's reach graph, loaded once here for every worker: a role's
    access tab and a principal's reach read it, and each worker's first such request paid for
    loading it (0.7–2.4 s on a 50-account estate). A worker loads the graph of a later run
    itself. Any failure (no database yet, no migration) leaves it to the workers."""
    from identities.queries.access import reach_graph

    try:
        reach_graph()
    except Exception as exc:  # noqa: BLE001 — an optimisation: the master must start anyway
        logger.warning("iamviz: reach graph not preloaded (%s)", exc)
