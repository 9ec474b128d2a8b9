"""boto3 sessions and clients: the only module that builds them.

Credentials come from boto3's standard chain (environment, shared profile, SSO, instance or task
role); iamviz never stores any. Member accounts are reached with STS AssumeRole. Endpoints are
left to boto3, so `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` (boto3 >= 1.28) work as
boto3 documents them: https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

logger = logging.getLogger(__name__)

USER_AGENT_EXTRA = "iamviz"
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0

RetryMode = Literal["standard", "adaptive"]


def build_config(
    *,
    retry_mode: RetryMode = "adaptive",
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> Config:
    """The botocore client configuration every iamviz client uses.

    `max_attempts` is botocore's number of retries after the first attempt (8 = 1 call + up to
    8 retries; botocore's `total_max_attempts` would count the first). "standard" retries
    throttling and transient errors with jittered exponential backoff; "adaptive" also rate-limits
    the client side. https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
    """
    return Config(
        retries={"mode": retry_mode, "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        user_agent_extra=USER_AGENT_EXTRA,
    )


def management_session(
    *, profile_name: str | None = None, region_name: str | None = None
) -> boto3.Session:
    """A session for the management (or any starting) account from the standard credential chain.

    STS is pinned to regional endpoints, so AssumeRole does not depend on us-east-1:
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-sts-regionalized-endpoints.html
    """
    return boto3.Session(
        botocore_session=_regional_sts_botocore_session(),
        profile_name=profile_name,
        region_name=region_name,
    )


def build_client(
    session: boto3.Session,
    service_name: str,
    *,
    region_name: str | None = None,
    config: Config | None = None,
) -> Any:
    """A boto3 client with iamviz's retry/timeout configuration; endpoint left to boto3."""
    return session.client(
        service_name,
        region_name=region_name or session.region_name,
        config=config or build_config(),
    )


def role_arn_for(account_id: str, role_name_or_arn: str, *, partition: str = "aws") -> str:
    """The ARN of the role to assume in `account_id`: a full ARN is kept, a name (with or
    without a path, e.g. `audit/IamViz`) is placed in the account."""
    if role_name_or_arn.startswith("arn:"):
        return role_name_or_arn
    return f"arn:{partition}:iam::{account_id}:role/{role_name_or_arn.strip('/')}"


def assume_account_session(
    base_session: boto3.Session,
    *,
    account_id: str,
    role_name_or_arn: str,
    external_id: str | None = None,
    session_name: str = "iamviz",
    region: str,
    config: Config | None = None,
    counter: CallCounter | None = None,
) -> boto3.Session:
    """A session in `account_id` through STS AssumeRole from `base_session`.

    The credentials are temporary (one hour, the AssumeRole default) and are not refreshed:
    one account's collection takes seconds to minutes.
    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
    """
    sts = build_client(base_session, "sts", region_name=region, config=config)
    params: dict[str, Any] = {
        "RoleArn": role_arn_for(account_id, role_name_or_arn),
        "RoleSessionName": session_name,
    }
    if external_id:
        params["ExternalId"] = external_id
    credentials = sts.assume_role(**params)["Credentials"]
    session = boto3.Session(
        botocore_session=_regional_sts_botocore_session(),
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
    if counter is not None:
        counter.attach(session)
    logger.debug("Assumed %s in account %s", params["RoleArn"], account_id)
    return session


@dataclass
class CallCounter:
    """Counts the AWS API calls made by clients of the sessions it is attached to.

    `calls` counts logical calls (one per client method call, i.e. per page when paginating);
    `attempts` counts HTTP requests actually sent, and `retries` the attempts after the first
    one of a call (from the `amz-sdk-request: attempt=N` header botocore sets). A call answered
    by a botocore Stubber counts as a call but sends nothing. Attach before creating clients:
    a client copies its session's event handlers when it is created.
    """

    calls: int = 0
    attempts: int = 0
    retries: int = 0
    calls_by_operation: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def attach(self, session: boto3.Session) -> CallCounter:
        """Count the calls of every client `session` creates from now on (idempotent)."""
        events = session.events
        # The emitter calls more specific names first, and a Stubber answers on
        # "before-call.*.*": registering on that same name (earlier) still sees stubbed calls.
        events.register("before-call.*.*", self._count_call, unique_id=f"iamviz-calls-{id(self)}")
        events.register("before-send.*.*", self._count_send, unique_id=f"iamviz-sends-{id(self)}")
        return self

    def detach(self, session: boto3.Session) -> None:
        """Stop counting `session`'s calls: a session shared between runs must not feed a
        finished run's counter (its heartbeat would write those calls to the wrong run)."""
        events = session.events
        events.unregister("before-call.*.*", unique_id=f"iamviz-calls-{id(self)}")
        events.unregister("before-send.*.*", unique_id=f"iamviz-sends-{id(self)}")

    def as_dict(self) -> dict[str, int]:
        return {"calls": self.calls, "attempts": self.attempts, "retries": self.retries}

    def _count_call(self, model: Any, **kwargs: Any) -> None:
        operation = f"{model.service_model.service_id.hyphenize()}.{model.name}"
        with self._lock:
            self.calls += 1
            self.calls_by_operation[operation] += 1

    def _count_send(self, request: Any, **kwargs: Any) -> None:
        attempt = _attempt_number(request.headers.get("amz-sdk-request"))
        with self._lock:
            self.attempts += 1
            if attempt > 1:
                self.retries += 1


def _attempt_number(header: str | bytes | None) -> int:
    if header is None:
        return 1
    if isinstance(header, bytes):
        header = header.decode("ascii", "replace")
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "attempt" and value.isdigit():
            return int(value)
    return 1


def _regional_sts_botocore_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.set_config_variable("sts_regional_endpoints", "regional")
    # One session per member account would otherwise re-read the service models from disk
    # (~50 ms per client); the loader only caches read-only JSON, so it can be shared.
    session.register_component(
        "data_loader", _shared_loader(session.get_config_variable("data_path"))
    )
    return session


@functools.cache
def _shared_loader(data_path: str | None) -> botocore.loaders.Loader:
    return botocore.loaders.create_loader(data_path)
