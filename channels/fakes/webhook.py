"""A partner's webhook receiver that does what Standard Webhooks asks of one: verify the signature,
reject stale timestamps, and process each `webhook-id` once (a repeat gets 200 and is not recorded
again). Path `/hooks/gone*` answers 410.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from typing import Any, ClassVar

from channels.fakes._server import FakeProvider, Reply, Request


class FakeWebhookReceiver(FakeProvider):
    """Records `{"key", "path", "type"}` per first delivery of a `webhook-id`."""

    name: ClassVar[str] = "webhook"
    tolerance_seconds = 300

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
        self._seen: set[str] = set()
        self._seen_lock = threading.Lock()
        self.replays = 0

    def reset(self) -> None:
        super().reset()
        with self._seen_lock:
            self._seen.clear()
        self.replays = 0

    def handle(self, request: Request) -> Reply:
        if not request.path.startswith("/hooks/") or request.method != "POST":
            return Reply(404, "not found")
        message_id = request.headers.get("webhook-id", "")
        timestamp = request.headers.get("webhook-timestamp", "")
        if not message_id or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > self.tolerance_seconds:
            return Reply(400, "missing or stale webhook headers")
        secret = self.secret.removeprefix("whsec_")
        key = base64.b64decode(secret + "==")  # unpadded or padded, as the reference library reads it
        expected = base64.b64encode(
            hmac.new(key, f"{message_id}.{timestamp}.".encode() + request.body, hashlib.sha256).digest()
        ).decode()
        offered = [s.split(",", 1)[1] for s in request.headers.get("webhook-signature", "").split() if "," in s]
        if not any(hmac.compare_digest(expected, s) for s in offered):
            return Reply(401, "bad signature")
        if request.path.startswith("/hooks/gone"):
            return Reply(410, "endpoint disabled")
        with self._seen_lock:
            if message_id in self._seen:
                self.replays += 1
                return Reply(200, {"ok": True, "duplicate": True})
            self._seen.add(message_id)
        event = json.loads(request.body)
        self.record([{"key": message_id, "path": request.path, "type": event.get("type")}])
        return Reply(200, {"ok": True})
