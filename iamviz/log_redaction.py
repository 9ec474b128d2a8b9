"""Logging configuration: AWS client libraries capped, secrets redacted on every handler.

At DEBUG botocore logs whole requests and responses: an STS AssumeRole response carries the
session's SecretAccessKey and SessionToken, its request the ExternalId. Their loggers are held
at WARNING whatever LOG_LEVEL says, and `RedactSecrets` (a filter on every handler) blanks
these values in any record that still names them, whoever logs it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[REDACTED]"
# Keys whose values are secret (or, for ExternalId, a shared secret of a trust relationship).
SECRET_KEYS = (
    "SecretAccessKey",
    "SessionToken",
    "ExternalId",
    "aws_secret_access_key",
    "aws_session_token",
    "secret_key",
    "token",
    "X-Amz-Security-Token",
)
# Loggers that write request/response bodies or headers at DEBUG.
CAPPED_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "aiobotocore")

_KEYS = "|".join(re.escape(key) for key in SECRET_KEYS)
_PATTERNS = (
    # XML (the STS query API): <SecretAccessKey>…</SecretAccessKey>
    re.compile(rf"(<(?:{_KEYS})>)[^<]*(</)", re.IGNORECASE),
    # JSON, Python reprs and headers: 'SessionToken': 'x', "ExternalId": "x", token=x
    re.compile(rf"""((?:{_KEYS})['"]?\s*[:=]\s*b?['"]?)[^'",&\s}}<>)]+""", re.IGNORECASE),
)


def redact(text: str) -> str:
    """``text`` with the value of every secret key replaced by ``[REDACTED]``."""
    for pattern in _PATTERNS:
        text = pattern.sub(_replace, text)
    return text


def _replace(match: re.Match[str]) -> str:
    if match.lastindex == 2:
        return f"{match.group(1)}{REDACTED}{match.group(2)}"
    return f"{match.group(1)}{REDACTED}"


class RedactSecrets(logging.Filter):
    """Rewrites each record's message (and traceback text) with secret values blanked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def logging_config(level: str) -> dict[str, Any]:
    """The LOGGING setting for ``level``: console output, redacted, AWS libraries capped."""
    number = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    capped = level if number >= logging.WARNING else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_secrets": {"()": "iamviz.log_redaction.RedactSecrets"}},
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["redact_secrets"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            **{name: {"level": capped} for name in CAPPED_LOGGERS},
        },
    }
