"""Unsubscribing: RFC 8058 one-click, the Korean page, the 080 file; each stops the sends after it."""

from __future__ import annotations

from pathlib import Path

import requests

from channels.adapters.outbox import OutboxAdapter
from channels.delivery import deliver
from channels.ledger import Ledger, State, SuppressionKind, address_hash
from channels.models import Channel, Message, Purpose
from channels.tracking.eventlog import EventLog
from channels.tracking.optouts import load_080_file, normalise_mobile
from channels.tracking.tokens import Kind, Signer
from orchestration.campaigns.links import Tracking
from tests.tracking.conftest import KEYS, Running, get, plan_send

EMAIL = "minji@example.com"
PHONE = "01012345678"
ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


def _unsubscribe_url(running: Running, key: str = "k" * 32, channel: str = "email") -> str:
    return Tracking(running.url, Signer(KEYS)).url(Kind.UNSUBSCRIBE, key, channel)


def _message(key: str, channel: Channel = Channel.EMAIL, address: str = EMAIL, purpose: Purpose = Purpose.AD):
    return Message(key, "win_back", "c1", channel, purpose, address, "본문", "제목")


def test_one_click_unsubscribe_stops_a_send_planned_for_the_same_day(track: Running, tmp_path: Path) -> None:
    """The planner planned two sends for today; the customer one-clicks the first message's header; the
    delivery hand-off (which re-reads the suppression list) sends the informational one only."""
    plan_send(track)
    ledger = Ledger(track.config.ledger)
    later_ad, later_info = _message("a" * 32), _message("b" * 32, purpose=Purpose.INFO)
    ledger.plan([later_ad, later_info], "outbox")

    answer = requests.post(_unsubscribe_url(track), data="List-Unsubscribe=One-Click", headers=ONE_CLICK, timeout=5)
    assert answer.status_code == 200 and "set-cookie" not in answer.headers
    assert ledger.suppressions()[("email", address_hash(EMAIL))] is SuppressionKind.OPTED_OUT

    outbox = OutboxAdapter(tmp_path / "outbox")
    report = deliver([later_ad, later_info], outbox, ledger)
    assert report.suppressed == 1
    states = ledger.states(["a" * 32, "b" * 32])
    assert states == {"a" * 32: State.FAILED, "b" * 32: State.ACCEPTED}
    sent = (tmp_path / "outbox" / "outbox.jsonl").read_text()
    assert "b" * 32 in sent and "a" * 32 not in sent
    ledger.close()


def test_one_click_is_repeatable_multipart_works_and_the_log_keeps_one_opt_out(track: Running) -> None:
    plan_send(track)
    url = _unsubscribe_url(track)
    for _ in range(3):
        assert requests.post(url, data="List-Unsubscribe=One-Click", headers=ONE_CLICK, timeout=5).status_code == 200
    multipart = requests.post(url, files={"List-Unsubscribe": (None, "One-Click")}, timeout=5)
    assert multipart.status_code == 200
    events = [e for e in track.events() if e["kind"] == "unsubscribed"]
    assert len({e["event_id"] for e in events}) == 1  # one opt-out, however often it was posted
    assert events[0]["scope"] == "ad" and events[0]["source"] == "one_click" and EMAIL not in str(events)


def test_forged_or_stale_unsubscribe_tokens_change_nothing(track: Running) -> None:
    plan_send(track)
    forged = Tracking(track.url, Signer({"k2": b"guessed"})).url(Kind.UNSUBSCRIBE, "k" * 32, "email")
    assert requests.post(forged, data="List-Unsubscribe=One-Click", headers=ONE_CLICK, timeout=5).status_code == 404
    click_token = Tracking(track.url, Signer(KEYS)).url(Kind.CLICK, "k" * 32, "email", 1).replace("/c/", "/u/")
    assert (
        requests.post(click_token, data="List-Unsubscribe=One-Click", headers=ONE_CLICK, timeout=5).status_code == 404
    )
    with Ledger(track.config.ledger) as ledger:
        assert ledger.suppressions() == {}
    assert track.events() == []


def test_the_korean_page_confirms_and_lets_the_customer_choose_channels_and_purposes(track: Running) -> None:
    plan_send(track, contacts=(("email", EMAIL), ("sms", PHONE), ("kakao", PHONE)))
    url = _unsubscribe_url(track)
    page = get(url, headers={"User-Agent": "Mozilla/5.0 (iPhone)"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    assert 'name="viewport"' in html and 'lang="ko"' in html and "수신거부" in html
    assert 'value="email" checked' in html and 'value="sms"' in html and 'value="kakao"' in html
    assert "광고성 정보" in html and "모든 메시지" in html
    with Ledger(track.config.ledger) as ledger:
        assert ledger.suppressions() == {}  # looking at the page changes nothing (mail scanners GET it)

    done = requests.post(url, data={"channel": ["email", "sms"], "purpose": "all"}, timeout=5)
    assert done.status_code == 200 and "수신거부가 처리되었어요" in done.text and "단골상점" in done.text
    with Ledger(track.config.ledger) as ledger:
        kinds = ledger.suppressions()
    assert kinds == {
        ("email", address_hash(EMAIL)): SuppressionKind.PERMANENT,
        ("sms", address_hash(PHONE)): SuppressionKind.PERMANENT,
    }
    nothing = requests.post(url, data={"channel": "fax"}, timeout=5)
    assert nothing.status_code == 400  # no channel it offers: the page again


def test_a_later_opt_out_never_weakens_a_hard_bounce(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.suppress("email", EMAIL, "bounce", SuppressionKind.PERMANENT)
        ledger.suppress_hashed("email", address_hash(EMAIL), "opt-out", SuppressionKind.OPTED_OUT)
        assert ledger.suppressions()[("email", address_hash(EMAIL))] is SuppressionKind.PERMANENT


def test_the_080_file_loads_rejects_bad_rows_by_number_and_loads_once(tmp_path: Path) -> None:
    export = tmp_path / "optout_080.csv"
    export.write_bytes(
        "080번호,수신거부번호,등록일시\n"
        "080-123-4567,010-1234-5678,2026-12-04 09:15:00\n"
        "080-123-4567,02-123-4567,2026-12-04 09:16:00\n"
        "080-123-4567,+82 10 9876 5432,어제\n".encode("cp949")
    )
    with Ledger(tmp_path / "ledger.sqlite") as ledger, EventLog(tmp_path / "events") as log:
        report = load_080_file(export, ledger, log)
        again = load_080_file(export, ledger, log)
        kinds = ledger.suppressions()
    assert report.loaded == 1 and again.loaded == 1
    assert report.rejected == [
        "row 3: recipient_no is not a Korean mobile number",
        "row 4: created_at is not a date and time",
    ]
    assert kinds == {
        ("sms", address_hash(PHONE)): SuppressionKind.OPTED_OUT,
        ("kakao", address_hash(PHONE)): SuppressionKind.OPTED_OUT,
    }
    from channels.tracking.eventlog import Cursor, read_from

    events = read_from(tmp_path / "events", Cursor.parse(None))[0]
    assert len({e["event_id"] for e in events}) == 2  # sms and kakao, once each
    assert PHONE not in str(events)
    assert normalise_mobile("+82 10-9876-5432") == "01098765432" and normalise_mobile("02-123-4567") is None
