"""An NHN Cloud SMS v3.0 look-alike: app key + secret, registered sender numbers, cp949 byte limits,
the ad endpoints' legal form (-6003), 080 opt-outs (-6001), per-recipient codes in an HTTP 200 body.

Recipient behaviour by number: `0100000xxxx` is not a subscriber (-2019); `0100808xxxx` has opted out
of ads through the 080 number (-6001 on the ad endpoints).

Template parameters: a recipient's `templateParameter` fills each `##key##` of the body and title
(once; a `##key##` without a parameter stays as written), and what each recipient receives is that
filled text, checked against the byte limits per recipient.

Accepted messages can be listed as NHN lists them: `GET /sms/v3.0/appKeys/{appKey}/sender/sms` (SMS,
ad SMS) and `.../sender/mms` (LMS), by requestId or a creation- or request-date range
(`yyyy-MM-dd HH:mm:ss`, Seoul time), filtered by senderGroupingKey / recipientGroupingKey /
recipientNo, paged by pageNum / pageSize (at most 1,000).
"""

from __future__ import annotations

import re
import threading
import uuid
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from channels.fakes._server import FakeProvider, Reply, Request

_PATH = re.compile(r"^/sms/v3\.0/appKeys/([^/]+)/sender/(sms|mms|ad-sms|ad-mms)$")
_MOBILE = re.compile(r"^01[016789]\d{7,8}$")
_LIST_PATH = re.compile(r"^/sms/v3\.0/appKeys/([^/]+)/sender/(sms|mms)$")
_SEOUL = ZoneInfo("Asia/Seoul")
_PARAM = re.compile(r"##([A-Za-z0-9_]+)##")
_AD_END = re.compile(r"무료\s*(수신\s*)?거부\s*[:：]?\s*080[-\s]?\d{3,4}[-\s]?\d{4}\s*$")


def nhn_reply(code: int = 0, message: str = "SUCCESS", data: dict[str, Any] | None = None) -> Reply:
    return Reply(
        200,
        {
            "header": {"isSuccessful": code == 0, "resultCode": code, "resultMessage": message},
            "body": {"data": data} if data is not None else None,
        },
    )


def _fill(text: str, params: dict[str, Any]) -> str:
    return _PARAM.sub(lambda v: str(params[v.group(1)]) if v.group(1) in params else v.group(0), text)


def _too_long(endpoint: str, text: str, title: str | None) -> tuple[int, str] | None:
    try:
        size = len(text.encode("cp949"))
        title_size = len((title or "").encode("cp949"))
    except UnicodeEncodeError:
        return -2023, "Body contains characters outside EUC-KR"
    if endpoint in ("sms", "ad-sms") and size > 90:
        return -2011, "SMS body exceeds 90 bytes"
    if endpoint in ("mms", "ad-mms") and title_size > 40:
        return -2012, "LMS title over 40 bytes"
    if size > 2000:
        return -2013, "LMS body exceeds 2000 bytes"
    return None


