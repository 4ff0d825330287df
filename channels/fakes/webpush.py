"""A Web Push service look-alike that also plays the browser: it hands out subscriptions for its own
key pair, checks the VAPID JWT (ES256, audience, expiry, the expected application server key) and
decrypts every aes128gcm payload as a browser would (when `received` is read).

Subscription behaviour by name: `gone-*` answers 410, `missing-*` answers 404, `big-*` answers 413.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from functools import partial
from typing import Any, ClassVar

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from channels.fakes._server import FakeProvider, Reply, Request


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeWebPush(FakeProvider):
    """Records `{"key", "subscription", "title", "body", "ttl", "urgency"}` per accepted push."""

    name: ClassVar[str] = "webpush"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._browser_key = ec.generate_private_key(ec.SECP256R1())
        self._auth = os.urandom(16)
        self._vapid_key = ec.generate_private_key(ec.SECP256R1())
        self._verified: set[str] = set()
        self._verified_lock = threading.Lock()

    @property
    def vapid_private_key(self) -> str:
        """The application server key the fake expects (base64url raw), for the adapter's config."""
        return b64u(self._vapid_key.private_numbers().private_value.to_bytes(32, "big"))

    @property
    def vapid_public_key(self) -> str:
        return b64u(
            self._vapid_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def subscription(self, name: str | None = None) -> str:
        """A subscription JSON string, as a browser's PushManager.subscribe() would produce."""
        public = self._browser_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return json.dumps(
            {
                "endpoint": f"{self.url}/push/{name or uuid.uuid4().hex}",
                "keys": {"p256dh": b64u(public), "auth": b64u(self._auth)},
            }
        )

    def _vapid_ok(self, authorization: str) -> bool:
        if not authorization.startswith("vapid "):
            return False
        fields = dict(part.strip().split("=", 1) for part in authorization[6:].split(","))
        token, key = fields.get("t", ""), fields.get("k", "")
        if key != self.vapid_public_key:
            return False
        with self._verified_lock:
            if token in self._verified:
                return True
        try:
            header, payload, signature = token.split(".")
            raw = _b64d(signature)
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            self._vapid_key.public_key().verify(der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = json.loads(_b64d(payload))
        except (ValueError, InvalidSignature):
            return False
        if (
            claims.get("aud") != self.url
            or not claims.get("sub")
            or not (time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600)
        ):
            return False
        with self._verified_lock:
            self._verified.add(token)
        return True

    def _open(self, body: bytes, name: str, ttl: str | None, urgency: str | None) -> list[dict[str, Any]]:
        """What the browser shows: the decrypted payload, or an error if it cannot be decrypted."""
        try:
            plain = http_ece.decrypt(body, private_key=self._browser_key, auth_secret=self._auth, version="aes128gcm")
            payload = json.loads(plain)
        except Exception:  # any decryption failure is the sender's fault
            payload = {"error": "cannot decrypt payload"}
        return [
            {
                "key": payload.get("key"),
                "subscription": name,
                "title": payload.get("title"),
                "body": payload.get("body"),
                "ttl": ttl,
                "urgency": urgency,
                **({"error": payload["error"]} if "error" in payload else {}),
            }
        ]

    def handle(self, request: Request) -> Reply:
        if not request.path.startswith("/push/") or request.method != "POST":
            return Reply(404, b"")
        name = request.path.removeprefix("/push/")
        if not self._vapid_ok(request.headers.get("Authorization", "")):
            return Reply(403, "VAPID credentials do not match the subscription")
        if request.headers.get("Content-Encoding") != "aes128gcm" or request.headers.get("TTL") is None:
            return Reply(400, "Content-Encoding aes128gcm and TTL are required")
        if name.startswith("gone"):
            return Reply(410, "push subscription has unsubscribed or expired")
        if name.startswith("missing"):
            return Reply(404, "no such subscription")
        if name.startswith("big") or len(request.body) > 4096:
            return Reply(413, "payload too large")
        message_id = uuid.uuid4().hex[:16]
        # A push service never decrypts (it cannot); the browser does, later. So does the fake: off the
        # request path, when `received` is read. A payload the browser cannot read is recorded as such.
        self.record_later(
            partial(self._open, request.body, name, request.headers.get("TTL"), request.headers.get("Urgency"))
        )
        return Reply(201, b"", {"Location": f"{self.url}/m/{message_id}"})
