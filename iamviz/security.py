"""The security settings that need more than one line: the secret key and the
Content-Security-Policy. iamviz/settings.py reads the environment and calls these."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

# Values published in this repository (the old embedded default, .env.example): anyone can
# sign sessions and password-reset tokens with them.
PUBLIC_SECRET_KEYS = frozenset(
    {"insecure-embedded-default-key-set-SECRET_KEY-in-production", "change-me"}
)
SECRET_KEY_FILE = "secret_key"

# The two <style> elements the vendored scripts insert, allowed by hash so that style-src needs
# no 'unsafe-inline': htmx 2's indicator rules and Cytoscape's container rule.
_INLINE_STYLE_HASHES = (
    "'sha256-faU7yAF8NxuMTNEwVmBz+VcYeIoBQ2EMHW3WaVxCvnk='",
    "'sha256-pgvDUBa4IjFA2yuSJ2cqcyxmNYJMborsd0ORcRv9vw8='",
)
CSP_MODES = ("enforce", "report-only", "off")


def secret_key(value: str, *, debug: bool, require: bool, data_dir: Path) -> str:
    """SECRET_KEY from the environment, else one made for this installation and kept in
    `data_dir` (readable by its owner only). Refuses a published key unless DEBUG is on, and
    a missing one when `require` says the environment must hold it (several hosts share it)."""
    if value:
        if value in PUBLIC_SECRET_KEYS and not debug:
            raise ImproperlyConfigured(
                "SECRET_KEY is a published example value; set a long random one "
                '(python -c "import secrets; print(secrets.token_urlsafe(50))")'
            )
        return value
    if require and not debug:
        raise ImproperlyConfigured("SECRET_KEY is not set (IAMVIZ_REQUIRE_SECRET_KEY=true)")
    return _installation_key(data_dir / SECRET_KEY_FILE)


def _installation_key(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if not key:
            raise ImproperlyConfigured(f"{path} is empty; delete it or set SECRET_KEY") from None
        return key
    key = secrets.token_urlsafe(50)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def content_security_policy(mode: str, report_uri: str = "") -> dict[str, Any]:
    """The django-csp settings for `mode`: `enforce`, `report-only` or `off`.

    Everything comes from this origin; no inline script, no style sheet but the site's (and
    the two the vendored scripts insert), no plugin, no framing, forms post here only.
    """
    if mode not in CSP_MODES:
        raise ImproperlyConfigured(
            f"IAMVIZ_CSP must be one of {', '.join(CSP_MODES)}, not {mode!r}"
        )
    if mode == "off":
        return {}
    directives: dict[str, Any] = {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, *_INLINE_STYLE_HASHES],
        # The graph library positions its canvases with style attributes; attributes carry no
        # selectors, so they cannot read the page as a style sheet could.
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
    if report_uri:
        directives["report-uri"] = [report_uri]
    name = "CONTENT_SECURITY_POLICY" if mode == "enforce" else "CONTENT_SECURITY_POLICY_REPORT_ONLY"
    return {name: {"DIRECTIVES": directives}}
