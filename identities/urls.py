from __future__ import annotations

from django.urls import path

from identities import sync_views, views

app_name = "identities"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("accounts/<str:account_id>/", views.account_detail, name="account-detail"),
    path("users/", views.user_list, name="user-list"),
    path("groups/", views.group_list, name="group-list"),
    path("roles/", views.role_list, name="role-list"),
    path("policies/", views.policy_list, name="policy-list"),
    path("accounts/<str:account_id>/users/<str:name>/", views.user_detail, name="user-detail"),
    path("accounts/<str:account_id>/groups/<str:name>/", views.group_detail, name="group-detail"),
    path("accounts/<str:account_id>/roles/<str:name>/", views.role_detail, name="role-detail"),
    path(
        "accounts/<str:account_id>/policies/<path:arn>/",
        views.policy_detail,
        name="policy-detail",
    ),
    path("runs/", views.syncrun_list, name="syncrun-list"),
    path("runs/<int:pk>/", views.syncrun_detail, name="syncrun-detail"),
    path("runs/<int:pk>/bundle.json.gz", views.syncrun_bundle, name="syncrun-bundle"),
    path("search/", views.search, name="search"),
    path("arn/<path:arn>", views.arn_redirect, name="arn"),
    path("sync/", sync_views.sync_page, name="sync"),
    path("sync/runs/", sync_views.sync_runs, name="sync-runs"),
    path("sync/settings/", sync_views.sync_settings, name="sync-settings"),
    path("sync/schedule/", sync_views.sync_schedule, name="sync-schedule"),
    path("sync/now/", sync_views.sync_now, name="sync-now"),
    path("sync/accounts/", sync_views.sync_account_add, name="sync-account-add"),
    path(
        "sync/accounts/<str:account_id>/",
        sync_views.sync_account_update,
        name="sync-account-update",
    ),
    path(
        "sync/accounts/<str:account_id>/now/", sync_views.sync_account_now, name="sync-account-now"
    ),
    path(
        "accounts/<str:account_id>/roles/<str:name>/access/", views.role_access, name="role-access"
    ),
    path("accounts/<str:account_id>/roles/<str:name>/reach/", views.role_reach, name="role-reach"),
    path("accounts/<str:account_id>/users/<str:name>/reach/", views.user_reach, name="user-reach"),
    path("access/administrators/", views.administrators, name="administrators"),
    path("access/findings/", views.findings, name="findings"),
    path("access/explain/", views.explain, name="explain"),
    path("graph/identity/", views.graph_identity, name="graph-identity"),
    path("graph/access/", views.graph_access, name="graph-access"),
    path("graph/paths/", views.graph_paths, name="graph-paths"),
    path("graph/data.json", views.graph_data, name="graph-data"),
    path("graph/export.graphml", views.graph_graphml, name="graph-graphml"),
    path("graph/export.svg", views.graph_svg, name="graph-svg"),
    path("graph/suggest/", views.graph_suggest, name="graph-suggest"),
    path("graph/edge/", views.graph_edge, name="graph-edge"),
    path("graph/node/<str:kind>/<path:key>", views.graph_node, name="graph-node"),
]
