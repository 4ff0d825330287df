"""The customer's unsubscribe page, in Korean, made for a phone screen first."""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import datetime

CHANNEL_NAMES = {
    "email": "이메일",
    "sms": "문자(SMS·LMS)",
    "kakao": "카카오톡 알림톡",
    "app_push": "앱 푸시",
    "web_push": "웹 푸시",
    "webhook": "제휴 채널",
}
_STYLE = """
body{font-family:-apple-system,"Apple SD Gothic Neo","Noto Sans KR","Malgun Gothic",sans-serif;margin:0;
background:#f6f6f4;color:#222;font-size:17px;line-height:1.5}
main{max-width:30rem;margin:0 auto;padding:1.25rem}
h1{font-size:1.35rem;margin:.5rem 0 1rem}
fieldset{border:0;background:#fff;border-radius:12px;padding:1rem;margin:0 0 1rem}
legend{font-weight:600;padding:0;margin-bottom:.5rem}
label{display:flex;align-items:center;gap:.75rem;min-height:48px}
input[type=checkbox],input[type=radio]{width:22px;height:22px}
button{width:100%;min-height:52px;font-size:1.05rem;border:0;border-radius:12px;background:#d6452b;color:#fff}
.note{font-size:.9rem;color:#555}
"""


def _page(title: str, content: str) -> str:
    return (
        '<!doctype html><html lang="ko"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{content}</main></body></html>"
    )


def choose(sender_name: str, channel: str, channels: Iterable[str], action: str) -> str:
    """Confirm and choose: the message's own channel is ticked; the customer may add the others."""
    boxes = "".join(
        f'<label><input type="checkbox" name="channel" value="{html.escape(c)}"'
        f"{' checked' if c == channel else ''}>{html.escape(CHANNEL_NAMES.get(c, c))}</label>"
        for c in channels
    )
    content = (
        f"<h1>{html.escape(sender_name)} 수신거부</h1>"
        "<p>더 이상 받고 싶지 않은 메시지를 골라 주세요. 로그인은 필요 없어요.</p>"
        f'<form method="post" action="{html.escape(action)}">'
        f"<fieldset><legend>받지 않을 채널</legend>{boxes}</fieldset>"
        "<fieldset><legend>받지 않을 내용</legend>"
        '<label><input type="radio" name="purpose" value="ad" checked>광고성 정보 (혜택·쿠폰·이벤트)</label>'
        '<label><input type="radio" name="purpose" value="all">정보성 안내를 포함한 모든 메시지</label>'
        "</fieldset>"
        '<button type="submit">수신거부하기</button>'
        '<p class="note">주문·배송처럼 거래에 꼭 필요한 안내는 계속 보내 드릴 수 있어요.</p>'
        "</form>"
    )
    return _page("수신거부", content)


def done(sender_name: str, channels: Iterable[str], scope: str, at: datetime) -> str:
    """The result the law asks us to tell (정보통신망법 제50조⑦): who, what, when."""
    names = ", ".join(CHANNEL_NAMES.get(c, c) for c in channels) or "선택한 채널 없음"
    what = "광고성 정보" if scope == "ad" else "모든 메시지"
    content = (
        "<h1>수신거부가 처리되었어요</h1>"
        f"<fieldset><p>보낸 곳: {html.escape(sender_name)}<br>채널: {html.escape(names)}<br>"
        f"내용: {what} 수신거부<br>처리 일시: {at:%Y년 %m월 %d일 %H:%M}</p></fieldset>"
        '<p class="note">지금 이후 보내는 메시지부터 바로 적용돼요.'
        " 다시 받으시려면 마이페이지에서 수신 동의를 해 주세요.</p>"
    )
    return _page("수신거부 완료", content)


def not_found() -> str:
    return _page("링크를 찾을 수 없어요", "<h1>링크를 찾을 수 없어요</h1><p>주소가 바뀌었거나 만료된 링크예요.</p>")
