"""The sync pages: live AWS sync progress, history, settings, schedule and the "Sync now"
buttons; and the runs (imports and syncs) with their change sets and archived bundles.

Viewers see progress and history; operators change settings, start a sync and download bundles
(`identities.roles`), and each of those lands in the audit log. The
progress region polls itself (htmx, every second) while any sync is pending or running and
stops once everything is done: the fragment it swaps in has no trigger then.
"""

from __future__ import annotations

import functools
import io
import logging

from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from identities import tasks
from identities.audit import record_audit
from identities.forms.browse import ChangeFilterForm
from identities.forms.sync import AccountSyncConfigForm, ScheduleForm, SyncSettingsForm
from identities.ingest.archive import BundleUnavailable, archived_bundle
from identities.models import AccountSyncConfig
from identities.queries import sync as sync_queries
from identities.roles import OPERATOR, VIEWER
from identities.sync.config import load_settings
from identities.sync.runs import request_account_sync, request_organization_sync
from identities.sync.schedule import get_nightly_schedule, update_nightly_schedule
from identities.views import common
from identities.views.common import HtmxHttpRequest, paginate, render_page_or_fragment, require_role

logger = logging.getLogger(__name__)

HISTORY_PAGE_SIZE = 25


def _render_progress(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "progress": sync_queries.sync_progress(),
        "schedule": get_nightly_schedule(),
        "sync_settings": load_settings(),
    }
    return render_page_or_fragment(request, "identities/sync.html", "progress", context)


@require_role(VIEWER)
@require_GET
def sync_page(request: HtmxHttpRequest) -> HttpResponse:
    """Each account's state, counts and elapsed time, live while anything runs."""
    return _render_progress(request)


@require_role(OPERATOR)
@require_POST
def sync_now(request: HtmxHttpRequest) -> HttpResponse:
    """Start an organisation sync (unless one is going on: then that one is shown)."""
    run, created = request_organization_sync(
        label=f"organisation (Sync now by {request.user.get_username()})"
    )
    if created:
        transaction.on_commit(functools.partial(tasks.queue_organization_sync, run_id=run.pk))
        logger.info("Organisation sync run %s requested by %s", run.pk, request.user)
    record_audit(request, "sync_now", "organisation", run=run.pk, started=created)
    if not created:
        messages.warning(request, sync_queries.busy_reason(run))
    return _after_sync_request(request)


@require_role(OPERATOR)
@require_POST
def sync_account_now(request: HtmxHttpRequest, account_id: str) -> HttpResponse:
    """Sync one configured account now (unless it is being synced: then that run is shown)."""
    config = get_object_or_404(AccountSyncConfig, account_id=account_id)
    run, created = request_account_sync(
        config.account_id,
        label=f"account {config.account_id} (Sync now by {request.user.get_username()})",
    )
    if created:
        transaction.on_commit(functools.partial(tasks.queue_account_sync, run_id=run.pk))
        logger.info("Account sync run %s requested by %s", run.pk, request.user)
    record_audit(request, "sync_now", config.account_id, run=run.pk, started=created)
    if not created:
        messages.warning(request, sync_queries.busy_reason(run))
    return _after_sync_request(request)


def _after_sync_request(request: HtmxHttpRequest) -> HttpResponse:
    if request.htmx:
        return _render_progress(request)
    return redirect("identities:sync")


@require_role(VIEWER)
@require_GET
def sync_runs(request: HtmxHttpRequest) -> HttpResponse:
    """The history of AWS syncs: duration, AWS calls, change counts, errors."""
    page = paginate(request, sync_queries.sync_history(), HISTORY_PAGE_SIZE)
    context = {"page": page, "noun": "syncs", "noun_one": "sync"}
    return render_page_or_fragment(request, "identities/sync_runs.html", "results", context)


@require_role(OPERATOR)
@require_http_methods(["GET", "POST"])
def sync_settings(request: HttpRequest) -> HttpResponse:
    """How iamviz reaches AWS (operators): the role, ExternalId, discovery; and the accounts."""
    instance = load_settings()
    form = SyncSettingsForm(request.POST or None, instance=instance)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            record_audit(request, "sync_settings", "settings", changed=form.changed_data)
            messages.success(request, "Sync settings saved.")
            return redirect("identities:sync-settings")
        return _render_settings(request, settings_form=form, status=400)
    return _render_settings(request, settings_form=form)


@require_role(OPERATOR)
@require_POST
def sync_schedule(request: HttpRequest) -> HttpResponse:
    """Change the nightly sync's cron expression and time zone, or pause it (operators)."""
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        return _render_settings(request, schedule_form=form, status=400)
    schedule = update_nightly_schedule(
        cron=form.cleaned_data["cron"],
        timezone_name=form.cleaned_data["timezone"],
        enabled=not form.cleaned_data["paused"],
    )
    record_audit(
        request,
        "sync_schedule",
        "nightly",
        cron=schedule.cron,
        timezone=schedule.timezone,
        enabled=schedule.enabled,
    )
    state = "paused" if not schedule.enabled else f"runs at {schedule.cron} ({schedule.timezone})"
    messages.success(request, f"Nightly sync {state}.")
    return redirect(reverse("identities:sync-settings") + "#schedule")