class FakeNhnSms(FakeProvider):
    """Records `{"key", "to", "endpoint", "body", "title", "request_id"}` per accepted recipient."""

    name: ClassVar[str] = "nhn_sms"
    app_key = "fake-sms-appkey"
    secret_key = "fake-sms-secret"
    send_nos = frozenset({"0215880000"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Per accepted request: (when, endpoint, request body, request id, [(seq, recipient, text, title)]).
        self._registered: list[tuple[datetime, str, dict[str, Any], str, list[tuple[Any, ...]]]] = []
        self._registered_lock = threading.Lock()

    def reset(self) -> None:
        super().reset()
        with self._registered_lock:
            self._registered.clear()

    def handle(self, request: Request) -> Reply:
        listing = _LIST_PATH.match(request.path)
        if listing and request.method == "GET":
            if listing.group(1) != self.app_key:
                return nhn_reply(-1000, "Invalid appKey")
            if request.headers.get("X-Secret-Key") != self.secret_key:
                return nhn_reply(-1001, "Invalid secretKey")
            return self.list_messages(listing.group(2), request)
        match = _PATH.match(request.path)
        if not match or request.method != "POST":
            return Reply(404, {"header": {"isSuccessful": False, "resultCode": -1, "resultMessage": "not found"}})
        if match.group(1) != self.app_key:
            return nhn_reply(-1000, "Invalid appKey")
        if request.headers.get("X-Secret-Key") != self.secret_key:
            return nhn_reply(-1001, "Invalid secretKey")
        return self.accept(match.group(2), request.json())

    def accept(self, endpoint: str, body: dict[str, Any], via: str = "sms") -> Reply:
        """Validate and record one send request (the Kakao fake's fallback comes through here too)."""
        text = str(body.get("body") or "")
        if body.get("sendNo") not in self.send_nos:
            return nhn_reply(-2312, "Unregistered sender number")
        recipients = body.get("recipientList") or []
        if not recipients:
            return nhn_reply(-2018, "Empty recipient list")
        if len(recipients) > 1000:
            return nhn_reply(-2016, "Too many recipients")
        try:
            size = len(text.encode("cp949"))
            title_size = len(str(body.get("title") or "").encode("cp949"))
        except UnicodeEncodeError:
            return nhn_reply(-2023, "Body contains characters outside EUC-KR")
        if endpoint in ("sms", "ad-sms") and size > 90:
            return nhn_reply(-2011, "SMS body exceeds 90 bytes")
        if endpoint in ("mms", "ad-mms"):
            if not body.get("title") or title_size > 40:
                return nhn_reply(-2012, "LMS title missing or over 40 bytes")
            if size > 2000:
                return nhn_reply(-2013, "LMS body exceeds 2000 bytes")
        ad = endpoint.startswith("ad-")
        if ad and (not text.startswith("(광고)") or not _AD_END.search(text.strip())):
            return nhn_reply(-6003, "Ad message must start with (광고) and end with the 080 opt-out")
        request_id = uuid.uuid4().hex[:20]
        results, items = [], []
        registered: list[tuple[Any, ...]] = []
        title = body.get("title")
        for seq, r in enumerate(recipients, 1):
            number = str(r.get("recipientNo", ""))
            params = r.get("templateParameter")
            filled, filled_title, problem = text, title, None
            if params:
                filled, filled_title = _fill(text, params), _fill(title, params) if title else title
                problem = _too_long(endpoint, filled, filled_title)
            if problem:
                code, message = problem
            elif not _MOBILE.match(number) or number[3:7] == "0000":
                code, message = -2019, "Invalid recipient number"
            elif ad and number[3:7] == "0808":
                code, message = -6001, "Recipient refused ads (080)"
            else:
                code, message = 0, "SUCCESS"
                registered.append((seq, r, filled, filled_title))
                items.append(
                    {
                        "key": r.get("recipientGroupingKey"),
                        "to": number,
                        "endpoint": endpoint,
                        "body": filled,
                        "title": filled_title,
                        "request_id": request_id,
                        "via": via,
                    }
                )
            results.append(
                {
                    "recipientNo": number,
                    "resultCode": code,
                    "resultMessage": message,
                    "recipientSeq": seq,
                    "recipientGroupingKey": r.get("recipientGroupingKey"),
                }
            )
        if via == "sms":
            with self._registered_lock:
                self._registered.append(
                    (datetime.now(_SEOUL).replace(tzinfo=None), endpoint, body, request_id, registered)
                )
        self.record(items)
        return nhn_reply(
            data={
                "requestId": request_id,
                "statusCode": "2",
                "senderGroupingKey": body.get("senderGroupingKey"),
                "sendResultList": results,
            }
        )

    def list_messages(self, kind: str, request: Request) -> Reply:
        """The send list of SMS (`sms`: SMS and ad SMS) or LMS (`mms`)."""
        q = {k: v[0] for k, v in request.query.items()}
        request_id = q.get("requestId")
        start = end = None
        if not request_id:
            for prefix in ("Create", "Request"):
                if f"start{prefix}Date" in q:
                    try:
                        start = datetime.strptime(q[f"start{prefix}Date"], "%Y-%m-%d %H:%M:%S")
                        end = datetime.strptime(q[f"end{prefix}Date"], "%Y-%m-%d %H:%M:%S")
                    except (KeyError, ValueError):
                        return nhn_reply(-1005, "Invalid date format")
                    break
            else:
                return nhn_reply(-1005, "requestId or a date range is required")
        page, size = int(q.get("pageNum") or 1), min(int(q.get("pageSize") or 15), 1000)
        filters = {k: q[k] for k in ("recipientGroupingKey", "recipientNo") if k in q}
        with self._registered_lock:
            registered = list(self._registered)
        rows = []
        for when, endpoint, body, rid, recipients in registered:
            if endpoint.removeprefix("ad-") != kind or (request_id and rid != request_id):
                continue
            if start is not None and end is not None and not start <= when <= end:
                continue
            if "senderGroupingKey" in q and body.get("senderGroupingKey") != q["senderGroupingKey"]:
                continue
            for seq, r, text, title in recipients:
                if any(str(r.get(k)) != v for k, v in filters.items()):
                    continue
                rows.append(
                    {
                        "requestId": rid,
                        "requestDate": when.strftime("%Y-%m-%d %H:%M:%S.0"),
                        "body": text,
                        "title": title,
                        "sendNo": body.get("sendNo"),
                        "recipientNo": r.get("recipientNo"),
                        "msgStatus": "3",
                        "msgStatusName": "성공",
                        "resultCode": "1000",
                        "recipientSeq": seq,
                        "messageType": "SMS" if kind == "sms" else "LMS",
                        "adYn": "Y" if endpoint.startswith("ad-") else "N",
                        "senderGroupingKey": body.get("senderGroupingKey"),
                        "recipientGroupingKey": r.get("recipientGroupingKey"),
                    }
                )
        return Reply(
            200,
            {
                "header": {"isSuccessful": True, "resultCode": 0, "resultMessage": "SUCCESS"},
                "body": {
                    "pageNum": page,
                    "pageSize": size,
                    "totalCount": len(rows),
                    "data": rows[(page - 1) * size : page * size],
                },
            },
        )

    def fault_reply(self, status: int, retry_after: str | None) -> Reply:
        headers = {"Retry-After": retry_after} if retry_after else {}
        return Reply(
            status,
            {"header": {"isSuccessful": False, "resultCode": -9999, "resultMessage": "fault injected"}},
            headers,
        )
