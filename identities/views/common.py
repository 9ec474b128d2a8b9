"""What every view shares: the typed htmx request, the `*_or_404` lookups, pagination, the CSV
response, and the one rule that decides between a full page and an htmx fragment."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails

from identities.models import Account, IamGroup, IamRole, IamUser, ManagedPolicy, SyncRun
from identities.queries.estate import PAGE_SIZE
from identities.queries.exports import SafeCsvWriter
from identities.queries.sync import sync_runs
from identities.roles import has_role

logger = logging.getLogger(__name__)

# The request headers the page-or-fragment choice reads: a cache must key on both.
FRAGMENT_VARY = ("HX-Request", "HX-History-Restore-Request")


_Principal = TypeVar("_Principal", IamUser, IamGroup, IamRole)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# --- roles ----------------------------------------------------------------------------------


def require_role(role: str, *, post: str | None = None) -> Callable[[_View], _View]:
    """Let in users holding `role` (or a higher one); for any other method than GET/HEAD, those
    holding `post` when given. Anonymous users go to the login page; the rest get a 403.

    Put it outermost, so that an anonymous request is sent to log in whatever its method.
    """

    def decorate(view: _View) -> _View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            needed = role if post is None or request.method in SAFE_METHODS else post
            if not has_role(request.user, needed):
                raise PermissionDenied(f"This needs the {needed} role.")
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]  # same signature as `view`

    return decorate


# --- page or fragment -----------------------------------------------------------------------


def wants_fragment(request: HttpRequest) -> bool:
    """True for an htmx request that swaps a region; False for a full page load.

    A history-restore request (htmx missed its cache on Back) needs the whole page.
    """
    htmx: HtmxDetails | None = getattr(request, "htmx", None)
    if not htmx:
        return False
    return not htmx.history_restore_request


def render_page_or_fragment(
    request: HttpRequest,
    template: str,
    fragment: str | None,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> HttpResponse:
    """Render `template`, or only its partial `fragment` when htmx asks for a region.

    `fragment=None` always renders the page. The response varies on the htmx headers either
    way, so that no cache serves a fragment for a page load or the reverse.
    """
    name = f"{template}#{fragment}" if fragment and wants_fragment(request) else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, FRAGMENT_VARY)
    return response


# --- lookups --------------------------------------------------------------------------------


def account_or_404(account_id: str) -> Account:
    try:
        return (
            Account.objects.select_related("last_sync_run")
            .defer("last_sync_run__bundle_gzip")
            .get(account_id=account_id)
        )
    except Account.DoesNotExist:
        raise Http404(f"No account {account_id} in the estate.") from None


def _named_or_404(model: type[_Principal], noun: str, account_id: str, name: str) -> _Principal:
    try:
        return model._default_manager.select_related("account").get(
            account__account_id=account_id, name=name
        )
    except model.DoesNotExist:
        raise Http404(f"No IAM {noun} named “{name}” in account {account_id}.") from None


def user_or_404(account_id: str, name: str) -> IamUser:
    return _named_or_404(IamUser, "user", account_id, name)


def group_or_404(account_id: str, name: str) -> IamGroup:
    return _named_or_404(IamGroup, "group", account_id, name)


def role_or_404(account_id: str, name: str) -> IamRole:
    return _named_or_404(IamRole, "role", account_id, name)


def policy_or_404(account_id: str, arn: str) -> ManagedPolicy:
    try:
        return ManagedPolicy.objects.select_related("account").get(
            account__account_id=account_id, arn=arn
        )
    except ManagedPolicy.DoesNotExist:
        raise Http404(f"No managed policy {arn} in account {account_id}.") from None


def run_or_404(pk: int) -> SyncRun:
    try:
        return sync_runs().get(pk=pk)
    except SyncRun.DoesNotExist:
        raise Http404(f"No sync run #{pk}.") from None


# --- pages of rows --------------------------------------------------------------------------


def paginate(
    request: HttpRequest, rows: QuerySet[Any] | Sequence[Any], per_page: int = PAGE_SIZE
) -> Page[Any]:
    """The page of `rows` that `?page=` asks for (the last one when past the end)."""
    return Paginator(rows, per_page).get_page(request.GET.get("page"))


_Response = TypeVar("_Response", bound=HttpResponseBase)


class _Echo:
    def write(self, value: str) -> str:
        return value


# Rows of a streamed CSV sent together (one write to the client each).
CSV_CHUNK_ROWS = 500


def csv_chunks(rows: Iterable[list[str]], chunk_rows: int = CSV_CHUNK_ROWS) -> Iterator[str]:
    """``rows`` as formula-safe CSV text: the header alone, then ``chunk_rows`` rows a piece.
    The header goes first so that a download starts before a slow list's first row."""
    writer = SafeCsvWriter(_Echo())
    chunk: list[str] = []
    for number, row in enumerate(rows):
        chunk.append(writer.writerow(row))
        if number == 0 or len(chunk) == chunk_rows:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def csv_response(filename: str, rows: Iterable[list[str]]) -> StreamingHttpResponse:
    """A CSV download streamed in chunks of rows (`csv_chunks`; the first row is the header),
    formula-safe. A generator ``rows`` is read only as the response is sent, so one that reads
    its data lazily starts the download at once."""
    response = StreamingHttpResponse(csv_chunks(rows), content_type="text/csv; charset=utf-8")
    return attachment(response, filename)


def attachment(response: _Response, filename: str) -> _Response:
    """Mark a response as a download named `filename`."""
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
