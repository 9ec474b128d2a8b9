"""Who can assume what, from the stored analysis: a role's trusters, a principal's reach,
administrators, findings, and the live "why (not)?" explanation."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from identities.analysis.explain import ExplainError
from identities.analysis.reach import Reached
from identities.models import Finding, IamRole, IamUser
from identities.queries import access
from identities.queries import findings as finding_queries
from identities.queries.estate import account_choices
from identities.queries.exports import role_access_csv_rows
from identities.roles import VIEWER
from identities.views.common import (
    HtmxHttpRequest,
    csv_response,
    paginate,
    render_page_or_fragment,
    require_role,
    role_or_404,
    user_or_404,
)

logger = logging.getLogger(__name__)

ACCESS_ROWS_SHOWN = 500


def _beyond_direct(reached: list[Reached], direct: set[str]) -> list[Reached]:
    """The chains of more than one hop, and the one-hop ones that are no role assumption
    listed as direct (an escalation: a role passed to a service, an access key, …)."""
    return [r for r in reached if r.hops > 1 or r.node not in direct]


@require_role(VIEWER)
@require_GET
def role_access(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponseBase:
    """Who can assume a role: directly and through chains (also embedded in the role page)."""
    role = role_or_404(account_id, name)
    direct = access.access_into(role)
    chains = _beyond_direct(access.reach_to(role.arn), {item.source for item in direct})
    if request.GET.get("format") == "csv":
        return csv_response(
            f"who-can-assume-{account_id}-{name}.csv",
            role_access_csv_rows(direct, access.chains_with_steps(chains)),
        )
    context = {
        "role": role,
        "analysis": access.current_run(),
        "direct": direct[:ACCESS_ROWS_SHOWN],
        "direct_count": len(direct),
        "chains": access.chains_with_steps(chains[:ACCESS_ROWS_SHOWN]),
        "chain_count": len(chains),
    }
    return render_page_or_fragment(
        request, "identities/role_access.html", "who-can-assume", context
    )


def _principal_reach(
    request: HtmxHttpRequest, principal: IamUser | IamRole, list_label: str
) -> HttpResponse:
    direct = access.access_out_of(principal)
    chains = _beyond_direct(access.reach_from(principal.arn), {item.target for item in direct})
    context = {
        "principal": principal,
        "list_label": list_label,
        "analysis": access.current_run(),
        "administrator": finding_queries.administrators().filter(arn=principal.arn).first(),
        "direct": direct,
        "chains": access.chains_with_steps(chains[:ACCESS_ROWS_SHOWN]),
        "chain_count": len(chains),
    }
    return render_page_or_fragment(
        request, "identities/principal_reach.html", "can-assume", context
    )


@require_role(VIEWER)
@require_GET
def user_reach(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponse:
    return _principal_reach(request, user_or_404(account_id, name), "Users")


@require_role(VIEWER)
@require_GET
def role_reach(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponse:
    return _principal_reach(request, role_or_404(account_id, name), "Roles")


@require_role(VIEWER)
@require_GET
def administrators(request: HtmxHttpRequest) -> HttpResponse:
    account = request.GET.get("account") or None
    paths = finding_queries.admin_paths()
    if account:
        paths = paths.filter(administrator__account__account_id=account)
    page = paginate(request, paths)
    context = {
        "analysis": access.current_run(),
        "account": account or "",
        "account_choices": account_choices(),
        "admins": list(finding_queries.administrators(account)),
        "paths": page,
        # Each chain's hops: role assumptions and escalations (with their method).
        "path_rows": list(zip(page, access.path_links(p.path for p in page), strict=True)),
    }
    return render_page_or_fragment(
        request, "identities/administrators.html", "administrators", context
    )


@require_role(VIEWER)
@require_GET
def findings(request: HtmxHttpRequest) -> HttpResponse:
    severity = request.GET.get("severity") or None
    kind = request.GET.get("kind") or None
    account = request.GET.get("account") or None
    found = sorted(
        finding_queries.findings(severity=severity, kind=kind, account_id=account),
        key=lambda finding: (
            finding_queries.severity_rank(finding),
            finding.kind,
            finding.principal_arn,
        ),
    )
    context = {
        "severity": severity or "",
        "kind": kind or "",
        "account": account or "",
        "severities": Finding.Severity.choices,
        "kinds": Finding.Kind.choices,
        "account_choices": account_choices(),
        "page": paginate(request, found),
    }
    return render_page_or_fragment(request, "identities/findings.html", "findings", context)


@require_role(VIEWER)
@require_GET
def explain(request: HtmxHttpRequest) -> HttpResponse:
    """ "Why (not)?": evaluate one principal against one role, live, with every statement."""
    source = request.GET.get("source", "").strip()
    target = request.GET.get("target", "").strip()
    context: dict[str, Any] = {"source": source, "target": target}
    if source and target:
        try:
            context["explanation"] = access.explain(source, target)
        except ExplainError as exc:
            context["error"] = str(exc)
    return render_page_or_fragment(request, "identities/explain.html", "explanation", context)
