"""An FCM HTTP v1 look-alike with its own OAuth token endpoint, so google-auth's real service-account
flow runs: the fake issues the service-account key (`service_account_info`), checks the signed JWT
grant at `/token`, and only accepts access tokens it issued.

Token behaviour: a registration token starting `unregistered` answers 404 UNREGISTERED; `invalid`
answers 400 INVALID_ARGUMENT ("The registration token is not a valid FCM registration token");
`proxy` gets what a proxy in front of FCM answers when its upstream fails: 503 with a plain
`{"error": "..."}` body, not FCM's error object.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from channels.fakes._server import FakeProvider, Reply, Request

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


def _b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def fcm_error(status: int, code: str, message: str, fcm_code: str | None = None) -> Reply:
    details = (
        [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}] if fcm_code else []
    )
    return Reply(status, {"error": {"code": status, "message": message, "status": code, "details": details}})


class FakeFcm(FakeProvider):
    """Records `{"key", "token", "title", "body", "name"}` per accepted message."""

    name: ClassVar[str] = "fcm"
    project_id = "dangol-fake"
    client_email = "pusher@dangol-fake.iam.gserviceaccount.com"
    token_lifetime = 3600

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._tokens: dict[str, float] = {}
        self._tokens_lock = threading.Lock()
        self.token_grants = 0

    @property
    def service_account_info(self) -> dict[str, str]:
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": "fake1",
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "1",
            "token_uri": f"{self.url}/token",
        }

    def revoke_tokens(self) -> None:
        with self._tokens_lock:
            self._tokens.clear()

    def is_control_free(self, request: Request) -> bool:
        return request.path == "/token"

    def fault_reply(self, status: int, retry_after: str | None) -> Reply:
        reply = fcm_error(
            status,
            "RESOURCE_EXHAUSTED" if status == 429 else "UNAVAILABLE",
            "fault injected",
            "QUOTA_EXCEEDED" if status == 429 else "UNAVAILABLE",
        )
        if retry_after and status == 429:
            reply.headers["Retry-After"] = retry_after
        return reply

    def handle(self, request: Request) -> Reply:
        if request.path == "/token" and request.method == "POST":
            return self._grant(request)
        expected = f"/v1/projects/{self.project_id}/messages:send"
        if request.path.endswith("/messages:send") and request.path != expected:
            return fcm_error(403, "PERMISSION_DENIED", "Permission denied for this project", "SENDER_ID_MISMATCH")
        if request.path != expected or request.method != "POST":
            return fcm_error(404, "NOT_FOUND", "not found")
        auth = request.headers.get("Authorization", "")
        with self._tokens_lock:
            expires = self._tokens.get(auth.removeprefix("Bearer "))
        if not auth.startswith("Bearer ") or expires is None or expires < time.time():
            return fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if len(request.body) > 4096 + 200:
            return fcm_error(400, "INVALID_ARGUMENT", "Message is too big", "INVALID_ARGUMENT")
        message = (request.json() or {}).get("message") or {}
        token = str(message.get("token") or "")
        if not token:
            return fcm_error(400, "INVALID_ARGUMENT", "Recipient of the message is not set.", "INVALID_ARGUMENT")
        if token.startswith("proxy"):
            return Reply(503, {"error": "upstream connect error or disconnect/reset before headers"})
        if token.startswith("unregistered"):
            return fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        if token.startswith("invalid"):
            return fcm_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            )
        data = message.get("data") or {}
        if any(not isinstance(v, str) for v in data.values()):
            return fcm_error(400, "INVALID_ARGUMENT", "data values must be strings", "INVALID_ARGUMENT")
        name = f"projects/{self.project_id}/messages/{uuid.uuid4().hex[:16]}"
        notification = message.get("notification") or {}
        self.record(
            [
                {
                    "key": data.get("dangol_key"),
                    "token": token,
                    "title": notification.get("title"),
                    "body": notification.get("body"),
                    "name": name,
                }
            ]
        )
        return Reply(200, {"name": name})

    def _grant(self, request: Request) -> Reply:
        form = request.form()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Reply(400, {"error": "unsupported_grant_type"})
        try:
            header, payload, signature = str(form.get("assertion", "")).split(".")
            self._key.public_key().verify(
                _b64d(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            claims = json.loads(_b64d(payload))
        except (ValueError, InvalidSignature):
            return Reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        if (
            claims.get("iss") != self.client_email
            or claims.get("aud") != GOOGLE_TOKEN_AUDIENCE
            or "firebase.messaging" not in str(claims.get("scope"))
            or claims.get("exp", 0) < time.time()
        ):
            return Reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT claims."})
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._tokens_lock:
            self._tokens[token] = time.time() + self.token_lifetime
            self.token_grants += 1
        return Reply(200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"})
