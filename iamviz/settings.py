"""iamviz settings. Every value comes from the environment; the defaults give the embedded
set-up (SQLite file, tasks run in-process, no broker). Every variable is listed in .env.example.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from iamviz.log_redaction import logging_config
from iamviz.security import content_security_policy, secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def envbool(name: str, default: bool) -> bool:
    """Read a boolean strictly: anything but true/false (or 1/0, yes/no) is an error."""
    raw = env.str(name, default="")
    if raw == "":
        return default
    value = raw.strip().lower()
    if value in {"true", "1", "yes", "on"}:
        return True
    if value in {"false", "0", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


DEBUG = envbool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "csp",
    "axes",
    "identities",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every view needs a login unless marked @login_not_required; it runs before the views'
    # method checks, so an anonymous HEAD or POST is sent to the login page, not answered 405.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it answers a locked-out login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "iamviz.urls"
WSGI_APPLICATION = "iamviz.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "identities.context_processors.roles",
            ],
        },
    },
]

DATA_DIR = Path(env.str("IAMVIZ_DATA_DIR", default=str(BASE_DIR / "var")))
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'iamviz.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite creates the file but not its folder; a fresh checkout has no var/ yet.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {})
    # WAL lets the dashboard read while an import writes.
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 30)
    # A file, not memory, so that a Celery worker process in the tests sees the test database.
    DATABASES["default"].setdefault("TEST", {"NAME": str(DATA_DIR / "test.sqlite3")})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "identities:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))

# Celery: without REDIS_URL there is no broker and tasks run in-process.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# Results computed once per analysis run and shared by every process (see
# identities/queries/shared_cache.py), and the API's throttle counts: in Redis when there is
# one, else in files under DATA_DIR (shared by the processes of one machine). The Redis
# database may be Celery's broker as well: clear the cache with shared_cache.clear_cache(),
# which removes the KEY_PREFIX keys only, never with cache.clear() (FLUSHDB).
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "iamviz-cache",
        }
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    )
}
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged when it ends, and one whose worker process died is put back in its
# queue (each task also says so: identities/tasks.py), so a killed worker's sync is redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Three queues, so that the reaper never waits behind an analysis nor an analysis behind the
# syncs: `make worker` consumes all three; docker/compose.yaml runs one worker per kind.
CELERY_TASK_QUEUES: dict[str, dict[str, str]] = {"housekeeping": {}, "sync": {}, "analysis": {}}
CELERY_TASK_DEFAULT_QUEUE = "sync"
CELERY_TASK_ROUTES = {
    "identities.reap_stale_syncs": {"queue": "housekeeping"},
    "identities.finish_organization_sync": {"queue": "housekeeping"},
    "identities.sync_organization": {"queue": "sync"},
    "identities.sync_account": {"queue": "sync"},
    "identities.import_bundle_file": {"queue": "sync"},
    "identities.analyse": {"queue": "analysis"},
    "identities.notify_analysis": {"queue": "housekeeping"},
    "identities.send_notification": {"queue": "housekeeping"},
    "identities.prune_bundles": {"queue": "housekeeping"},
    "identities.build_export": {"queue": "analysis"},
    "identities.what_if": {"queue": "analysis"},
}
# Hard time limits in seconds (the soft limit is a minute earlier, housekeeping's 10 s).
IAMVIZ_TIME_LIMITS = {
    "housekeeping": env.int("IAMVIZ_HOUSEKEEPING_TIME_LIMIT", default=120),
    "sync": env.int("IAMVIZ_SYNC_TIME_LIMIT", default=30 * 60),
    "analysis": env.int("IAMVIZ_ANALYSIS_TIME_LIMIT", default=60 * 60),
}
# Redis hands an unacknowledged task to another worker after this many seconds. Longer than the
# longest time limit, so a task that still runs is never delivered twice; a killed worker's
# task comes back this late only when the whole worker died (a killed pool process's task is
# redelivered at once), and meanwhile the reaper fails its run within IAMVIZ_SYNC_STALE_SECONDS,
# closes its organisation run and queues the analysis.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int(
        "IAMVIZ_VISIBILITY_TIMEOUT", default=max(IAMVIZ_TIME_LIMITS.values()) + 5 * 60
    )
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = CELERY_BROKER_TRANSPORT_OPTIONS

# A sync or analysis whose worker has shown no sign of life for this long is dead: its run is
# taken over by the redelivered task or failed by the reaper. Workers beat every sixth of it.
IAMVIZ_SYNC_STALE_SECONDS = env.int("IAMVIZ_SYNC_STALE_SECONDS", default=120)
# How often the reaper runs (beat, housekeeping queue), and the pause before a throttled
# account is tried again within the same run (twice, then it fails).
IAMVIZ_REAPER_EVERY_SECONDS = env.int("IAMVIZ_REAPER_EVERY_SECONDS", default=60)
IAMVIZ_THROTTLE_RETRY_SECONDS = env.int("IAMVIZ_THROTTLE_RETRY_SECONDS", default=60)

# Archived bundles larger than this are still stored; the limit guards uploads only.
IAMVIZ_MAX_UPLOAD_BYTES = env.int("IAMVIZ_MAX_UPLOAD_BYTES", default=512 * 1024 * 1024)
# Days the access history (what each analysis changed) is kept; finding audit trails stay.
IAMVIZ_HISTORY_RETENTION_DAYS = env.int("IAMVIZ_HISTORY_RETENTION_DAYS", default=90)
# Archived bundles (the raw input of each run) kept: the newest IAMVIZ_BUNDLE_KEEP_LAST and
# every one used in the last IAMVIZ_BUNDLE_KEEP_DAYS days; 0 turns that limit off, both 0 keep
# every bundle. Beat prunes the others every IAMVIZ_BUNDLE_PRUNE_EVERY_SECONDS.
IAMVIZ_BUNDLE_KEEP_LAST = env.int("IAMVIZ_BUNDLE_KEEP_LAST", default=30)
IAMVIZ_BUNDLE_KEEP_DAYS = env.int("IAMVIZ_BUNDLE_KEEP_DAYS", default=90)
IAMVIZ_BUNDLE_PRUNE_EVERY_SECONDS = env.int("IAMVIZ_BUNDLE_PRUNE_EVERY_SECONDS", default=3600)
# Days an export built in the background (and its file under DATA_DIR/exports) is kept; the
# hourly pruning of archived bundles drops the older ones.
IAMVIZ_EXPORT_KEEP_DAYS = env.int("IAMVIZ_EXPORT_KEEP_DAYS", default=7)
# The what-if editor's answers come from a worker (the page polls), not the web request: on
# by default with a broker (REDIS_URL); a whole-estate what-if outlasts a web worker's timeout.
IAMVIZ_WHAT_IF_IN_BACKGROUND = env.bool("IAMVIZ_WHAT_IF_IN_BACKGROUND", default=bool(REDIS_URL))
# Requests per user to the JSON API (/api/v1/), as Django REST framework's throttles read it
# ("300/minute", "10/second"); counted in the default cache (CACHES), shared by the processes.
IAMVIZ_API_RATE = env.str("IAMVIZ_API_RATE", default="300/minute")
# The API's lists of the current run are stored in the cache when an analysis finishes, unless
# the estate has more direct edges than this (groups counted per member); then the first
# request that needs one builds and stores it.
IAMVIZ_WARM_API_ROWS = env.int("IAMVIZ_WARM_API_ROWS", default=500_000)
# Outgoing email (review notifications), e.g. smtp+tls://user:password@smtp.example.com:587;
# the default prints messages to the log.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="iamviz@localhost")
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# AWS client libraries stay at WARNING even at DEBUG, and every handler redacts secrets
# (STS session keys, ExternalId): see iamviz/log_redaction.py.
LOGGING = logging_config(env.str("LOG_LEVEL", default="INFO"))
# Celery workers keep this LOGGING (its redacting handler) instead of installing their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- security: production sets these from the environment (.env.example); with its
# production values `manage.py check --deploy` is clean. IAMVIZ_HTTPS=true turns on every
# HTTPS-only setting at once; each can still be set on its own.
SECRET_KEY = secret_key(
    env.str("SECRET_KEY", default=""),
    debug=DEBUG,
    require=envbool("IAMVIZ_REQUIRE_SECRET_KEY", default=False),
    data_dir=DATA_DIR,
)
HTTPS = envbool("IAMVIZ_HTTPS", default=False)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", default=HTTPS)
# The container healthcheck calls /healthz/ over plain HTTP from inside the container.
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", default=HTTPS)
if envbool("IAMVIZ_BEHIND_TLS_PROXY", default=False):
    # Only behind a proxy that sets this header itself and strips it from clients.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
vars().update(
    content_security_policy(
        env.str("IAMVIZ_CSP", default="enforce"), env.str("IAMVIZ_CSP_REPORT_URI", default="")
    )
)

# Login throttling (django-axes): after this many failed logins for one username from one
# address, that pair is locked out for the cool-off (hours); a success resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("IAMVIZ_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("IAMVIZ_LOGIN_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Optional single sign-on through OpenID Connect (mozilla-django-oidc): on only when
# OIDC_RP_CLIENT_ID is set, and then every endpoint below must be set too (.env.example).
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
if OIDC_ENABLED:
    INSTALLED_APPS.append("mozilla_django_oidc")
    AUTHENTICATION_BACKENDS.append("mozilla_django_oidc.auth.OIDCAuthenticationBackend")
    OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET")
    OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT")
    OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT")
    OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT")
    OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT")
    OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
    OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
    # Off by default: an administrator creates the users (and gives them a role) first.
    OIDC_CREATE_USER = envbool("OIDC_CREATE_USER", default=False)
