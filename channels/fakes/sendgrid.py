"""A SendGrid v3 Mail Send look-alike: bearer auth, verified senders, the documented 400s.

Addresses in the reserved `.invalid` domain are refused per personalization (400, as for a
malformed address), to exercise the partial-rejection path.

A personalization's `substitutions` replace every occurrence of each tag in the subject and in every
content part (string values only, at most 10,000 bytes per personalization); what each recipient
receives is recorded as that text (`body` is the text/plain part, `html` the text/html one or None).
"""

from __future__ import annotations

import re
import uuid
from typing import Any, ClassVar

from channels.fakes._server import FakeProvider, Reply, Request

_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-']+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")


class FakeSendGrid(FakeProvider):
    """Records one item per accepted personalization: `{"key", "to", "subject", "body", "html", "message_id",
    "headers"}`, subject and body as the recipient receives them."""

    name: ClassVar[str] = "sendgrid"
    api_key = "SG.fake-key-for-tests-only"
    verified_sender = "shop@dangol.test"

    def fault_reply(self, status: int, retry_after: str | None) -> Reply:
        headers = {"Retry-After": retry_after} if retry_after else {}
        return Reply(status, {"errors": [{"message": "fault injected", "field": None}]}, headers)

    def handle(self, request: Request) -> Reply:
        if request.path != "/v3/mail/send" or request.method != "POST":
            return Reply(404, {"errors": [{"message": "not found"}]})
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return Reply(
                401,
                {
                    "errors": [
                        {
                            "message": "The provided authorization grant is invalid, expired, or revoked",
                            "field": None,
                            "help": None,
                        }
                    ]
                },
            )
        body = request.json()
        if (body.get("from") or {}).get("email") != self.verified_sender:
            return Reply(
                403,
                {
                    "errors": [
                        {
                            "message": "The from address does not match a verified Sender Identity.",
                            "field": "from",
                            "help": None,
                        }
                    ]
                },
            )
        errors, items = self._validate(body)
        if errors:
            return Reply(400, {"errors": errors})
        message_id = uuid.uuid4().hex[:22]
        for item in items:
            item["message_id"] = message_id
        self.record(items)
        return Reply(202, b"", {"X-Message-Id": message_id})

    def _validate(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The documented 400s, in one pass (the fake must stay faster than the client it measures)."""
        personalizations = body.get("personalizations") or []
        if not 1 <= len(personalizations) <= 1000:
            return [
                {
                    "message": "The personalizations field must have at least 1 and at most 1000 items.",
                    "field": "personalizations",
                }
            ], []
        if not body.get("content") or not all(c.get("value") for c in body["content"]):
            return [
                {
                    "message": "The content value must be a string at least one character in length.",
                    "field": "content.0.value",
                }
            ], []
        root_subject = body.get("subject")
        text = next((c.get("value") for c in body["content"] if c.get("type") == "text/plain"), "")
        html = next((c.get("value") for c in body["content"] if c.get("type") == "text/html"), None)
        errors: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        recipients = 0
        match = _EMAIL.match
        for i, p in enumerate(personalizations):
            to = p.get("to") or []
            recipients += len(to) + len(p.get("cc") or ()) + len(p.get("bcc") or ())
            subject = p.get("subject") or root_subject
            if not subject:
                return [{"message": "The subject is required.", "field": "subject"}], []
            headers = p.get("headers") or {}
            if headers.get("List-Unsubscribe-Post", "List-Unsubscribe=One-Click") != "List-Unsubscribe=One-Click":
                errors.append({"message": "invalid List-Unsubscribe-Post", "field": f"personalizations.{i}.headers"})
            key = (p.get("custom_args") or {}).get("dangol_key")
            subs = p.get("substitutions") or {}
            if not isinstance(subs, dict) or not all(isinstance(v, str) for v in subs.values()):
                errors.append({"message": "Substitutions must be strings.", "field": f"personalizations.{i}"})
                subs = {}
            elif sum(len(k.encode()) + len(v.encode()) for k, v in subs.items()) > 10_000:
                errors.append(
                    {
                        "message": "The substitutions of a personalization may not exceed 10000 bytes.",
                        "field": f"personalizations.{i}.substitutions",
                    }
                )
            received_subject, received_body, received_html = subject, text, html
            for tag, value in subs.items():
                received_subject = received_subject.replace(tag, value)
                received_body = received_body.replace(tag, value)
                received_html = received_html and received_html.replace(tag, value)
            for j, recipient in enumerate(to):
                email = str(recipient.get("email", ""))
                lower = email.lower()
                if not match(email) or lower.endswith(".invalid"):
                    errors.append(
                        {"message": "Does not contain a valid address.", "field": f"personalizations.{i}.to.{j}.email"}
                    )
                elif lower in seen:
                    errors.append(
                        {
                            "message": "Each email address in the personalization block should be unique"
                            " between to, cc, and bcc.",
                            "field": f"personalizations.{i}.to.{j}.email",
                        }
                    )
                seen.add(lower)
                items.append(
                    {
                        "key": key,
                        "to": email,
                        "subject": received_subject,
                        "body": received_body,
                        "html": received_html,
                        "headers": headers,
                    }
                )
        if recipients > 1000:
            return [
                {"message": "The total number of recipients must be 1000 or less.", "field": "personalizations"}
            ], []
        return errors, items

    def events(self) -> list[dict[str, Any]]:
        """Event-webhook payload for what was accepted: `bounce` for `bounce*@`, else `delivered`."""
        out = []
        for i, item in enumerate(list(self.received)):
            bounced = item["to"].startswith("bounce")
            out.append(
                {
                    "email": item["to"],
                    "timestamp": 1_700_000_000 + i,
                    "event": "bounce" if bounced else "delivered",
                    "type": "bounce" if bounced else None,
                    "sg_event_id": f"ev{i}",
                    "sg_message_id": f"{item['message_id']}.filter{i}",
                    "dangol_key": item["key"],
                }
            )
        return out
