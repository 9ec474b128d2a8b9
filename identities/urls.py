from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from identities.views import (
    access,
    audit,
    choke_points,
    escalations,
    estate,
    graph,
    review,
    sensitive,
    sync,
    what_if,
)

app_name = "identities"

# Routes are grouped under their shared prefix, each prefix written once.
user_patterns = [
    path("", estate.principal_detail, {"kind": "user"}, name="user-detail"),
    path("reach/", access.user_reach, name="user-reach"),
    path("reach/list/", access.user_reach_list, name="user-reach-list"),
    path("escalations/", escalations.user_escalations, name="user-escalations"),
]
role_patterns = [
    path("", estate.principal_detail, {"kind": "role"}, name="role-detail"),
    path("access/", access.role_access, name="role-access"),
    path("access/list/", access.role_access_list, name="role-access-list"),
    path("reach/", access.role_reach, name="role-reach"),
    path("reach/list/", access.role_reach_list, name="role-reach-list"),
    path("escalations/", escalations.role_escalations, name="role-escalations"),
]
account_patterns: list[URLPattern | URLResolver] = [
    path("", estate.account_detail, name="account-detail"),
    path("users/<str:name>/", include(user_patterns)),
    path("groups/<str:name>/", estate.principal_detail, {"kind": "group"}, name="group-detail"),
    path("roles/<str:name>/", include(role_patterns)),
    path("policies/<path:arn>/", estate.policy_detail, name="policy-detail"),
]
run_patterns = [
    path("", sync.syncrun_list, name="syncrun-list"),
    path("<int:pk>/", sync.syncrun_detail, name="syncrun-detail"),
    path("<int:pk>/bundle.json.gz", sync.syncrun_bundle, name="syncrun-bundle"),
]
sync_account_patterns = [
    path("", sync.sync_account_add, name="sync-account-add"),
    path("<str:account_id>/", sync.sync_account_update, name="sync-account-update"),
    path("<str:account_id>/now/", sync.sync_account_now, name="sync-account-now"),
]
sync_patterns: list[URLPattern | URLResolver] = [
    path("", sync.sync_page, name="sync"),
    path("runs/", sync.sync_runs, name="sync-runs"),
    path("settings/", sync.sync_settings, name="sync-settings"),
    path("schedule/", sync.sync_schedule, name="sync-schedule"),
    path("now/", sync.sync_now, name="sync-now"),
    path("accounts/", include(sync_account_patterns)),
]
escalation_patterns = [
    path("", escalations.escalations, name="escalations"),
    path("methods/", escalations.escalation_catalogue, name="escalation-catalogue"),
]
access_patterns: list[URLPattern | URLResolver] = [
    path("administrators/", access.administrators, name="administrators"),
    path("matrix/", access.account_matrix, name="account-matrix"),
    path("findings/", access.findings, name="findings"),
    path("explain/", access.explain, name="explain"),
    path("escalations/", include(escalation_patterns)),
    path("who-can/", escalations.who_can_page, name="who-can"),
    path("sensitive/", sensitive.sensitive_targets, name="sensitive-targets"),
    path("choke-points/", choke_points.choke_points_page, name="choke-points"),
]
finding_patterns = [
    path("", review.finding_detail, name="finding-detail"),
    path("decide/", review.finding_decide, name="finding-decide"),
    path("reopen/", review.finding_reopen, name="finding-reopen"),
]
review_patterns: list[URLPattern | URLResolver] = [
    path("changes/", review.changes, name="changes"),
    path("changes/edge/", review.change_edge, name="change-edge"),
    path("edges/", review.edge_review, name="edge-review"),
    path("findings/", review.finding_triage, name="finding-triage"),
    path("findings/<str:key>/", include(finding_patterns)),
    path("rules/", review.suppression_rules, name="suppression-rules"),
    path("notifications/", review.notification_settings_page, name="notification-settings"),
]
graph_patterns = [
    path("", graph.graph_start, name="graph-start"),
    *(
        path(f"{view}/", graph.graph_page, {"view": view}, name=f"graph-{view}")
        for view in graph.GRAPH_VIEWS
    ),
    path("data.json", graph.graph_data, name="graph-data"),
    path("export.graphml", graph.graph_graphml, name="graph-graphml"),
    path("export.svg", graph.graph_svg, name="graph-svg"),
    path("suggest/", graph.graph_suggest, name="graph-suggest"),
    path("edge/", graph.graph_edge, name="graph-edge"),
    path("node/<str:kind>/<path:key>", graph.graph_node, name="graph-node"),
    path("folded/", graph.graph_folded, name="graph-folded"),
]

what_if_patterns = [
    path("", what_if.what_if_page, name="what-if"),
    path("run/", what_if.what_if_run, name="what-if-run"),
    path("save/", what_if.what_if_save, name="what-if-save"),
    path("<int:pk>/", what_if.what_if_detail, name="what-if-detail"),
    path("<int:pk>/run/", what_if.what_if_rerun, name="what-if-rerun"),
]

urlpatterns = [
    path("", estate.dashboard, name="dashboard"),
    *(
        path(
            f"{listing.noun}/",
            estate.estate_list,
            {"listing": listing},
            name=f"{listing.name}-list",
        )
        for listing in (estate.USERS, estate.GROUPS, estate.ROLES, estate.POLICIES)
    ),
    path("accounts/<str:account_id>/", include(account_patterns)),
    path("runs/", include(run_patterns)),
    path("search/", estate.search, name="search"),
    path("arn/<path:arn>", estate.arn_redirect, name="arn"),
    path("sync/", include(sync_patterns)),
    path("access/", include(access_patterns)),
    path("review/", include(review_patterns)),
    path("audit/", audit.audit_log, name="audit-log"),
    path("graph/", include(graph_patterns)),
    path("what-if/", include(what_if_patterns)),
    path("", include("identities.api.urls")),
]
