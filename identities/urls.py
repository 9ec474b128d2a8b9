from __future__ import annotations

from django.urls import path

from identities.views import access, audit, escalations, estate, graph, review, sync

app_name = "identities"

urlpatterns = [
    path("", estate.dashboard, name="dashboard"),
    path("accounts/<str:account_id>/", estate.account_detail, name="account-detail"),
    path("users/", estate.estate_list, {"listing": estate.USERS}, name="user-list"),
    path("groups/", estate.estate_list, {"listing": estate.GROUPS}, name="group-list"),
    path("roles/", estate.estate_list, {"listing": estate.ROLES}, name="role-list"),
    path("policies/", estate.estate_list, {"listing": estate.POLICIES}, name="policy-list"),
    path("accounts/<str:account_id>/users/<str:name>/", estate.user_detail, name="user-detail"),
    path("accounts/<str:account_id>/groups/<str:name>/", estate.group_detail, name="group-detail"),
    path("accounts/<str:account_id>/roles/<str:name>/", estate.role_detail, name="role-detail"),
    path(
        "accounts/<str:account_id>/policies/<path:arn>/",
        estate.policy_detail,
        name="policy-detail",
    ),
    path("runs/", sync.syncrun_list, name="syncrun-list"),
    path("runs/<int:pk>/", sync.syncrun_detail, name="syncrun-detail"),
    path("runs/<int:pk>/bundle.json.gz", sync.syncrun_bundle, name="syncrun-bundle"),
    path("search/", estate.search, name="search"),
    path("arn/<path:arn>", estate.arn_redirect, name="arn"),
    path("sync/", sync.sync_page, name="sync"),
    path("sync/runs/", sync.sync_runs, name="sync-runs"),
    path("sync/settings/", sync.sync_settings, name="sync-settings"),
    path("sync/schedule/", sync.sync_schedule, name="sync-schedule"),
    path("sync/now/", sync.sync_now, name="sync-now"),
    path("sync/accounts/", sync.sync_account_add, name="sync-account-add"),
    path(
        "sync/accounts/<str:account_id>/",
        sync.sync_account_update,
        name="sync-account-update",
    ),
    path("sync/accounts/<str:account_id>/now/", sync.sync_account_now, name="sync-account-now"),
    path(
        "accounts/<str:account_id>/roles/<str:name>/access/", access.role_access, name="role-access"
    ),
    path("accounts/<str:account_id>/roles/<str:name>/reach/", access.role_reach, name="role-reach"),
    path("accounts/<str:account_id>/users/<str:name>/reach/", access.user_reach, name="user-reach"),
    path("access/administrators/", access.administrators, name="administrators"),
    path("access/findings/", access.findings, name="findings"),
    path("access/explain/", access.explain, name="explain"),
    path("access/escalations/", escalations.escalations, name="escalations"),
    path(
        "access/escalations/methods/",
        escalations.escalation_catalogue,
        name="escalation-catalogue",
    ),
    path("access/who-can/", escalations.who_can_page, name="who-can"),
    path(
        "accounts/<str:account_id>/users/<str:name>/escalations/",
        escalations.user_escalations,
        name="user-escalations",
    ),
    path(
        "accounts/<str:account_id>/roles/<str:name>/escalations/",
        escalations.role_escalations,
        name="role-escalations",
    ),
    path("review/changes/", review.changes, name="changes"),
    path("review/changes/edge/", review.change_edge, name="change-edge"),
    path("review/edges/", review.edge_review, name="edge-review"),
    path("review/findings/", review.finding_triage, name="finding-triage"),
    path("review/findings/<str:key>/", review.finding_detail, name="finding-detail"),
    path("review/findings/<str:key>/decide/", review.finding_decide, name="finding-decide"),
    path("review/findings/<str:key>/reopen/", review.finding_reopen, name="finding-reopen"),
    path("review/rules/", review.suppression_rules, name="suppression-rules"),
    path(
        "review/notifications/",
        review.notification_settings_page,
        name="notification-settings",
    ),
    path("audit/", audit.audit_log, name="audit-log"),
    path("graph/identity/", graph.graph_page, {"view": "identity"}, name="graph-identity"),
    path("graph/access/", graph.graph_page, {"view": "access"}, name="graph-access"),
    path("graph/paths/", graph.graph_page, {"view": "paths"}, name="graph-paths"),
    path("graph/data.json", graph.graph_data, name="graph-data"),
    path("graph/export.graphml", graph.graph_graphml, name="graph-graphml"),
    path("graph/export.svg", graph.graph_svg, name="graph-svg"),
    path("graph/suggest/", graph.graph_suggest, name="graph-suggest"),
    path("graph/edge/", graph.graph_edge, name="graph-edge"),
    path("graph/node/<str:kind>/<path:key>", graph.graph_node, name="graph-node"),
]
