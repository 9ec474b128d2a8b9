"""The daily review: the Changes page (and the diff of any two runs), an edge's change with its
causes and review, finding triage with the audit trail, suppression rules, and the operators' page
of notification settings."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from identities import triage
from identities.audit import record_audit
from identities.forms.review import (
    ChangesFilterForm,
    EdgeReviewForm,
    FindingDecisionForm,
    FindingReopenForm,
    NotificationDestinationForm,
    NotificationSettingsForm,
    SuppressionRuleForm,
)
from identities.models import (
    Finding,
    NotificationDelivery,
    NotificationDestination,
    SuppressionRule,
    TrackedFinding,
    TriageStatus,
)
from identities.models.review import Severity
from identities.notify import notification_settings
from identities.queries.changes import (
    HistoryUnavailable,
    analysis_runs,
    causes_of,
    changes_between,
    effective_status,
    finding_events,
    tracked_findings,
)
from identities.roles import OPERATOR, REVIEWER, VIEWER
from identities.views.common import HtmxHttpRequest, paginate, render_page_or_fragment, require_role

logger = logging.getLogger(__name__)

# Rows per section of the Changes page unless `?all=1`: a night that changed thousands of edges
# is narrowed with the filters, not read in one table.
ROW_LIMIT = 100


def _finding_or_404(key: str) -> TrackedFinding:
    try:
        return TrackedFinding.objects.select_related("decided_by", "rule").get(key=key)
    except TrackedFinding.DoesNotExist:
        raise Http404(f"No finding {key}.") from None


def _safe_next(request: HtmxHttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@require_role(VIEWER)
@require_GET
def changes(request: HtmxHttpRequest) -> HttpResponse:
    """What changed between two analyses (default: the last two), new first, then expected,
    then removed and changed; filtered by account, kind and severity."""
    form = ChangesFilterForm(request.GET)
    filters = form.filters()
    context: dict[str, Any] = {"form": form, "runs": list(analysis_runs()[:50])}
    try:
        context["changes"] = changes_between(**filters, now=timezone.now())
    except HistoryUnavailable as exc:
        context["changes"], context["unavailable"] = None, str(exc)
    params = request.GET.copy()
    params.pop("all", None)
    show_all = bool(request.GET.get("all"))
    context.update(
        query=params.urlencode(),
        show_all=show_all,
        row_limit=ROW_LIMIT,
        minus_limit=-ROW_LIMIT,
        limit=":" if show_all else f":{ROW_LIMIT}",
    )
    return render_page_or_fragment(request, "identities/changes.html", "changes", context)


@require_role(VIEWER)
@require_GET
def change_edge(request: HtmxHttpRequest) -> HttpResponse:
    """One changed edge: before and after, the entity changes that explain it, its review."""
    source, target = request.GET.get("source", ""), request.GET.get("target", "")
    form = ChangesFilterForm(request.GET)
    filters = form.filters()
    try:
        found = changes_between(**filters, now=timezone.now())
    except HistoryUnavailable as exc:
        raise Http404(str(exc)) from None
    items = [item for item in found.items if item.source == source and item.target == target]
    if not items:
        raise Http404(f"No change of the edge {source} -> {target} in these runs.")
    params = request.GET.copy()
    for name in ("source", "target"):
        params.pop(name, None)
    back = reverse("identities:changes") + (f"?{params.urlencode()}" if params else "")
    item = items[0]
    context = {
        "items": items,
        "item": item,
        "source": source,
        "target": target,
        "causes": causes_of(source, target, found.sync_runs),
        "changes": found,
        "back": back,
        "form": EdgeReviewForm(
            initial={
                "source": source,
                "target": target,
                "conditions": "|".join(item.conditions),
                "next": back,
            }
        ),
    }
    return render_page_or_fragment(request, "identities/change_edge.html", None, context)


@require_role(REVIEWER)
@require_POST
def edge_review(request: HtmxHttpRequest) -> HttpResponse:
    """Mark an edge expected (with a reason), or take that back (``unmark``)."""
    back = _safe_next(request, reverse("identities:changes"))
    if request.POST.get("unmark"):
        triage.unmark_edge(request.POST.get("source", ""), request.POST.get("target", ""))
        record_audit(
            request,
            "edge_unmark",
            f"{request.POST.get('source', '')} -> {request.POST.get('target', '')}",
        )
        return redirect(back)
    form = EdgeReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why this edge is expected.")
        return redirect(back)
    data = form.cleaned_data
    triage.mark_edge_expected(
        data["source"],
        data["target"],
        reason=data["reason"],
        conditions=[key for key in data["conditions"].split("|") if key],
        user=request.user,
        now=timezone.now(),
    )
    record_audit(
        request, "edge_expected", f"{data['source']} -> {data['target']}", reason=data["reason"]
    )
    messages.success(request, f"Marked expected: {data['source']} -> {data['target']}")
    return redirect(back)


@require_role(VIEWER)
@require_GET
def finding_triage(request: HtmxHttpRequest) -> HttpResponse:
    now = timezone.now()
    status = request.GET.get("status", TriageStatus.OPEN)
    severity = request.GET.get("severity", "")
    kind = request.GET.get("kind", "")
    rows = tracked_findings(status=status, severity=severity, kind=kind, now=now)
    context = {
        "page": paginate(request, rows),
        "status": status,
        "severity": severity,
        "kind": kind,
        "statuses": TriageStatus.choices,
        "severities": Severity.choices,
        "kinds": Finding.Kind.choices,
        "now": now,
    }
    return render_page_or_fragment(request, "identities/finding_triage.html", "triage", context)


@require_role(VIEWER)
@require_GET
def finding_detail(request: HtmxHttpRequest, key: str) -> HttpResponse:
    finding = _finding_or_404(key)
    context = _finding_context(finding)
    return render_page_or_fragment(request, "identities/finding_detail.html", None, context)


def _finding_context(
    finding: TrackedFinding,
    decision: FindingDecisionForm | None = None,
    reopen: FindingReopenForm | None = None,
) -> dict[str, Any]:
    return {
        "finding": finding,
        "status": effective_status(finding, timezone.now()),
        "events": list(finding_events(finding)),
        "decision_form": decision or FindingDecisionForm(),
        "reopen_form": reopen or FindingReopenForm(),
    }


@require_role(REVIEWER)
@require_POST
def finding_decide(request: HtmxHttpRequest, key: str) -> HttpResponse:
    finding = _finding_or_404(key)
    form = FindingDecisionForm(request.POST)
    if not form.is_valid() or finding.status == TriageStatus.RESOLVED:
        context = _finding_context(finding, decision=form)
        return render_page_or_fragment(
            request, "identities/finding_detail.html", None, context, status=400
        )
    triage.decide_finding(
        finding,
        form.cleaned_data["decision"],
        reason=form.cleaned_data["reason"],
        until=form.cleaned_data["until"],
        user=request.user,
        now=timezone.now(),
    )
    record_audit(
        request,
        "finding_decide",
        key,
        decision=form.cleaned_data["decision"],
        reason=form.cleaned_data["reason"],
    )
    return redirect(finding)


@require_role(REVIEWER)
@require_POST
def finding_reopen(request: HtmxHttpRequest, key: str) -> HttpResponse:
    finding = _finding_or_404(key)
    form = FindingReopenForm(request.POST)
    if not form.is_valid() or finding.status not in (
        TriageStatus.ACCEPTED,
        TriageStatus.SUPPRESSED,
    ):
        context = _finding_context(finding, reopen=form)
        return render_page_or_fragment(
            request, "identities/finding_detail.html", None, context, status=400
        )
    triage.reopen_finding(
        finding, note=form.cleaned_data["note"], user=request.user, now=timezone.now()
    )
    record_audit(request, "finding_reopen", key, note=form.cleaned_data["note"])
    return redirect(finding)


@require_role(VIEWER, post=REVIEWER)
@require_http_methods(["GET", "POST"])
def suppression_rules(request: HtmxHttpRequest) -> HttpResponse:
    form = SuppressionRuleForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("deactivate"):
            SuppressionRule.objects.filter(pk=request.POST["deactivate"]).update(active=False)
            record_audit(request, "rule_deactivate", request.POST["deactivate"])
            return redirect("identities:suppression-rules")
        if form.is_valid():
            rule = form.save(commit=False)
            decided = triage.create_rule(rule, user=request.user, now=timezone.now())
            record_audit(request, "rule_create", str(rule.pk), decided=decided)
            messages.success(request, f"Rule saved; it decided {decided} open finding(s) now.")
            return redirect("identities:suppression-rules")
    context = {"form": form, "rules": SuppressionRule.objects.select_related("created_by")}
    status = 400 if form.errors else 200
    return render_page_or_fragment(
        request, "identities/suppression_rules.html", None, context, status=status
    )


@require_role(OPERATOR)
@require_http_methods(["GET", "POST"])
def notification_settings_page(request: HtmxHttpRequest) -> HttpResponse:
    """Operators choose the threshold and the destinations, and see how deliveries went."""
    config = notification_settings()
    settings_form = NotificationSettingsForm(instance=config)
    destination_form = NotificationDestinationForm()
    if request.method == "POST":
        if request.POST.get("delete"):
            NotificationDestination.objects.filter(pk=request.POST["delete"]).delete()
            record_audit(request, "notification_destination_delete", request.POST["delete"])
            return redirect("identities:notification-settings")
        if request.POST.get("form") == "settings":
            settings_form = NotificationSettingsForm(request.POST, instance=config)
            if settings_form.is_valid():
                settings_form.save()
                record_audit(request, "notification_settings", changed=settings_form.changed_data)
                return redirect("identities:notification-settings")
        else:
            destination_form = NotificationDestinationForm(request.POST)
            if destination_form.is_valid():
                destination = destination_form.save()
                record_audit(request, "notification_destination_add", str(destination.pk))
                return redirect("identities:notification-settings")
    context = {
        "settings_form": settings_form,
        "destination_form": destination_form,
        "destinations": NotificationDestination.objects.all(),
        "deliveries": NotificationDelivery.objects.select_related("destination")[:50],
    }
    invalid = settings_form.errors or destination_form.errors
    return render_page_or_fragment(
        request,
        "identities/notification_settings.html",
        None,
        context,
        status=400 if invalid else 200,
    )
