"""The JSON endpoints: each one answers what a management command prints, through the same
reader and the same row function, so the API and the CLI cannot disagree.

Read-only (GET/HEAD); a per-user token (`Authorization: Bearer iamviz_…`) or a login session;
the viewer role or higher; throttled per user. Lists come in pages: ``count``, ``next``,
``previous`` (absolute URLs or null) and ``results``, in the command's own order.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate
from typing import Any, ClassVar

import orjson
from django.conf import settings
from django.core.paginator import InvalidPage, Paginator
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.cache import patch_cache_control
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import (
    APIException,
    AuthenticationFailed,
    NotAuthenticated,
    NotFound,
    ParseError,
    PermissionDenied,
)
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from identities.analysis.who_can import question_error
from identities.api.tokens import check_token
from identities.arns import account_of
from identities.models import AccessEdge, AccessGroupMember, Account, Finding, TriageStatus
from identities.models.review import Severity
from identities.queries.access import (
    POSSIBLE,
    TransitiveFrom,
    direct_edge_sources,
    direct_edges_of,
    iter_transitive_edges,
    source_error,
)
from identities.queries.changes import (
    HistoryUnavailable,
    changes_between,
    changes_document,
    finding_row,
    tracked_findings,
)
from identities.queries.escalations import iter_escalations
from identities.queries.estate import is_user_or_role
from identities.queries.paging import SlicedSequence
from identities.queries.shared_cache import (
    current_key,
    has_rows,
    shared_for_run,
    shared_rows_for_run,
    store_partitioned,
    warmer,
)
from identities.queries.who_can import answer_who_can
from identities.roles import VIEWER, has_role

logger = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
PAGING = ("page", "page_size")
NO_CREDENTIALS = (
    "Authentication needed: send an API token as 'Authorization: Bearer <token>' "
    "(make one on the API tokens page), or log in."
)


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`; no header: the next authenticator (the session)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("Send the token as 'Authorization: Bearer <token>'.")
        row, reason = check_token(token.strip())
        if row is None:
            raise AuthenticationFailed(reason)
        return row.user, row

    def authenticate_header(self, request: Request) -> str:
        # Its presence makes a missing or refused credential a 401, not a 403.
        return 'Bearer realm="iamviz"'


class ViewerRole(BasePermission):
    message = "This needs the viewer role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_role(request.user, VIEWER)


class ApiThrottle(UserRateThrottle):
    """Requests per user, at the rate of `IAMVIZ_API_RATE` (read at each request)."""

    def get_rate(self) -> str:
        return str(settings.IAMVIZ_API_RATE)


class ApiView(APIView):
    """GET only; `filters` names the query parameters a view reads (any other one is refused)."""

    http_method_names: ClassVar[list[str]] = ["get", "head", "options"]  # type: ignore[misc]
    authentication_classes: ClassVar[list[type]] = [TokenAuthentication, SessionAuthentication]
    permission_classes: ClassVar[list[type]] = [ViewerRole]
    throttle_classes: ClassVar[list[type]] = [ApiThrottle]
    renderer_classes: ClassVar[list[type]] = [JSONRenderer]
    filters: ClassVar[tuple[str, ...]] = ()
    paginated: ClassVar[bool] = True

    def permission_denied(self, request: Request, message: str | None = None, code: Any = None):  # type: ignore[no-untyped-def]
        if request.authenticators and not request.successful_authenticator:
            raise NotAuthenticated(NO_CREDENTIALS)
        raise PermissionDenied(message)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Who can become whom is the estate's most sensitive map: no cache keeps a copy.
        patch_cache_control(response, private=True, no_store=True)
        return response

    def get(self, request: Request) -> Response:
        allowed = (*self.filters, *(PAGING if self.paginated else ()))
        unknown = sorted(set(request.query_params) - set(allowed))
        if unknown:
            raise ParseError(
                f"unknown query parameter {', '.join(unknown)}; this endpoint takes "
                f"{', '.join(allowed) or 'none'}"
            )
        params = {name: request.query_params.get(name, "").strip() for name in self.filters}
        return self.answer(request, params)

    def answer(self, request: Request, params: dict[str, str]) -> Response:
        raise NotImplementedError


def _positive(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        bound = f" up to {maximum}" if maximum is not None else ""
        raise ParseError(f"{name}: {raw!r} is not a whole number from 1{bound}")
    return int(raw)


def page_of(
    request: Request, items: Sequence[Any] | QuerySet[Any], row: Callable[[Any], dict[str, Any]]
) -> Response:
    """One page of `items` (in their order), each as `row` makes it, with links to the pages
    either side."""
    size = _positive(request, "page_size", PAGE_SIZE, MAX_PAGE_SIZE)
    number = _positive(request, "page", 1)
    paginator = Paginator(items, size)
    try:
        page = paginator.page(number)
    except InvalidPage:
        raise NotFound(f"page: {number} is past the last page ({paginator.num_pages})") from None
    url = request.build_absolute_uri()
    previous = None
    if page.has_previous():
        number_before = page.previous_page_number()
        previous = (
            remove_query_param(url, "page")
            if number_before == 1
            else replace_query_param(url, "page", number_before)
        )
    return Response(
        {
            "count": paginator.count,
            "next": replace_query_param(url, "page", page.next_page_number())
            if page.has_next()
            else None,
            "previous": previous,
            "results": [row(item) for item in page.object_list],
        }
    )


def _account(value: str) -> str | None:
    if value and not Account.objects.filter(account_id=value).exists():
        raise ParseError(f"account: no synced account {value}")
    return value or None


def _choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value and value not in choices:
        raise ParseError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    return value


def _flag(name: str, value: str) -> bool:
    if value.lower() not in {"", "true", "false", "1", "0"}:
        raise ParseError(f"{name}: {value!r} is not true or false")
    return value.lower() in {"true", "1"}


def _run_id(name: str, value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise ParseError(f"{name}: {value!r} is not an analysis run id")
    return int(value)


def rows_of_current_run(name: str, rows: Callable[[], Iterable[Any]]) -> Sequence[bytes]:
    """Every row of a list the reader builds whole (edges, escalations), as compact JSON, built
    once per analysis run for every process and kept in the shared cache (`shared_cache`): a
    page reads a chunk of it, not the whole list (93,032 edges of 50 accounts take the reader
    ~5 s, their chains a minute). `warm_api_lists` stores them when an analysis finishes."""
    return shared_rows_for_run(f"api:{name}", lambda: (_json(item) for item in rows()))


def _json(item: Any) -> bytes:
    return orjson.dumps(item.as_row())


class DirectEdgePages(SlicedSequence[bytes]):
    """The rows of `iter_direct_edges` (as compact JSON), read a page at a time: the sources
    with their number of rows are counted once per analysis run for every process
    (`direct_edge_sources`, kept in the shared cache), and a page reads the edges of only the
    sources it shows (`direct_edges_of`), so that a first page costs what it shows: expanded,
    the access groups of 50 generated accounts give 29 million rows."""

    def __init__(self, account_id: str | None):
        self.account_id = account_id
        counted = shared_for_run(
            f"api:direct-sources:{account_id}",
            lambda: direct_edge_sources(account_id),
            in_memory=account_id is None,
        )
        self.sources = [source for source, _ in counted]
        self.ends = list(accumulate(n for _, n in counted))

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def _rows(self, start: int, stop: int) -> list[bytes]:
        # The sources whose rows hold rows start..stop-1, and the rows before the first.
        first, last = bisect_right(self.ends, start), bisect_right(self.ends, stop - 1)
        before = self.ends[first - 1] if first else 0
        edges = direct_edges_of(self.sources[first : last + 1], self.account_id)
        return [_json(edge) for edge in edges[start - before : stop - before]]


def direct_edge_count() -> int:
    """How many direct edges `iter_direct_edges` lists, access groups' edges counted once per
    member (an upper bound: a member's own edge may replace its group's), from two counts."""
    sizes = dict(
        AccessGroupMember.objects.values("group_id")
        .annotate(n=Count("id"))
        .values_list("group_id", "n")
    )
    by_group = (
        AccessEdge.objects.filter(outcome__in=POSSIBLE)
        .values("source_group_id")
        .annotate(n=Count("id"))
        .values_list("source_group_id", "n")
    )
    return sum(n * sizes.get(group, 0) if group else n for group, n in by_group)


@warmer("api-lists")
def warm_api_lists() -> dict[str, int]:
    """Count the sources of the API's direct edges of the current run (`DirectEdgePages`),
    whole and per account (~0.75 s an account at 50 accounts, which a first page of one
    account would otherwise wait for), store its escalations' rows (a minute and more at 50
    accounts), and its transitive edge lists (whole and per account, from one pass over the
    edges). The transitive lists not when there are more than `IAMVIZ_WARM_API_ROWS` direct
    edges: they are then built and stored by the first request that needs them (at 50
    accounts of the generated organisation, 29 million direct edges)."""
    run = current_key()
    if run is None:
        return {}
    accounts = list(Account.objects.values_list("account_id", flat=True))
    counts = {
        f"api:direct:{account}": len(DirectEdgePages(account)) for account in (None, *accounts)
    }
    counts["api:escalations:None"] = len(
        rows_of_current_run("escalations:None", lambda: iter_escalations(account_id=None))
    )
    edges = direct_edge_count()
    if edges > settings.IAMVIZ_WARM_API_ROWS:
        logger.info("API transitive lists not warmed: %s direct edges", edges)
        return counts
    names = [f"api:transitive:{account}" for account in (None, *accounts)]

    def pairs() -> Iterator[tuple[str, bytes]]:
        for item in iter_transitive_edges():
            row = _json(item)
            yield "api:transitive:None", row
            yield f"api:transitive:{account_of(item.target)}", row

    counts.update(store_partitioned(run, names, pairs()))
    return counts


class TooLarge(APIException):
    status_code = 422
    default_code = "too_large"


def refuse_unstored_chains() -> None:
    """Refuse to build the list of every chain within a request when the estate is past
    `IAMVIZ_WARM_API_ROWS` direct edges: the reader expands every direct edge first (29
    million at 50 generated accounts), more than a request (or a web worker's memory) holds."""
    edges = direct_edge_count()
    if edges > settings.IAMVIZ_WARM_API_ROWS:
        raise TooLarge(
            f"transitive: this estate has {edges:,} direct edges (access groups counted per "
            f"member), past IAMVIZ_WARM_API_ROWS ({settings.IAMVIZ_WARM_API_ROWS:,}); its "
            "chains are listed one source at a time: add source=<ARN> (its chains, in pages), "
            "or ask for the direct edges."
        )


class AccessEdges(ApiView):
    """`access_edges --format json [--account ID] [--transitive] [--source ARN]`."""

    filters = ("account", "transitive", "source")

    def answer(self, request: Request, params: dict[str, str]) -> Response:
        account = _account(params["account"])
        transitive = _flag("transitive", params["transitive"])
        if source := params["source"]:
            if error := source_error(source):
                raise ParseError(f"source: {error}")
            # One source's rows: its chains a page at a time, its direct edges at once.
            if transitive:
                return page_of(request, TransitiveFrom(source, account), _as_row)
            return page_of(request, direct_edges_of([source], account), _as_row)
        if transitive:
            name = f"transitive:{account}"
            if not has_rows(f"api:{name}"):
                refuse_unstored_chains()
            found = rows_of_current_run(name, lambda: iter_transitive_edges(account))
        else:
            found = DirectEdgePages(account)
        return page_of(request, found, orjson.loads)


class Escalations(ApiView):
    """`escalations --format json [--account ID] [--principal ARN]`."""

    filters = ("account", "principal")

    def answer(self, request: Request, params: dict[str, str]) -> Response:
        account = _account(params["account"])
        principal = params["principal"] or None
        if principal is not None and not is_user_or_role(principal):
            raise ParseError(f"principal: no user or role {principal} in the estate")
        if principal is not None:  # one principal's: read at once, not kept
            found_now = iter_escalations(account_id=account, principal=principal)
            return page_of(request, list(found_now), _as_row)
        found = rows_of_current_run(
            f"escalations:{account}", lambda: iter_escalations(account_id=account)
        )
        return page_of(request, found, orjson.loads)


class AccessChanges(ApiView):
    """`access_changes --format json [--from RUN] [--to RUN]`: one object, not paged."""

    filters = ("from", "to")
    paginated = False

    def answer(self, request: Request, params: dict[str, str]) -> Response:
        from_run, to_run = _run_id("from", params["from"]), _run_id("to", params["to"])
        try:
            # A `from` later than `to` has no history leading to it: refused here too.
            changes = changes_between(from_run, to_run)
        except HistoryUnavailable as exc:
            raise ParseError(str(exc)) from None
        return Response(changes_document(changes))


class Findings(ApiView):
    """`findings --format json [--account ID] [--kind K] [--severity S] [--status S]`."""

    filters = ("account", "kind", "severity", "status")

    def answer(self, request: Request, params: dict[str, str]) -> Response:
        now = timezone.now()
        found = tracked_findings(
            account_id=_account(params["account"]) or "",
            kind=_choice("kind", params["kind"], Finding.Kind.values),
            severity=_choice("severity", params["severity"], Severity.values),
            status=_choice("status", params["status"], TriageStatus.values),
            now=now,
        )
        return page_of(request, found, lambda finding: finding_row(finding, now))


class WhoCan(ApiView):
    """`who_can ACTION RESOURCE --format json`."""

    filters = ("action", "resource")

    def answer(self, request: Request, params: dict[str, str]) -> Response:
        action, resource = params["action"], params["resource"]
        if not action or not resource:
            raise ParseError(
                "action and resource are both needed, e.g. action=iam:PassRole&resource=*"
            )
        error = question_error(action, resource)
        if error:
            raise ParseError(error)
        found = answer_who_can(action, resource, now=timezone.now())
        return page_of(request, found, _as_row)


def _as_row(item: Any) -> dict[str, Any]:
    return dict(item.as_row())
