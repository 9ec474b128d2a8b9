"""The API tokens page (user menu): a login makes and revokes its own tokens; an admin sees and
revokes every login's, and may make one for another login. A new token is shown once, in the
answer to the POST that made it."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_POST

from identities.api.tokens import create_token, revoke_token, tokens_visible_to
from identities.models import ApiToken
from identities.roles import ADMIN, VIEWER, has_role
from identities.views.common import HtmxHttpRequest, render_page_or_fragment, require_role

EXPIRY_CHOICES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “SIEM export”.")
    expires_in_days = forms.TypedChoiceField(
        label="Expires",
        choices=EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )


class AdminTokenForm(TokenForm):
    """An admin may also make a token for another login (a service account, say)."""

    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        empty_label="Me",
        help_text="The login the token reads as, with that login's role.",
    )


@require_role(VIEWER)
@require_http_methods(["GET", "POST"])
def api_tokens(request: HtmxHttpRequest) -> HttpResponse:
    everyone = has_role(request.user, ADMIN)
    form_class = AdminTokenForm if everyone else TokenForm
    form = form_class(request.POST if request.method == "POST" else None)
    made = ""
    if form.is_bound and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        expires_at = timezone.now() + timedelta(days=days) if days else None
        owner = form.cleaned_data.get("owner") or request.user
        _, made = create_token(request, owner, form.cleaned_data["name"], expires_at=expires_at)
        form = form_class()
    context = {
        "form": form,
        "made": made,
        "everyone": everyone,
        "tokens": tokens_visible_to(request.user, everyone=everyone),
        "now": timezone.now(),
    }
    status = 400 if form.errors else 200
    response = render_page_or_fragment(
        request, "identities/api_tokens.html", None, context, status=status
    )
    if made:
        patch_cache_control(response, private=True, no_store=True)
    return response


@require_role(VIEWER)
@require_POST
def api_token_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    everyone = has_role(request.user, ADMIN)
    try:
        row = tokens_visible_to(request.user, everyone=everyone).get(pk=pk)
    except ApiToken.DoesNotExist:
        raise Http404("No such API token.") from None
    revoke_token(request, row)
    return redirect("identities:api-tokens")
