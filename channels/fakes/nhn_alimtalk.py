"""An NHN Cloud KakaoTalk Bizmessage v2.3 look-alike: secret key, sender key, approved templates whose
`#{key}`s must all be filled, the 10-minute idempotency key (-1005), SMS/LMS fallback.

Recipient behaviour by number (a simplification: the real service reports Kakao's verdict later, in
the result query and webhooks; the fake says it at once): `0103019xxxx` is not a KakaoTalk user
(3019: falls back to SMS/LMS when a `resendParameter` asks for it), `0103008xxxx` is a wrong number
(3008).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any, ClassVar

from channels.fakes._server import FakeProvider, Reply, Request

_PATH = re.compile(r"^/alimtalk/v2\.3/appkeys/([^/]+)/messages$")
_MOBILE = re.compile(r"^01[016789]\d{7,8}$")
_VAR = re.compile(r"#\{([^}]+)\}")


def kakao_reply(code: int = 0, message: str = "success", data: dict[str, Any] | None = None) -> Reply:
    return Reply(
        200,
        {
            "header": {"resultCode": code, "resultMessage": message, "isSuccessful": code == 0},
            "message": data,
        },
    )


class FakeNhnAlimtalk(FakeProvider):
    """Records `{"key", "to", "template", "text", "request_id", "via"}` per accepted recipient; a
    fallback SMS is recorded with `via: "sms_fallback"`."""

    name: ClassVar[str] = "nhn_alimtalk"
    app_key = "fake-kakao-appkey"
    secret_key = "fake-kakao-secret"
    sender_key = "f" * 40
    send_nos = frozenset({"0215880000"})
    templates: ClassVar[dict[str, str]] = {
        "ORDER_SHIPPED": "#{name}님, 주문하신 상품이 발송되었습니다. 송장번호 #{invoice}",
        "POINTS_EXPIRING": "#{name}님, 적립금 #{points}원이 #{date}에 소멸됩니다.",
    }
    window_seconds = 600.0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._keys: dict[str, float] = {}
        self._keys_lock = threading.Lock()
        self.replays = 0

    def reset(self) -> None:
        super().reset()
        with self._keys_lock:
            self._keys.clear()
        self.replays = 0

    def handle(self, request: Request) -> Reply:
        match = _PATH.match(request.path)
        if not match or request.method != "POST":
            return Reply(404, {"header": {"resultCode": -1, "resultMessage": "not found", "isSuccessful": False}})
        if match.group(1) != self.app_key:
            return kakao_reply(-1000, "Invalid appkey")
        if request.headers.get("X-Secret-Key") != self.secret_key:
            return kakao_reply(-1001, "Invalid secret key")
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
        for seq, r in enumerate(recipients, 1):
            number = str(r.get("recipientNo", ""))
            params = r.get("templateParameter") or {}
            missing = [v for v in _VAR.findall(template) if v not in params]
            resend = r.get("resendParameter") or {}
            if missing:
                code, message = -3010, f"Template parameters missing: {missing}"
            elif not _MOBILE.match(number) or number[3:7] == "3008":
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
                text = _VAR.sub(lambda v, params=params: str(params[v.group(1)]), template)
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
        self.record(items)
        return kakao_reply(
            data={
                "requestId": request_id,
                "senderGroupingKey": body.get("senderGroupingKey"),
                "sendResults": results,
            }
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