@require_role(OPERATOR)
@require_POST
def sync_account_add(request: HttpRequest) -> HttpResponse:
    """List an account by hand (operators)."""
    return _save_account(request, AccountSyncConfigForm(request.POST), added=True)


@require_role(OPERATOR)
@require_POST
def sync_account_update(request: HttpRequest, account_id: str) -> HttpResponse:
    """Change an account's role, ExternalId or whether it is synced; or remove it (operators)."""
    config = get_object_or_404(AccountSyncConfig, account_id=account_id)
    if "delete" in request.POST:
        config.delete()
        record_audit(request, "account_remove", account_id)
        messages.success(request, f"Account {account_id} removed from the sync (its data stays).")
        return redirect(reverse("identities:sync-settings") + "#accounts")
    return _save_account(request, AccountSyncConfigForm(request.POST, instance=config), added=False)


def _save_account(
    request: HttpRequest, form: AccountSyncConfigForm, *, added: bool
) -> HttpResponse:
    """Save a new (`added`) or changed account and go back to the list, audited; or show the
    form's errors (400)."""
    if not form.is_valid():
        if added:
            return _render_settings(request, account_form=form, status=400)
        return _render_settings(request, edit_form=form, status=400)
    config = form.save()
    if added:
        record_audit(request, "account_add", config.account_id)
    else:
        record_audit(request, "account_update", config.account_id, changed=form.changed_data)
    messages.success(request, f"Account {config.account_id} {'added' if added else 'saved'}.")
    return redirect(reverse("identities:sync-settings") + "#accounts")


def _render_settings(
    request: HttpRequest,
    *,
    settings_form: SyncSettingsForm | None = None,
    schedule_form: ScheduleForm | None = None,
    account_form: AccountSyncConfigForm | None = None,
    edit_form: AccountSyncConfigForm | None = None,
    status: int = 200,
) -> HttpResponse:
    schedule = get_nightly_schedule()
    context = {
        "settings_form": settings_form or SyncSettingsForm(instance=load_settings()),
        "schedule": schedule,
        "schedule_form": schedule_form
        or ScheduleForm(
            initial={
                "cron": schedule.cron,
                "timezone": schedule.timezone,
                "paused": not schedule.enabled,
            }
        ),
        "account_form": account_form or AccountSyncConfigForm(),
        "edit_form": edit_form,
        "configs": AccountSyncConfig.objects.order_by("account_id"),
    }
    return render_page_or_fragment(
        request, "identities/sync_settings.html", None, context, status=status
    )


# --- runs and change sets -------------------------------------------------------------------


@require_role(VIEWER)
@require_GET
def syncrun_list(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "page": paginate(request, sync_queries.sync_runs()),
        "noun": "sync runs",
        "noun_one": "sync run",
    }
    return render_page_or_fragment(request, "identities/syncrun_list.html", "results", context)


@require_role(VIEWER)
@require_GET
def syncrun_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = common.run_or_404(pk)
    change_counts = sync_queries.run_change_counts(run)
    form = ChangeFilterForm(request.GET, kinds=sorted(change_counts))
    filters = form.filters()
    kind, action = filters.get("kind", ""), filters.get("action", "")
    changes = sync_queries.changes_for(run, kind=kind, action=action)
    page = paginate(request, changes)
    counted = change_counts.get(kind, {})
    counted_total = counted.get(action, 0) if action else sum(counted.values())
    context = {
        "run": run,
        "form": form,
        "page": page,
        "noun": "changes",
        "noun_one": "change",
        "change_counts": change_counts,
        # First imports of an account count each entity but list one summary row per account.
        "summarised": max(0, counted_total - page.paginator.count) if kind else 0,
        "account_runs": sync_queries.account_runs_of(run),
    }
    return render_page_or_fragment(request, "identities/syncrun_detail.html", "results", context)


@require_role(OPERATOR)
@require_GET
def syncrun_bundle(request: HtmxHttpRequest, pk: int) -> FileResponse:
    """The archived bundle, streamed (operators: it holds the credential report)."""
    try:
        blob = archived_bundle(pk)
    except BundleUnavailable as exc:
        raise Http404(str(exc)) from None
    record_audit(request, "bundle_download", f"run {pk}", size=len(blob))
    return FileResponse(
        io.BytesIO(blob),
        as_attachment=True,
        filename=f"iamviz-run-{pk}.json.gz",
        content_type="application/gzip",
    )
