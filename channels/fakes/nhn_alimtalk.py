"""An NHN Cloud KakaoTalk Bizmessage v2.3 look-alike: secret key, sender key, approved templates whose
`#{key}`s must all be filled, the 10-minute idempotency key (-1005), SMS/LMS fallback.

Recipient behaviour by number (a simplification: the real service reports Kakao's verdict later, in
the result query and webhooks; the fake says it at once): `0103019xxxx` is not a KakaoTalk user
(3019: falls back to SMS/LMS when a `resendParameter` asks for it), `0103008xxxx` is a wrong number
(3008), `0104019xxxx` (or a malformed number) is refused as invalid by the API (-4019). A message
whose filled-in template exceeds 1,300 characters is refused (-2019).

The idempotency key is remembered when a request arrives, whether it then succeeds or not (so a
refused request's key also answers -1005 for 10 minutes). Registered messages can be listed with
`GET /alimtalk/v2.3/appkeys/{appkey}/messages` (requestId, or a request- or creation-date range of
at most 30 days; senderGroupingKey, recipientGroupingKey and recipientNo filter; pageNum/pageSize).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from channels.fakes._server import FakeProvider, Reply, Request

_PATH = re.compile(r"^/alimtalk/v2\.3/appkeys/([^/]+)/messages$")
_MOBILE = re.compile(r"^01[016789]\d{7,8}$")
_VAR = re.compile(r"#\{([^}]+)\}")
_SEOUL = ZoneInfo("Asia/Seoul")
MAX_FILLED_CHARS = 1300


def kakao_reply(code: int = 0, message: str = "success", data: dict[str, Any] | None = None) -> Reply:
    return Reply(
        200,
        {
            "header": {"resultCode": code, "resultMessage": message, "isSuccessful": code == 0},
            "message": data,
        },
    )


def _fill(template: str, params: dict[str, Any]) -> str:
    return _VAR.sub(lambda v: str(params[v.group(1)]), template)


class FakeNhnAlimtalk(FakeProvider):
    """Records `{"key", "to", "template", "text", "request_id", "via"}` per accepted recipient; a
    fallback SMS is recorded with `via: "sms_fallback"`."""

    name: ClassVar[str] = "nhn_alimtalk"
    app_key = "fake-kakao-appkey"
    secret_key = "fake-kakao-secret"
    sender_key = "f" * 40
    send_nos = frozenset({"0215880000"})
    approved: ClassVar[dict[str, str]] = {
        "ORDER_SHIPPED": "#{name}님, 주문하신 상품이 발송되었습니다. 송장번호 #{invoice}",
        "POINTS_EXPIRING": "#{name}님, 적립금 #{points}원이 #{date}에 소멸됩니다.",
    }
    window_seconds = 600.0

    def __init__(self, *, templates: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        """`templates`: more approved templates (code -> text with `#{key}`s), as a shop registers its own."""
        super().__init__(**kwargs)
        self.templates: dict[str, str] = {**self.approved, **(templates or {})}
        self._keys: dict[str, float] = {}
        self._keys_lock = threading.Lock()
        self.replays = 0
        # Registered recipients, for the message list: (request time in Seoul, request body, request id,
        # the recipients accepted as (seq, recipient)).
        self._registered: list[tuple[datetime, dict[str, Any], str, list[tuple[int, dict[str, Any]]]]] = []

    def reset(self) -> None:
        super().reset()
        with self._keys_lock:
            self._keys.clear()
            self._registered.clear()
        self.replays = 0

    def handle(self, request: Request) -> Reply:
        match = _PATH.match(request.path)
        if not match or request.method not in ("POST", "GET"):
            return Reply(404, {"header": {"resultCode": -1, "resultMessage": "not found", "isSuccessful": False}})
        if match.group(1) != self.app_key:
            return kakao_reply(-1000, "Invalid appkey")
        if request.headers.get("X-Secret-Key") != self.secret_key:
            return kakao_reply(-1001, "Invalid secret key")
        if request.method == "GET":
            return self.list_messages(request)
        key = request.headers.get("X-NC-API-IDEMPOTENCY-KEY")
        if key:
            now = time.monotonic()
            with self._keys_lock:
                seen = self._keys.get(key)
                if seen is not None and now - seen < self.window_seconds:
                    self.replays += 1
                    return kakao_reply(-1005, "Duplicated idempotency key")
                self._keys[key] = now
        body = request.json()
        if body.get("senderKey") != self.sender_key:
            return kakao_reply(-1006, "Invalid sender key")
        template = self.templates.get(str(body.get("templateCode")))
        if template is None:
            return kakao_reply(-3005, "Template not approved")
        recipients = body.get("recipientList") or []
        if not 1 <= len(recipients) <= 1000:
            return kakao_reply(-2016, "recipientList must have 1 to 1000 items")
        request_id = uuid.uuid4().hex[:20]
        results, items = [], []
        registered: list[tuple[int, dict[str, Any]]] = []
        for seq, r in enumerate(recipients, 1):
            number = str(r.get("recipientNo", ""))
            params = r.get("templateParameter") or {}
            missing = [v for v in _VAR.findall(template) if v not in params]
            resend = r.get("resendParameter") or {}
            text = "" if missing else _fill(template, params)
            if missing:
                code, message = -3010, f"Template parameters missing: {missing}"
            elif len(text) > MAX_FILLED_CHARS:
                code, message = -2019, "The content replaced by the template parameters exceeds 1,300 characters"
            elif not _MOBILE.match(number) or number[3:7] == "4019":
                code, message = -4019, "Invalid recipient number"
            elif number[3:7] == "3008":
                code, message = 3008, "Invalid phone number"
            elif number[3:7] == "3019":
                if resend.get("isResend") and self._fallback_ok(resend):
                    code, message = 0, "success (fallback)"
                    items.append(
                        {
                            "key": r.get("recipientGroupingKey"),
                            "to": number,
                            "template": body["templateCode"],
                            "text": resend.get("resendContent"),
                            "request_id": request_id,
                            "via": f"{resend.get('resendType', 'SMS').lower()}_fallback",
                        }
                    )
                else:
                    code, message = 3019, "Not a KakaoTalk user"
            else:
                code, message = 0, "success"
                items.append(
                    {
                        "key": r.get("recipientGroupingKey"),
                        "to": number,
                        "template": body["templateCode"],
                        "text": text,
                        "request_id": request_id,
                        "via": "alimtalk",
                    }
                )
            results.append(
                {
                    "recipientSeq": seq,
                    "recipientNo": number,
                    "resultCode": code,
                    "resultMessage": message,
                    "recipientGroupingKey": r.get("recipientGroupingKey"),
                }
            )
            if code == 0:
                registered.append((seq, r))
        with self._keys_lock:
            self._registered.append((datetime.now(_SEOUL).replace(tzinfo=None), body, request_id, registered))
        self.record(items)
        return kakao_reply(
            data={
                "requestId": request_id,
                "senderGroupingKey": body.get("senderGroupingKey"),
                "sendResults": results,
            }
        )

    def list_messages(self, request: Request) -> Reply:
        """The message list: by requestId, or by a request-date range (yyyy-MM-dd HH:mm, Seoul time)."""
        q = {k: v[0] for k, v in request.query.items()}
        request_id = q.get("requestId")
        start = end = None
        if not request_id:
            prefix = "Create" if "startCreateDate" in q else "Request"
            try:
                start = datetime.strptime(q[f"start{prefix}Date"], "%Y-%m-%d %H:%M")
                end = datetime.strptime(q[f"end{prefix}Date"], "%Y-%m-%d %H:%M")
            except (KeyError, ValueError):
                return kakao_reply(-2000, "requestId, or start and end request or create dates, are required")
            if end - start > timedelta(days=30):
                return kakao_reply(-2005, "The request date range must be 30 days or less")
        page, size = int(q.get("pageNum") or 1), min(int(q.get("pageSize") or 15), 1000)
        filters = {k: q[k] for k in ("senderGroupingKey", "recipientGroupingKey", "recipientNo") if k in q}
        with self._keys_lock:
            registered = list(self._registered)
        rows = []
        for when, body, rid, recipients in registered:
            if request_id and rid != request_id:
                continue
            # Minutes resolution, as asked: a request in the end minute is inside the range.
            if start is not None and end is not None and not start <= when < end + timedelta(minutes=1):
                continue
            if body.get("senderGroupingKey") != filters.get("senderGroupingKey", body.get("senderGroupingKey")):
                continue
            for seq, r in recipients:
                if any(str(r.get(k)) != v for k, v in filters.items() if k != "senderGroupingKey"):
                    continue
                rows.append(
                    {
                        "requestId": rid,
                        "recipientSeq": seq,
                        "senderKey": body.get("senderKey"),
                        "templateCode": body.get("templateCode"),
                        "recipientNo": r.get("recipientNo"),
                        "requestDate": when.strftime("%Y-%m-%d %H:%M:%S.0"),
                        "createDate": when.strftime("%Y-%m-%d %H:%M:%S.0"),
                        "messageStatus": "COMPLETED",
                        "resultCode": "1000",
                        "resultCodeName": "성공",
                        "senderGroupingKey": body.get("senderGroupingKey"),
                        "recipientGroupingKey": r.get("recipientGroupingKey"),
                    }
                )
        return Reply(
            200,
            {
                "header": {"resultCode": 0, "resultMessage": "success", "isSuccessful": True},
                "messageSearchResultResponse": {
                    "messages": rows[(page - 1) * size : page * size],
                    "totalCount": len(rows),
                },
            },
        )

    def _fallback_ok(self, resend: dict[str, Any]) -> bool:
        if resend.get("resendSendNo") not in self.send_nos:
            return False
        try:
            size = len(str(resend.get("resendContent") or "").encode("cp949"))
        except UnicodeEncodeError:
            return False
        return size <= (90 if resend.get("resendType", "SMS") == "SMS" else 2000)

    def fault_reply(self, status: int, retry_after: str | None) -> Reply:
        headers = {"Retry-After": retry_after} if retry_after else {}
        return Reply(
            status,
            {"header": {"resultCode": -9999, "resultMessage": "fault injected", "isSuccessful": False}},
            headers,
        )
