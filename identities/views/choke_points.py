"""The Choke points page: the few changes that cut the most paths to an administrator or a
sensitive role, each with the principals it cuts and the what-if that checks it."""

from __future__ import annotations

import shlex

from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from identities.queries import access
from identities.queries.choke_points import ADMIN, PAGE_LIMIT, TARGET_CHOICES, page_report
from identities.roles import VIEWER
from identities.views.common import HtmxHttpRequest, render_page_or_fragment, require_role

# The principals listed under each change (the top one may cut thousands at 50 accounts).
PRINCIPALS_SHOWN = 20


def _what_if_link(argv: list[str]) -> str:
    """The what-if page prefilled with the command's arguments."""
    return f"{reverse('identities:what-if')}?{urlencode({'change': shlex.join(argv), 'run': '1'})}"


@require_role(VIEWER)
@require_GET
def choke_points_page(request: HtmxHttpRequest) -> HttpResponse:
    target = request.GET.get("target") or ADMIN
    if target not in TARGET_CHOICES:
        target = ADMIN
    # Seconds of work on a large estate: stored when the analysis finishes, read here.
    analysis = access.current_run()
    report = page_report(target) if analysis else None
    rows = [
        (
            point,
            "python manage.py what_if --format json " + shlex.join(point.item.what_if),
            _what_if_link(point.item.what_if),
        )
        for point in (report.points if report else [])
    ]
    context = {
        "analysis": analysis,
        "report": report,
        "rows": rows,
        "target": target,
        "target_choices": TARGET_CHOICES,
        "limit": PAGE_LIMIT,
        "shown": PRINCIPALS_SHOWN,
        "shown_slice": f":{PRINCIPALS_SHOWN}",
        "minus_shown": -PRINCIPALS_SHOWN,
    }
    return render_page_or_fragment(request, "identities/choke_points.html", "choke-points", context)
