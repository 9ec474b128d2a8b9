"""gunicorn's settings for `docker/entrypoint.sh web` (`--config python:iamviz.gunicorn_config`).

The application is loaded once, in the master, and made ready there before the workers fork:
its URL map (resolving it imports every view module and what they use: networkx, the engine,
the graph builders) and every template, compiled by the cached loader. Each worker inherits
them instead of paying for them in its first request (1–1.5 s of CPU on this project). Nothing
here opens a database connection, so no connection is shared across the fork. With the app
preloaded, a code change needs a restart of the master, not a HUP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

preload_app = True


def when_ready(server: Any) -> None:
    warm_up()
    server.log.info("iamviz: URL map and templates loaded before forking workers")


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
    connections.close_all()
