"""The planner hands SMS and email over with their campaign's shared text and each customer's values,
only when filling the one with the other gives the customer's rendered message exactly."""

from __future__ import annotations

import json
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from channels.models import Template
from orchestration.campaigns.compose import compose
from orchestration.campaigns.legal import Sender
from orchestration.campaigns.links import Tracking
from orchestration.campaigns.render import TEMPLATE_KEY, unpack_template
from orchestration.campaigns.spec import campaigns_dir, load_campaign
from orchestration.defs.deliver.deliveries import _message
from tests.campaigns.conftest import spec

SENDER = Sender("단골상점", "1588-0000", "080-123-4567")
TRACKING = Tracking.of("https://t.shop.example.com", "dev:secret")


def customer(name: str, code: str, last: date) -> dict[str, Any]:
    return {
        "name": name,
        "shop": {"name": SENDER.name, "contact": SENDER.contact},
        "send_date": date(2026, 12, 4),
        "last_purchase_date": last,
        "points": 1200,
        "is_vip": True,
        "coupon": {"code": code, "benefit": "15% 할인", "expires_on": date(2026, 12, 18)},
    }


A = customer("김민지", "COMEBACK-A1B2C3", date(2026, 8, 1))
B = customer("박서준", "COMEBACK-D4E5F6", date(2026, 9, 30))


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_a_real_campaign_shares_one_text_across_customers(channel: str) -> None:
    campaign = load_campaign(campaigns_dir() / "win_back.yaml")
    shared = []
    for i, variables in enumerate((A, B)):
        composed = compose(campaign, channel, variables, SENDER, f"c{i}", TRACKING)
        data, template, params = unpack_template(composed.data)
        assert template is not None, composed
        assert template.fill(params) == (composed.body, composed.subject)
        assert TEMPLATE_KEY not in data
        assert variables["name"] in composed.body and variables["name"] not in template.body
        shared.append(template)
    assert shared[0] == shared[1]  # one request can carry both
    if channel == "email":
        assert "{{unsubscribe_url}}" in shared[0].body  # each customer's own one-click link is a value
        assert "{{tracked_link_1}}" in shared[0].body  # and each customer's own tracking link


@pytest.mark.parametrize(
    ("body", "shared"),
    [
        ("{{ name }}님, {{ points }}점이 있어요", "{{name}}님, {{points}}점이 있어요"),
        ("{{ name }}님{% if is_vip %} (VIP){% endif %}", "{{name}}님 (VIP)"),
        ("{{ name | upper }}님", None),  # a filter on a value: the text depends on it, no shared text
        ("{{ '{:,}'.format(points) }}점", None),
        ("{{ name[0] }}님", None),
        ("{{ last_purchase_date.month }}월에 오셨죠", None),
        ("안녕하세요", None),  # nothing personal: the body itself is shared
    ],
)
def test_shared_text_only_when_it_gives_the_message_back(body: str, shared: str | None) -> None:
    campaign = spec(purpose="info", legally_required=True, channels=["sms"], templates={"sms": {"body": body}})
    composed = compose(campaign, "sms", A, SENDER, "c1", TRACKING)
    _, template, params = unpack_template(composed.data)
    if shared is None:
        assert template is None
    else:
        assert template == Template(shared)
        assert template.fill(params) == (composed.body, composed.subject)


def test_delivery_reads_the_shared_text_back_into_the_message() -> None:
    campaign = load_campaign(campaigns_dir() / "win_back.yaml")
    composed = compose(campaign, "email", A, SENDER, "c1", TRACKING)
    row = SimpleNamespace(
        send_key="k1",
        campaign_id=campaign.id,
        customer_id="c1",
        channel="email",
        purpose="ad",
        address="minji@example.com",
        subject=composed.subject,
        body=composed.body,
        data=json.dumps(composed.data, ensure_ascii=False),
    )
    m = _message(row)  # type: ignore[arg-type]
    assert m.template is not None
    assert m.template.fill(m.params) == (m.body, m.subject)
    assert m.data == {k: v for k, v in composed.data.items() if k != TEMPLATE_KEY}
