"""Who can assume what, from the stored analysis: a role's trusters, a principal's reach,
administrators, findings, and the live "why (not)?" explanation."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_GET

from identities.analysis.explain import ExplainError
from identities.analysis.reach import Reached
from identities.models import AccessEdge, Finding, IamRole, IamUser
from identities.queries import access, summaries
from identities.queries import findings as finding_queries
from identities.queries.estate import PAGE_SIZE, account_choices
from identities.queries.exports import role_access_csv_rows
from identities.queries.shared_cache import shared_for_run, warmer
from identities.roles import VIEWER
from identities.views.common import (
    HtmxHttpRequest,
    csv_response,
    paginate,
    render_page_or_fragment,
    require_role,
    role_or_404,
    user_or_404,
    wants_fragment,
)

logger = logging.getLogger(__name__)

GROUP = AccessEdge.SourceKind.GROUP
# Past this many rows a list is summarised; an opened summary row shows this many at a time.
LIST_PAGE_SIZE = 25


def _beyond_direct(reached: list[Reached], direct: set[str]) -> list[Reached]:
    """The chains of more than one hop, and the one-hop ones that are no role assumption
    listed as direct (an escalation: a role passed to a service, an access key, …)."""
    return [r for r in reached if r.hops > 1 or r.node not in direct]


def _out_of(
    principal: IamUser | IamRole, *, chains: bool = True
) -> tuple[list[access.DirectAccess], list[Reached]]:
    """The direct edges out of a principal, and the chains beyond them (none searched
    without ``chains``)."""
    direct = access.access_out_of(principal)
    if not chains:
        return direct, []
    reached, ends = access.reach_from(principal.arn), {item.target for item in direct}
    return direct, _beyond_direct(reached, ends)


@dataclass(frozen=True)
class Into:
    """The direct edges into a role as stored (an access group's edge once), the members for
    whom each group edge holds, and their number with the other edges'."""

    edges: list[access.DirectAccess]
    members: dict[str, list[tuple[str, str]]]

    @property
    def count(self) -> int:
        groups = sum(len(found) for found in self.members.values())
        return groups + sum(1 for edge in self.edges if edge.source_kind != GROUP)

    def sources(self) -> set[str]:
        found = {edge.source for edge in self.edges if edge.source_kind != GROUP}
        return found.union(arn for rows in self.members.values() for arn, _ in rows)

    def expanded(self) -> list[access.DirectAccess]:
        """`access.access_into(role)`: each group edge once per member."""
        return summaries.expand(self.edges, self.members)


def _into(
    role: IamRole, *, chains: bool = True, ordered: bool = True
) -> tuple[Into, list[Reached]]:
    """The direct edges into ``role`` folded by access group, and the chains beyond them (none
    searched without ``chains``; in no order with ``ordered=False``)."""
    edges = access.access_into(role, include_refused=True, expand_groups=False)
    own = {edge.source for edge in edges if edge.source_kind != GROUP}
    possible = [edge for edge in edges if edge.possible]
    into = Into(possible, access.group_members(possible, own))
    if not chains:
        return into, []
    reached = access.reach_to(role.arn, ordered=ordered)
    return into, _beyond_direct(reached, into.sources())


def _role_summary(role: IamRole) -> dict[str, Any]:
    """`_summary` of who can assume ``role``, once per run for every process: a busy role's
    chains are a search over the whole graph."""

    def compute() -> dict[str, Any]:
        # Unordered: the summary sorts the few chains it lists (the rest it counts).
        into, chains = _into(role, ordered=False)
        return _summary(into, chains, "into")

    return shared_for_run(f"role-into:{role.pk}", compute, in_memory=False)


# Roles whose "who can assume" summary is stored when an analysis finishes.
WARMED_ROLES = 20


@warmer("busiest-roles")
def warm_busiest_roles() -> None:
    """`_role_summary` of the `WARMED_ROLES` roles with the most stored edges into them."""
    busiest = (
        AccessEdge.objects.filter(outcome__in=access.POSSIBLE)
        .values("target_id")
        .annotate(n=Count("id"))
        .order_by("-n", "target_id")[:WARMED_ROLES]
    )
    for role in IamRole.objects.filter(pk__in=[row["target_id"] for row in busiest]):
        _role_summary(role)


def _summary(
    direct: list[access.DirectAccess] | Into, chains: list[Reached], direction: str
) -> dict[str, Any]:
    """The rows of a "who can assume" or "can assume" section: in full up to
    `LIST_PAGE_SIZE` rows, past that one row per bunch (`identities.queries.summaries`)."""
    count = direct.count if isinstance(direct, Into) else len(direct)
    summarise_direct, summarise_chains = count > LIST_PAGE_SIZE, len(chains) > LIST_PAGE_SIZE
    if not summarise_direct:
        rows, bunches = direct.expanded() if isinstance(direct, Into) else direct, []
    elif isinstance(direct, Into):
        rows, bunches = [], summaries.folded_direct_bunches(direct.edges, direct.members)
    else:
        rows, bunches = [], summaries.direct_bunches(direct, direction)
    return {
        "analysis": access.current_run(),
        "direct": rows,
        "direct_bunches": bunches,
        "direct_count": count,
        "chains": []
        if summarise_chains
        else access.chains_with_steps(sorted(chains, key=access.nearest_first)),
        "chain_bunches": summaries.chain_bunches(chains) if summarise_chains else [],
        "chain_count": len(chains),
    }


def _role_access_csv(role: IamRole) -> Iterator[list[str]]:
    """`role_access_csv_rows` of ``role``, read as the download goes: its header at once, the
    direct edges, then the chains (a search over the whole graph) once those are sent."""
    found: list[Into] = []

    def direct() -> Iterator[access.DirectAccess]:
        into, _ = _into(role, chains=False)
        found.append(into)
        yield from into.expanded()

    def chains() -> Iterator[access.Chain]:
        reached = _beyond_direct(access.reach_to(role.arn), found[0].sources())
        yield from access.chains_with_steps(reached)

    return role_access_csv_rows(direct(), chains())


@require_role(VIEWER)
@require_GET
def role_access(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponseBase:
    """Who can assume a role. Past `LIST_PAGE_SIZE` rows, one row per trust statement and
    account (directly) and per number of hops and account (chains), each opening its list
    (`access_list`); the CSV has every row."""
    role = role_or_404(account_id, name)
    if request.GET.get("format") == "csv":
        return csv_response(f"who-can-assume-{account_id}-{name}.csv", _role_access_csv(role))
    context = {"role": role, **_role_summary(role)}
    return render_page_or_fragment(
        request, "identities/role_access.html", "who-can-assume", context
    )


def _access_list(
    request: HtmxHttpRequest, principal: IamUser | IamRole, direction: str, list_label: str
) -> HttpResponseBase:
    """The principals (or roles) of one summary row: searchable (``q``), a page at a time."""
    part = request.GET.get("part", "direct")
    key = request.GET.get("bunch", "")
    q = request.GET.get("q", "").strip()
    if isinstance(principal, IamRole) and direction == "into":
        into, chains = _into(principal, chains=part == "chains")
    else:
        direct, chains = _out_of(principal, chains=part == "chains")
    if part == "chains":
        page = paginate(request, summaries.chains_in_bunch(chains, key, q), LIST_PAGE_SIZE)
        rows: list[Any] = access.chains_with_steps(page.object_list)
    elif part == "direct":
        if direction == "into":
            found = summaries.folded_in_bunch(into.edges, into.members, key, q)
        else:
            found = summaries.direct_in_bunch(direct, key, q, direction)
        page = paginate(request, found, LIST_PAGE_SIZE)
        rows = list(page.object_list)
    else:
        raise Http404(f"No list “{part}” of access edges: direct or chains.")
    context = {
        "principal": principal,
        "list_label": list_label,
        "direction": direction,
        "list_url": request.path,
        "part": part,
        "bunch": key,
        "q": q,
        "page": page,
        "rows": rows,
    }
    fragment = "access-list"
    if wants_fragment(request) and (request.htmx.target or "").startswith("rows-"):
        fragment = "access-rows"
    return render_page_or_fragment(request, "identities/access_list.html", fragment, context)


@require_role(VIEWER)
@require_GET
def role_access_list(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponseBase:
    return _access_list(request, role_or_404(account_id, name), "into", "Roles")


@require_role(VIEWER)
@require_GET
def user_reach_list(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponseBase:
    return _access_list(request, user_or_404(account_id, name), "out", "Users")


@require_role(VIEWER)
@require_GET
def role_reach_list(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponseBase:
    return _access_list(request, role_or_404(account_id, name), "out", "Roles")


def _principal_reach(
    request: HtmxHttpRequest, principal: IamUser | IamRole, list_label: str
) -> HttpResponse:
    kind = "user" if isinstance(principal, IamUser) else "role"

    def compute() -> dict[str, Any]:
        direct, chains = _out_of(principal)
        return _summary(direct, chains, "out")

    args = [principal.account.account_id, principal.name]
    context = {
        "principal": principal,
        "list_label": list_label,
        "list_url": reverse(f"identities:{kind}-reach-list", args=args),
        "administrator": finding_queries.administrators().filter(arn=principal.arn).first(),
        # Once per run for every process: its chains are a search over the whole graph.
        **shared_for_run(f"reach:{kind}:{principal.pk}", compute, in_memory=False),
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


ADMIN_LISTS = ("admins", "paths")


def _admin_rows(listing: str, account: str | None, page_number: Any) -> dict[str, Any]:
    """One page of administrators (``admins``) or of who can become one (``paths``)."""
    if listing == "admins":
        admins = Paginator(finding_queries.administrators(account), PAGE_SIZE)
        page = admins.get_page(page_number)
        return {"list": listing, "page": page, "rows": list(page)}
    paths = finding_queries.admin_paths()
    if account:
        paths = paths.filter(administrator__account__account_id=account)
    chains = Paginator(paths, PAGE_SIZE).get_page(page_number)
    # Each chain's hops: role assumptions and escalations (with their method).
    links = access.path_links(path.path for path in chains)
    return {"list": listing, "page": chains, "rows": list(zip(chains, links, strict=True))}


@require_role(VIEWER)
@require_GET
def administrators(request: HtmxHttpRequest) -> HttpResponse:
    """Administrators and who can become one, counted per account; each account's lists open
    a page at a time (``?list=admins|paths&account=ID&page=N``). A list of one page or less is
    shown in full."""
    account = request.GET.get("account") or None
    listing = request.GET.get("list", "")
    by_account = finding_queries.administrators_by_account(account)
    context: dict[str, Any] = {
        "analysis": access.current_run(),
        "account": account or "",
        "account_choices": account_choices(),
        "by_account": by_account,
        "admin_total": sum(row.administrators for row in by_account),
        "path_total": sum(row.paths for row in by_account),
    }
    if listing in ADMIN_LISTS:
        context["opened"] = _admin_rows(listing, account, request.GET.get("page"))
        if wants_fragment(request) and request.htmx.target != "administrators":
            return render_page_or_fragment(
                request, "identities/administrators.html", "admin-list", context["opened"]
            )
    else:
        totals = {"admins": context["admin_total"], "paths": context["path_total"]}
        context["shown"] = [
            _admin_rows(name, account, 1) for name in ADMIN_LISTS if 0 < totals[name] <= PAGE_SIZE
        ]
    return render_page_or_fragment(
        request, "identities/administrators.html", "administrators", context
    )


@warmer("administrators-by-account")
def warm_administrators_by_account() -> None:
    """The counts of the administrators page without an account filter."""
    finding_queries.administrators_by_account()


@require_role(VIEWER)
@require_GET
def account_matrix(request: HtmxHttpRequest) -> HttpResponse:
    """The estate from above: principals of each account (or outside party) that can assume
    roles of each account. A cell (``?from=X&to=Y``) opens the roles it counts; a column
    (``?to=Y``) is that account's trust boundary: who from outside can get in, and to what."""
    matrix = access.account_matrix()
    names = dict(account_choices())
    source, target = request.GET.get("from", ""), request.GET.get("to", "")
    context: dict[str, Any] = {
        "analysis": access.current_run(),
        "matrix": matrix,
        "targets": [(column, names.get(column, column)) for column in matrix.targets],
        "rows": [(row, names.get(row, ""), matrix.row(row)) for row in matrix.sources],
        "source": source,
        "target": target,
        "source_label": names.get(source, source),
        "target_label": names.get(target, target),
    }
    if target and not source:
        context["boundary"] = matrix.boundary(target)
    elif source and target:
        found = sorted(
            matrix.roles.get((source, target), {}).items(), key=lambda item: (-item[1], item[0])
        )
        context["cell"] = matrix.cells.get((source, target), 0)
        context["page"] = paginate(request, found)
    fragment = "matrix-cell" if request.htmx.target == "matrix-cell" else None
    return render_page_or_fragment(request, "identities/account_matrix.html", fragment, context)


@require_role(VIEWER)
@require_GET
def findings(request: HtmxHttpRequest) -> HttpResponse:
    severity = request.GET.get("severity") or None
    kind = request.GET.get("kind") or None
    account = request.GET.get("account") or None
    found = finding_queries.findings_page_rows(severity=severity, kind=kind, account_id=account)
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
