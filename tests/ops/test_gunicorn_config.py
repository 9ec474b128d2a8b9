"""The gunicorn master readies the URL map and templates before it forks the workers."""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.urls import clear_url_caches, get_resolver

from iamviz import gunicorn_config


def _cached_loader(loaders: list[Any]) -> Any:
    """Django's cached loader, wherever a wrapping loader (template partials) holds it."""
    for loader in loaders:
        if hasattr(loader, "get_template_cache"):
            return loader
        if found := _cached_loader(getattr(loader, "loaders", [])):
            return found
    return None


def test_warm_up_compiles_every_template_and_leaves_no_connection_open() -> None:
    clear_url_caches()
    assert not vars(get_resolver())["_populated"]
    django_engine = engines["django"]
    assert isinstance(django_engine, DjangoTemplates)
    loader = _cached_loader(django_engine.engine.template_loaders)
    loader.reset()

    gunicorn_config.warm_up()

    assert vars(get_resolver())["_populated"]
    compiled = set(loader.get_template_cache)
    assert {"page.html", "identities/role_detail.html", "partials/graph_view.html"} <= compiled
    assert all(connection.connection is None for connection in connections.all())


def test_the_app_is_preloaded() -> None:
    assert gunicorn_config.preload_app is True


def test_warm_up_loads_the_current_reach_graph(imported_sample) -> None:
    from identities.queries import access

    access._cache.update(run=None, values={})

    gunicorn_config.warm_up()

    # What a worker forked now reads without loading it.
    assert access._cache["values"].get("reach") is not None


def test_warm_up_starts_without_a_database(caplog) -> None:
    # No database access in this test: the preload fails, the master starts all the same.
    gunicorn_config.warm_up()

    assert "reach graph not preloaded" in caplog.text


def test_the_master_freezes_what_it_loaded_before_forking(monkeypatch) -> None:
    import gc
    import logging

    monkeypatch.setattr(gunicorn_config, "warm_up", lambda: None)
    server = type("Server", (), {"log": logging.getLogger("gunicorn.error")})()
    try:
        gunicorn_config.when_ready(server)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_worker_loads_a_later_runs_reach_graph_in_the_background(
    transactional_db, sample_bundle
) -> None:
    import threading
    import time

    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.queries import access

    import_bundle(sample_bundle, label="sample-org.json")
    analyse_estate()
    access._cache.update(run=None, values={})
    stop = threading.Event()
    watcher = threading.Thread(target=gunicorn_config.watch_reach_graph, args=(0.05, stop))
    watcher.start()
    try:
        deadline = time.monotonic() + 20
        while access._cache["values"].get("reach") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        first = access._cache["run"]
        assert access._cache["values"].get("reach") is not None

        analyse_estate()  # a later run: its graph is loaded without a request asking

        def loaded_later() -> bool:
            return access._cache["run"] != first and "reach" in access._cache["values"]

        while not loaded_later() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert loaded_later()
        assert access._cache["values"]["reach"] is not None
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert not watcher.is_alive()
