from __future__ import annotations

from django.urls import path

from identities import views

app_name = "identities"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
