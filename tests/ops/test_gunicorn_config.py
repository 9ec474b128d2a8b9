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
