"""`dangol track` over real HTTP on 127.0.0.1: clicks, opens, human signals, limits."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

from channels.ledger import State
from channels.models import Channel, Message, Purpose
from channels.tracking.tokens import Kind, Signer
from orchestration.campaigns.links import Tracking
from tests.tracking.conftest import KEYS, Running, get, plan_send

TARGET = "https://shop.example.com/coupons?utm_source=dangol&utm_medium=email&utm_campaign=win_back&utm_content=link1"
BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
)


def _url(running: Running, kind: Kind, key: str = "k" * 32, channel: str = "email", link: int = 0) -> str:
    return Tracking(running.url, Signer(KEYS)).url(kind, key, channel, link)


def test_a_click_is_logged_then_redirected_to_the_planned_target(track: Running) -> None:
    plan_send(track, urls=(TARGET,))
    answer = get(_url(track, Kind.CLICK, link=1), headers={"User-Agent": BROWSER})
    assert answer.status_code == 302
    assert answer.headers["location"] == TARGET
    assert "set-cookie" not in answer.headers
    (event,) = track.events()
    assert event["kind"] == "clicked" and event["is_human"] is True
    assert (event["send_key"], event["campaign_id"], event["customer_id"], event["link"]) == (
        "k" * 32,
        "win_back",
        "c1",
        1,
    )
    assert "minji" not in str(event)  # no address in the log


def test_forged_altered_and_unplanned_links_get_404_never_a_redirect(track: Running) -> None:
    plan_send(track, urls=(TARGET,))
    good = _url(track, Kind.CLICK, link=1)
    kid, payload, mac = good.rsplit("/", 1)[1].split(".")
    forged = Tracking(track.url, Signer({"k2": b"guessed"})).url(Kind.CLICK, "k" * 32, "email", 1)
    for url in (
        forged,
        f"{track.url}/c/{kid}.{payload}.{mac[::-1]}",  # altered signature
        f"{track.url}/c/{kid}.{payload[:-3]}abc.{mac}",  # altered payload
        _url(track, Kind.CLICK, link=2),  # the plan has no second link
        _url(track, Kind.OPEN, link=1).removesuffix(".gif").replace("/o/", "/c/"),  # an open token as a click
        f"{track.url}/c/https%3A%2F%2Fevil.example",
        f"{track.url}/c/{good.rsplit('/', 1)[1]}?url=https://evil.example",  # still the planned target
    ):
        answer = get(url, headers={"User-Agent": BROWSER})
        if url.endswith("evil.example") and "?url=" in url:
            assert answer.headers["location"] == TARGET
            continue
        assert answer.status_code == 404, url
        assert "location" not in answer.headers
    assert [e["kind"] for e in track.events()] == ["clicked"]


def test_scanners_and_prefetchers_are_flagged_not_counted(track: Running) -> None:
    plan_send(track, urls=(TARGET, "https://shop.example.com/b"))
    assert get(_url(track, Kind.CLICK, link=1), headers={"User-Agent": "Barracuda Sentinel (EE)"}).status_code == 302
    assert requests.head(_url(track, Kind.CLICK, link=1), headers={"User-Agent": BROWSER}, timeout=5).status_code == 302
    assert get(_url(track, Kind.OPEN), headers={"User-Agent": "Mozilla/5.0"}).status_code == 200  # Apple MPP
    reasons = [(e["kind"], e["is_human"], e.get("bot_reason")) for e in track.events()]
    assert reasons == [
        ("clicked", False, "scanner_user_agent"),
        ("clicked", False, "head_request"),
        ("opened", False, "mail_privacy_proxy"),
    ]


def test_a_click_seconds_after_delivery_is_a_scanner(track: Running) -> None:
    plan_send(track, urls=(TARGET,))
    track.service.humans.delivered("k" * 32, __import__("time").time())
    get(_url(track, Kind.CLICK, link=1), headers={"User-Agent": BROWSER})
    assert track.events()[-1]["bot_reason"] == "clicked_seconds_after_delivery"


def test_open_pixel_and_human_signals_move_the_ledger(track: Running, ledger_of) -> None:
    plan_send(track, urls=(TARGET,))
    message = Message("k" * 32, "win_back", "c1", Channel.EMAIL, Purpose.AD, "minji@example.com", "hi")
    ledger_of.plan([message], "sendgrid")
    ledger_of.mark(["k" * 32], State.ACCEPTED)
    pixel = get(_url(track, Kind.OPEN), headers={"User-Agent": BROWSER})
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif" and pixel.content[:6] == b"GIF89a"
    assert "no-store" in pixel.headers["cache-control"]
    track.wait_applied()
    assert ledger_of.states(["k" * 32])["k" * 32] is State.OPENED
    get(_url(track, Kind.CLICK, link=1), headers={"User-Agent": BROWSER})
    track.wait_applied()
    assert ledger_of.states(["k" * 32])["k" * 32] is State.CLICKED


def test_utm_parameters_are_added_at_render_time() -> None:
    from orchestration.campaigns.links import with_utm

    url = with_utm("https://shop.example.com/help?product=p1", "help_offer", "app_push", 1)
    query = parse_qs(urlsplit(url).query)
    assert query["utm_source"] == ["dangol"] and query["utm_campaign"] == ["help_offer"]
    assert query["utm_medium"] == ["app_push"] and query["product"] == ["p1"]
    assert parse_qs(urlsplit(with_utm("https://x.example/?utm_source=partner", "c", "email", 1)).query)[
        "utm_source"
    ] == ["partner"]


def test_request_sizes_and_rates_are_bounded(make_track) -> None:
    running = make_track(rate_per_second=1.0, rate_burst=3.0, max_receipt_bytes=1024)
    plan_send(running, urls=(TARGET,))
    big = requests.post(f"{running.url}/receipts/sendgrid", data=b"[" + b" " * 4096 + b"]", timeout=5)
    assert big.status_code == 413
    statuses = [get(_url(running, Kind.CLICK, link=1), headers={"User-Agent": BROWSER}).status_code for _ in range(6)]
    assert statuses[:3] == [302, 302, 302] and 429 in statuses[3:]
