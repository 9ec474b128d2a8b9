"""What-if pages: the editor (run a change, see the difference), saved proposals by permalink.

Viewers may run a proposal and read saved ones; saving, and running a saved one again (which
rewrites its stored result), need the reviewer role and are audited.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from identities.analysis.what_if import (
    WhatIfError,
    answer_summary,
    proposal_from,
    what_if,
)
from identities.audit import record_audit
from identities.bundle import BundleError
from identities.forms.what_if import (
    BaseWhatIfFormSet,
    WhatIfFormSet,
    WhatIfNameForm,
    group_members,
    what_if_initial,
    what_if_initial_of_data,
    what_if_initial_of_saved,
)
from identities.graph.proposal import proposal_graph_url
from identities.models import WhatIfJob, WhatIfProposal
from identities.queries import access
from identities.roles import REVIEWER, VIEWER, has_role
from identities.views.common import HtmxHttpRequest, render_page_or_fragment, require_role
from identities.what_if_jobs import in_background, latest_job, request_what_if, waiting

SAVED_SHOWN = 20
# A group's members listed under a membership change; the rest counted.
MEMBERS_SHOWN = 20


def _context(
    request: HtmxHttpRequest, formset: BaseWhatIfFormSet, name_form: WhatIfNameForm, **extra: Any
) -> dict[str, Any]:
    rows = []
    for form in formset.forms:
        group = form["argument"].value() if form["change"].value() == "remove-membership" else ""
        members = group_members(str(group)) if group else []
        rows.append((form, members[:MEMBERS_SHOWN], len(members)))
    return {
        "formset": formset,
        "rows": rows,
        "name_form": name_form,
        "analysis": access.current_run(),
        "can_save": has_role(request.user, REVIEWER),
        "saved": WhatIfProposal.objects.select_related("created_by")[:SAVED_SHOWN],
        **extra,
    }


def _render(
    request: HtmxHttpRequest,
    formset: BaseWhatIfFormSet,
    name_form: WhatIfNameForm,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    return render_page_or_fragment(
        request,
        "identities/what_if.html",
        "what-if-body",
        _context(request, formset, name_form, **extra),
        status=status,
    )


def _run(formset: BaseWhatIfFormSet) -> dict[str, Any] | None:
    """The answer's summary, or None with the reason added to the formset."""
    assert formset.proposal is not None
    try:
        return answer_summary(what_if(formset.proposal))
    except WhatIfError as exc:
        formset.forms[0].add_error(None, str(exc))
        return None


@require_role(VIEWER)
@require_GET
def what_if_page(request: HtmxHttpRequest) -> HttpResponse:
    """The editor, prefilled from ``?edit=OPTION&target=…``, ``?change=ARGV`` (one or more) or
    ``?proposal=ID``; with ``run=1`` the page runs the proposal once loaded, showing its progress
    (the choke points' "Run what-if")."""
    saved_id = request.GET.get("proposal", "")
    saved = WhatIfProposal.objects.filter(pk=saved_id).first() if saved_id.isdigit() else None
    initial = what_if_initial_of_saved(saved.changes) if saved else what_if_initial(request.GET)
    name_form = WhatIfNameForm(initial={"name": saved.name} if saved else None)
    autorun = request.GET.get("run") == "1" and bool(initial)
    return _render(request, WhatIfFormSet(initial=initial), name_form, autorun=autorun)


@require_role(VIEWER)
@require_POST
def what_if_run(request: HtmxHttpRequest) -> HttpResponse:
    """Run the proposal and show the difference (nothing is stored); or, with ``action`` "add"
    or "refresh", show the editor again with one more change, or with the fields each change's
    kind takes (nothing is run)."""
    action = request.POST.get("action", "")
    name_form = WhatIfNameForm(request.POST)
    if action in ("add", "refresh"):
        initial = what_if_initial_of_data(request.POST, add=action == "add")
        return _render(request, WhatIfFormSet(initial=initial), name_form)
    formset = WhatIfFormSet(_formset_data(request.POST))
    if formset.is_valid() and in_background():
        job = request_what_if(formset.changes(), request.user, now=timezone.now())
        return _render(request, formset, name_form, job=job)
    summary = _run(formset) if formset.is_valid() else None
    return _render(
        request, formset, name_form, summary=summary, status=_status(request, summary is not None)
    )


