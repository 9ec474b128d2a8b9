"""Included by `identities/urls.py` at the site root (names in the `identities` namespace)."""

from __future__ import annotations

from django.urls import path

from identities.api import pages, views

urlpatterns = [
    path("api/v1/access-edges/", views.AccessEdges.as_view(), name="api-access-edges"),
    path("api/v1/escalations/", views.Escalations.as_view(), name="api-escalations"),
    path("api/v1/access-changes/", views.AccessChanges.as_view(), name="api-access-changes"),
    path("api/v1/findings/", views.Findings.as_view(), name="api-findings"),
    path("api/v1/who-can/", views.WhoCan.as_view(), name="api-who-can"),
    path("api/tokens/", pages.api_tokens, name="api-tokens"),
    path("api/tokens/<int:pk>/revoke/", pages.api_token_revoke, name="api-token-revoke"),
]
