"""Exports built in the background (`identities.exporting`): ask for one (the escalations
page's button), follow its progress, download its file; each login sees its own, an admin
every one."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from identities.audit import record_audit
from identities.exporting import export_path, request_export, stalled
from identities.models import Export
from identities.roles import ADMIN, VIEWER, has_role
from identities.views.common import HtmxHttpRequest, render_page_or_fragment, require_role
from identities.views.escalations import escalation_filters


def _visible(request: HtmxHttpRequest) -> Any:
    exports = Export.objects.select_related("requested_by", "analysis_run")
    if has_role(request.user, ADMIN):
        return exports
    return exports.filter(requested_by_id=request.user.pk)


def _export_or_404(request: HtmxHttpRequest, pk: int) -> Export:
    export = _visible(request).filter(pk=pk).first()
    if export is None:
        raise Http404(f"No export #{pk} of yours.")
    return export


@require_role(VIEWER)
@require_POST
def export_escalations(request: HtmxHttpRequest) -> HttpResponseBase:
    """Build the escalations page's CSV (its filters: account, method, status, q) in the
    background; then its progress page."""
    filters = escalation_filters(request.POST)
    export = request_export(Export.Kind.ESCALATIONS, filters, request.user, now=timezone.now())
    record_audit(request, "export_requested", f"export {export.pk}", kind=export.kind,
                 filters=export.filters, rows=export.rows_total)  # fmt: skip
    return redirect("identities:export-detail", pk=export.pk)


@require_role(VIEWER)
@require_GET
def export_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One export: its progress while it is built (htmx polls the fragment), then its file."""
    export = _export_or_404(request, pk)
    context = {"export": export, "stalled": stalled(export, now=timezone.now())}
    return render_page_or_fragment(
        request, "identities/export_detail.html", "export-status", context
    )


@require_role(VIEWER)
@require_GET
def export_list(request: HtmxHttpRequest) -> HttpResponse:
    context = {"exports": _visible(request)[:100], "keep_days": settings.IAMVIZ_EXPORT_KEEP_DAYS}
    return render_page_or_fragment(request, "identities/export_list.html", None, context)


@require_role(VIEWER)
@require_GET
def export_download(request: HtmxHttpRequest, pk: int) -> HttpResponseBase:
    export = _export_or_404(request, pk)
    path = export_path(export)
    if export.status != Export.Status.DONE or not path.exists():
        raise Http404(f"Export #{pk} has no file ({export.get_status_display().lower()}).")
    record_audit(request, "export_download", f"export {export.pk}", size=export.size_bytes)
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=export.file_name,
        content_type="application/gzip",
    )  # fmt: skip