@require_role(VIEWER)
@require_GET
def what_if_job(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A proposal a worker answers: its progress (htmx polls the fragment), then the same
    difference as the editor shows, or why it was refused. The page is its permalink."""
    job = get_object_or_404(WhatIfJob.objects.select_related("requested_by"), pk=pk)
    context = {"job": job, "waiting": waiting(job, now=timezone.now())}
    return render_page_or_fragment(request, "identities/what_if_job.html", "what-if-job", context)


@require_role(REVIEWER)
@require_POST
def what_if_save(request: HtmxHttpRequest) -> HttpResponse:
    """Run the proposal and save it, named, with its result; go to its permalink."""
    formset = WhatIfFormSet(_formset_data(request.POST))
    name_form = WhatIfNameForm(request.POST)
    if name_form.is_valid() and not name_form.cleaned_data["name"]:
        name_form.add_error("name", "Name the proposal to save it.")
    valid = formset.is_valid() and name_form.is_valid()
    # In the background it is saved at once, and a worker stores its result (its page polls).
    summary = _run(formset) if valid and not in_background() else None
    if not valid or (summary is None and not in_background()):
        return _render(request, formset, name_form, status=_status(request, ok=False))
    now = timezone.now()
    computed = (
        {"result": summary, "computed_run_id": summary["run"], "computed_at": now}
        if summary is not None
        else {}
    )
    proposal = WhatIfProposal.objects.create(
        name=name_form.cleaned_data["name"],
        changes=formset.changes(),
        created_by=request.user,  # type: ignore[misc]  # require_role: logged in
        created_at=now,
        **computed,
    )
    if summary is None:
        request_what_if(proposal.changes, request.user, now=now, proposal=proposal)
    record_audit(request, "what_if_save", str(proposal), proposal=proposal.pk)
    url = reverse("identities:what-if-detail", args=[proposal.pk])
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return redirect(url)


@require_role(VIEWER)
@require_GET
def what_if_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    proposal = get_object_or_404(WhatIfProposal.objects.select_related("created_by"), pk=pk)
    return render_page_or_fragment(
        request, "identities/what_if_detail.html", "what-if-saved", _detail(request, proposal)
    )


@require_role(REVIEWER)
@require_POST
def what_if_rerun(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Run a saved proposal against the current analysis and keep the new result."""
    proposal = get_object_or_404(WhatIfProposal, pk=pk)
    if in_background():
        request_what_if(proposal.changes, request.user, now=timezone.now(), proposal=proposal)
        record_audit(request, "what_if_rerun", str(proposal), proposal=proposal.pk)
        return render_page_or_fragment(
            request, "identities/what_if_detail.html", "what-if-saved", _detail(request, proposal)
        )
    error = ""
    try:
        summary = answer_summary(what_if(proposal_from(proposal.changes)))
    except (WhatIfError, BundleError) as exc:
        error = str(exc)
    else:
        proposal.result = summary
        proposal.computed_run_id = summary["run"]
        proposal.computed_at = timezone.now()
        proposal.save(update_fields=["result", "computed_run", "computed_at"])
        record_audit(request, "what_if_rerun", str(proposal), proposal=proposal.pk)
    return render_page_or_fragment(
        request,
        "identities/what_if_detail.html",
        "what-if-saved",
        _detail(request, proposal, error=error),
        status=_status(request, not error),
    )


def _formset_data(data: QueryDict) -> QueryDict:
    """The posted changes; one change posted as plain fields (``change``, ``target``,
    ``argument``, ``document``, as a script may) is the proposal's only one."""
    prefix = WhatIfFormSet().prefix
    if f"{prefix}-TOTAL_FORMS" in data or "change" not in data:
        return data
    single = QueryDict(mutable=True)
    single.update({f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-INITIAL_FORMS": "0"})
    for name in ("change", "target", "argument", "document"):
        single[f"{prefix}-0-{name}"] = data.get(name, "")
    return single


def _status(request: HtmxHttpRequest, ok: bool) -> int:
    """400 for a refused proposal, but 200 to htmx, which swaps no error response in."""
    return 200 if ok or request.htmx else 400


def _detail(request: HtmxHttpRequest, proposal: WhatIfProposal, **extra: Any) -> dict[str, Any]:
    current = access.current_run()
    job = latest_job(proposal)
    return {
        "job": job,
        "waiting": waiting(job, now=timezone.now()) if job is not None else "",
        "proposal": proposal,
        "summary": proposal.result or None,
        "analysis": current,
        "stale": current is not None and proposal.computed_run_id != current.pk,
        "can_save": has_role(request.user, REVIEWER),
        "graph_url": proposal_graph_url(proposal),
        **extra,
    }
