"""Sensitive targets: the rules staff write (operators and admins), the roles they mark and who
can reach one. A change of the rules is audited and queues an analysis, which applies it."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from identities.audit import record_audit
from identities.forms.review import SensitiveTargetForm
from identities.models import SensitiveTarget
from identities.queries import access
from identities.queries.sensitive import sensitive_paths, sensitive_roles, sensitive_rules
from identities.roles import OPERATOR, VIEWER
from identities.tasks import queue_analysis
from identities.views.common import HtmxHttpRequest, paginate, render_page_or_fragment, require_role

ROLES_SHOWN = 200


@require_role(VIEWER, post=OPERATOR)
@require_http_methods(["GET", "POST"])
def sensitive_targets(request: HtmxHttpRequest) -> HttpResponse:
    """List, add and remove the rules; the roles they mark and who can reach one."""
    form = SensitiveTargetForm()
    if request.method == "POST":
        if request.POST.get("delete"):
            rule = SensitiveTarget.objects.filter(pk=request.POST["delete"]).first()
            if rule is not None:
                with transaction.atomic():
                    rule.delete()
                    record_audit(request, "sensitive_target_delete", str(rule), reason=rule.reason)
                    queue_analysis()
            return redirect("identities:sensitive-targets")
        form = SensitiveTargetForm(request.POST)
        if form.is_valid():
            rule = form.save(commit=False)
            rule.created_by = request.user  # type: ignore[assignment]
            rule.created_at = timezone.now()
            try:
                with transaction.atomic():
                    rule.save()
                    record_audit(request, "sensitive_target_add", str(rule), reason=rule.reason)
                    queue_analysis()
            except IntegrityError:
                form.add_error("value", "This rule exists already.")
            else:
                return redirect("identities:sensitive-targets")
    account = request.GET.get("account") or None
    page = paginate(request, sensitive_paths(account))
    context: dict[str, Any] = {
        "form": form,
        "rules": list(sensitive_rules()),
        "roles": list(sensitive_roles()[:ROLES_SHOWN]),
        "role_count": sensitive_roles().count(),
        "analysis": access.current_run(),
        "account": account or "",
        "paths": page,
        "path_rows": list(zip(page, access.path_links(p.path for p in page), strict=True)),
    }
    return render_page_or_fragment(
        request,
        "identities/sensitive_targets.html",
        "sensitive-paths",
        context,
        status=400 if form.errors else 200,
    )
