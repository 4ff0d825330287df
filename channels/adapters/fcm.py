"""App push through Firebase Cloud Messaging HTTP v1: one message per request, so concurrency and a
pooled keep-alive session do the work a batch endpoint used to.

Environment (secrets come from here only): the service account key as JSON text in
`FCM_SERVICE_ACCOUNT_JSON`, or as a file in `FCM_SERVICE_ACCOUNT_FILE` (a path, e.g. a mounted
secret), `FCM_PROJECT_ID` (optional, default: the key's project), `FCM_BASE_URL` and `FCM_TOKEN_URI`
(optional; tests and the demo point them at the local fake).

Auth is google-auth's real service-account flow: a JWT signed with the key is exchanged at the token
URI for an access token, refreshed under a lock when it expires and once more on a 401. Errors are
classified from the body's `FcmError.errorCode`: UNREGISTERED (and a token-shaped INVALID_ARGUMENT or
SENDER_ID_MISMATCH) suppress the token; QUOTA_EXCEEDED / UNAVAILABLE / INTERNAL retry;
THIRD_PARTY_AUTH_ERROR and 403 PERMISSION_DENIED stop the channel. An error body that is not FCM's
(a proxy or load balancer in front answering `{"error": "..."}`) is classified by its HTTP status.
FCM has no idempotency key.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import requests
from google.auth.exceptions import GoogleAuthError
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2 import service_account

from channels.adapters._common import AD_PREFIX, HttpAdapter, exception_results, reason, retry_after
from channels.base import Limits
from channels.errors import ChannelConfigError
from channels.models import Channel, Message, Outcome, Purpose, SendResult

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
MAX_PAYLOAD_BYTES = 4096


@dataclass(frozen=True)
class FcmConfig:
    service_account_info: dict[str, Any] = field(repr=False)
    project_id: str | None = None
    base_url: str = "https://fcm.googleapis.com"
    token_uri: str | None = None  # overrides the key's token_uri

    @property
    def project(self) -> str:
        return self.project_id or str(self.service_account_info["project_id"])

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> FcmConfig:
        return cls(
            service_account_info=service_account_from_env(environ),
            project_id=environ.get("FCM_PROJECT_ID") or None,
            base_url=environ.get("FCM_BASE_URL", "https://fcm.googleapis.com"),
            token_uri=environ.get("FCM_TOKEN_URI") or None,
        )


def service_account_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The key from `FCM_SERVICE_ACCOUNT_JSON` (text) or `FCM_SERVICE_ACCOUNT_FILE` (a path); errors
    name the variable, never the key."""
    text, name = environ.get("FCM_SERVICE_ACCOUNT_JSON", ""), "FCM_SERVICE_ACCOUNT_JSON"
    if text.strip() and environ.get("FCM_SERVICE_ACCOUNT_FILE", "").strip():
        raise ChannelConfigError("fcm: set FCM_SERVICE_ACCOUNT_JSON or FCM_SERVICE_ACCOUNT_FILE, not both")
    if not text.strip():
        name = "FCM_SERVICE_ACCOUNT_FILE"
        path = environ.get(name, "")
        if not path.strip():
            raise ChannelConfigError(
                "fcm: set FCM_SERVICE_ACCOUNT_JSON (the key) or FCM_SERVICE_ACCOUNT_FILE (its path)"
            )
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ChannelConfigError(f"fcm: {name} cannot be read: {type(exc).__name__}") from None
    try:
        info = json.loads(text)
    except ValueError:
        raise ChannelConfigError(f"fcm: {name} is not a service account key (not JSON)") from None
    if not isinstance(info, dict) or not info.get("private_key") or not info.get("client_email"):
        raise ChannelConfigError(f"fcm: {name} is not a service account key (no private_key/client_email)")
    return info


