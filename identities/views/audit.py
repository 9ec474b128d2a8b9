"""The audit log (admins): who did what, when and from where; filtered by action and user, and
exported as CSV."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from identities.audit import record_audit
from identities.models import AuditEvent
from identities.roles import ADMIN
from identities.views.common import (
    HtmxHttpRequest,
    csv_response,
    paginate,
    render_page_or_fragment,
    require_role,
)

CSV_HEADER = ["at", "user", "action", "target", "ip", "details"]


@require_role(ADMIN)
@require_GET
def audit_log(request: HtmxHttpRequest) -> HttpResponse | StreamingHttpResponse:
    action = request.GET.get("action", "")
    username = request.GET.get("user", "")
    events = AuditEvent.objects.all()
    if action:
        events = events.filter(action=action)
    if username:
        events = events.filter(username=username)
    if request.GET.get("format") == "csv":
        record_audit(request, "audit_export", "", action=action, user_filter=username)
        return csv_response("iamviz-audit.csv", _csv_rows(events))
    context = {
        "page": paginate(request, events),
        "noun": "events",
        "noun_one": "event",
        "action": action,
        "username": username,
        "actions": AuditEvent.objects.order_by("action")
        .values_list("action", flat=True)
        .distinct(),
    }
    return render_page_or_fragment(request, "identities/audit_log.html", "results", context)


def _csv_rows(events: QuerySet[AuditEvent]) -> Iterator[list[str]]:
    yield CSV_HEADER
    for event in events.iterator():
        yield [
            event.at.isoformat(),
            event.username,
            event.action,
            event.target,
            event.ip or "",
            ", ".join(f"{key}={value}" for key, value in sorted(event.details.items())),
        ]
