from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, include, path

from identities.views import (
    access,
    audit,
    choke_points,
    escalations,
    estate,
    exports,
    graph,
    review,
    sensitive,
    sync,
    what_if,
)

app_name = "identities"


def route(pattern: str, view: Callable[..., Any]) -> URLPattern:
    """A route named after its view: `sync_runs` is `sync-runs`, `who_can_page` is `who-can`."""
    return path(pattern, view, name=view.__name__.removesuffix("_page").replace("_", "-"))


def detail(pattern: str, kind: str) -> URLPattern:
    """The page of a user, group or role."""
    return path(pattern, estate.principal_detail, {"kind": kind}, name=f"{kind}-detail")


ACCOUNT = "accounts/<str:account_id>/"
USER = f"{ACCOUNT}users/<str:name>/"
ROLE = f"{ACCOUNT}roles/<str:name>/"

# One row a page: its URL and its view (the route's name is the view's, see `route`).
urlpatterns = [
    route("", estate.dashboard),
    *(
        path(
            f"{listing.noun}/",
            estate.estate_list,
            {"listing": listing},
            name=f"{listing.name}-list",
        )
        for listing in (estate.USERS, estate.GROUPS, estate.ROLES, estate.POLICIES)
    ),
    route(ACCOUNT, estate.account_detail),
    detail(USER, "user"),
    route(f"{USER}reach/", access.user_reach),
    route(f"{USER}reach/list/", access.user_reach_list),
    route(f"{USER}escalations/", escalations.user_escalations),
    detail(f"{ACCOUNT}groups/<str:name>/", "group"),
    detail(ROLE, "role"),
    route(f"{ROLE}access/", access.role_access),
    route(f"{ROLE}access/list/", access.role_access_list),
    route(f"{ROLE}reach/", access.role_reach),
    route(f"{ROLE}reach/list/", access.role_reach_list),
    route(f"{ROLE}escalations/", escalations.role_escalations),
    route(f"{ACCOUNT}policies/<path:arn>/", estate.policy_detail),
    route("runs/", sync.syncrun_list),
    route("runs/<int:pk>/", sync.syncrun_detail),
    route("runs/<int:pk>/bundle.json.gz", sync.syncrun_bundle),
    route("search/", estate.search),
    path("arn/<path:arn>", estate.arn_redirect, name="arn"),
    route("sync/", sync.sync_page),
    route("sync/runs/", sync.sync_runs),
    route("sync/settings/", sync.sync_settings),
    route("sync/schedule/", sync.sync_schedule),
    route("sync/now/", sync.sync_now),
    route("sync/accounts/", sync.sync_account_add),
    route("sync/accounts/<str:account_id>/", sync.sync_account_update),
    route("sync/accounts/<str:account_id>/now/", sync.sync_account_now),
    route("access/administrators/", access.administrators),
    route("access/matrix/", access.account_matrix),
    route("access/findings/", access.findings),
    route("access/explain/", access.explain),
    route("access/escalations/", escalations.escalations),
    route("access/escalations/methods/", escalations.escalation_catalogue),
    route("access/escalations/export/", exports.export_escalations),
    route("exports/", exports.export_list),
    route("exports/<int:pk>/", exports.export_detail),
    route("exports/<int:pk>/download/", exports.export_download),
    route("access/who-can/", escalations.who_can_page),
    route("access/sensitive/", sensitive.sensitive_targets),
    route("access/choke-points/", choke_points.choke_points_page),
    route("review/changes/", review.changes),
    route("review/changes/edge/", review.change_edge),
    route("review/edges/", review.edge_review),
    route("review/findings/", review.finding_triage),
    route("review/findings/<str:key>/", review.finding_detail),
    route("review/findings/<str:key>/decide/", review.finding_decide),
    route("review/findings/<str:key>/reopen/", review.finding_reopen),
    route("review/rules/", review.suppression_rules),
    route("review/notifications/", review.notification_settings_page),
    route("audit/", audit.audit_log),
    route("graph/", graph.graph_start),
    *(
        path(f"graph/{view}/", graph.graph_page, {"view": view}, name=f"graph-{view}")
        for view in graph.GRAPH_VIEWS
    ),
    route("graph/data.json", graph.graph_data),
    route("graph/export.graphml", graph.graph_graphml),
    route("graph/export.svg", graph.graph_svg),
    route("graph/suggest/", graph.graph_suggest),
    route("graph/edge/", graph.graph_edge),
    route("graph/node/<str:kind>/<path:key>", graph.graph_node),
    route("graph/folded/", graph.graph_folded),
    route("what-if/", what_if.what_if_page),
    route("what-if/run/", what_if.what_if_run),
    route("what-if/save/", what_if.what_if_save),
    route("what-if/<int:pk>/", what_if.what_if_detail),
    route("what-if/<int:pk>/run/", what_if.what_if_rerun),
    route("what-if/jobs/<int:pk>/", what_if.what_if_job),
    path("", include("identities.api.urls")),
]