class FcmAdapter(HttpAdapter):
    name: ClassVar[str] = "fcm"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.APP_PUSH})
    default_for: ClassVar[frozenset[Channel]] = frozenset({Channel.APP_PUSH})
    limits = Limits(
        batch_size=1,  # the v1 API sends one message per request
        rate_per_second=10_000.0,  # 600k/min per project
        concurrency=32,
        max_body_bytes=MAX_PAYLOAD_BYTES,
    )
    Config: ClassVar[type[FcmConfig]] = FcmConfig

    def __init__(self, config: FcmConfig, session: requests.Session | None = None) -> None:
        super().__init__(session)
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        info = dict(config.service_account_info)
        if config.token_uri:
            info["token_uri"] = config.token_uri
        self._credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
        self._token_lock = threading.Lock()

    def _token(self, force: bool = False) -> str:
        with self._token_lock:
            if force or not self._credentials.valid:
                self._credentials.refresh(GoogleRequest(self.session))
            return str(self._credentials.token)

    def send(self, messages: Sequence[Message], *, idempotency_key: str) -> list[SendResult]:
        return [self._send_one(m) for m in messages]

    def payload(self, m: Message) -> dict[str, Any]:
        data = {k: v for k, v in m.data.items() if k not in ("image",)}
        data["dangol_key"] = m.key
        notification: dict[str, str] = {"title": m.subject or "", "body": m.body}
        if m.data.get("image"):
            notification["image"] = m.data["image"]
        return {
            "message": {
                "token": m.address,
                "notification": notification,
                "data": data,
                "android": {"collapse_key": m.campaign_id[:64]},
                "apns": {"headers": {"apns-collapse-id": m.campaign_id[:64]}},
            }
        }

    def _send_one(self, m: Message) -> SendResult:
        if m.purpose is Purpose.AD and not ((m.subject or "").startswith(AD_PREFIX) or m.body.startswith(AD_PREFIX)):
            return SendResult(
                m.key,
                Outcome.PERMANENT,
                suppress=False,
                code="ad_form",
                reason="advertising push must show (광고) in the title or body",
            )
        body = json.dumps(self.payload(m), ensure_ascii=False).encode()
        if len(body) > MAX_PAYLOAD_BYTES + 200:  # the limit is on the message, the envelope is small
            return SendResult(m.key, Outcome.PERMANENT, suppress=False, code="size", reason="payload over 4 KB")
        url = f"{self.base_url}/v1/projects/{self.config.project}/messages:send"
        for attempt in (1, 2):
            try:
                token = self._token(force=attempt == 2)
            except GoogleAuthError as exc:
                return SendResult(
                    m.key,
                    Outcome.CONFIG_ERROR,
                    code="oauth",
                    reason=f"service-account token refused: {reason(exc)}",
                )
            except requests.RequestException as exc:
                return exception_results([m], exc)[0]
            try:
                response = self.session.post(
                    url,
                    data=body,
                    timeout=self.timeout,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json; charset=UTF-8",
                    },
                )
            except requests.RequestException as exc:
                return exception_results([m], exc)[0]
            if response.status_code == 401 and attempt == 1:
                continue  # expired or revoked access token: refresh once
            return self._classify(m, response)
        raise AssertionError("unreachable")

    def _classify(self, m: Message, response: requests.Response) -> SendResult:
        status = response.status_code
        if status == 200:
            try:
                return SendResult(m.key, Outcome.ACCEPTED, provider_id=response.json().get("name"))
            except ValueError:
                return SendResult(m.key, Outcome.ACCEPTED)
        try:
            error = response.json().get("error", {})
        except (ValueError, AttributeError):
            error = {}
        if not isinstance(error, dict):  # not FCM's shape: a proxy's {"error": "..."}
            error = {"message": str(error)}
        details = error.get("details")
        if not isinstance(details, list):
            details = []
        error_code = next((d.get("errorCode") for d in details if isinstance(d, dict) and "errorCode" in d), None)
        code = str(error_code or error.get("status") or status)
        text = f"FCM {status} {code}: {reason(error.get('message', ''))}"
        if code == "UNREGISTERED" or status == 404:
            return SendResult(m.key, Outcome.PERMANENT, reason=text, code=code)
        if code == "SENDER_ID_MISMATCH":
            return SendResult(m.key, Outcome.PERMANENT, reason=text, code=code)
        if code == "INVALID_ARGUMENT" or status == 400:
            token_problem = "token" in str(error.get("message", "")).lower()
            return SendResult(m.key, Outcome.PERMANENT, suppress=token_problem, reason=text, code=code)
        if code in ("QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED") or status == 429:
            return SendResult(
                m.key,
                Outcome.RETRY,
                retry_after=retry_after(response),
                throttled=True,
                reason=text,
                code=code,
            )
        if status in (401, 403) or code == "THIRD_PARTY_AUTH_ERROR":
            return SendResult(m.key, Outcome.CONFIG_ERROR, reason=text, code=code)
        if status in (500, 503) or code in ("UNAVAILABLE", "INTERNAL"):
            return SendResult(m.key, Outcome.RETRY, retry_after=retry_after(response), reason=text, code=code)
        if status >= 500:
            return SendResult(m.key, Outcome.UNKNOWN, reason=text, code=code)
        return SendResult(m.key, Outcome.PERMANENT, suppress=False, reason=text, code=code)
