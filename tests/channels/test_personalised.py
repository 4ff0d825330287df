"""Personalised messages go as one template per request with per-recipient values, and every customer
receives exactly their own text: the fakes fill templates the way the providers do, and each test
compares what each recipient received with the message's rendered body."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from channels.fakes import FakeSet, adapters_from_description
from channels.fakes.workload import messages
from channels.models import Channel, Message, Outcome, Purpose, Template

N = 60


def received_text(fakes: FakeSet, adapter: str) -> dict[str, tuple[str, str | None]]:
    """Key -> (body, subject or LMS title) as each recipient received it."""
    if adapter == "nhn_sms":
        return {r["key"]: (r["body"], r["title"]) for r in fakes.nhn_sms.received}
    return {r["key"]: (r["body"], r["subject"]) for r in fakes.sendgrid.received}


def expected_text(m: Message, adapter: str) -> tuple[str, str | None]:
    if adapter == "nhn_sms":
        lms = len(m.body.encode("cp949")) > 90
        return m.body, (m.subject or m.body.split("\n", 1)[0]) if lms else None
    return m.body, m.subject


def send(fakes: FakeSet, adapter: str, batch: list[Message], **config: Any) -> list[Any]:
    desc = fakes.describe()
    desc[adapter] |= config
    with adapters_from_description(desc)[adapter] as a:
        return a.send(batch, idempotency_key=uuid.uuid4().hex)


def _lms(m: Message) -> Message:
    """A long personalised SMS with a personalised LMS title."""
    template = Template(m.template.body.replace("도착!", "도착!\n" + "봄 신상품을 둘러보세요. " * 6), "{{name}}님 쿠폰")
    body, subject = template.fill(m.params)
    return dataclasses.replace(m, body=body, subject=subject, template=template)


def _tricky(m: Message) -> Message:
    """A name that looks like a placeholder: filled once, it must stay as written."""
    params = m.params | {"name": "##coupon_code##{{coupon.code}}"}
    body, subject = m.template.fill(params)
    return dataclasses.replace(m, body=body, subject=subject, params=params)


def _stale_template(m: Message) -> Message:
    """A body edited after planning: the template no longer gives it, so the body itself goes."""
    return dataclasses.replace(m, body=m.body.replace("쿠폰", "할인 쿠폰"))


CASES: list[tuple[str, str, Callable[[Message], Message], int]] = [
    # adapter, case, change to every message, requests expected for N messages
    ("nhn_sms", "template", lambda m: m, 1),
    ("nhn_sms", "lms-with-title", _lms, 1),
    ("nhn_sms", "placeholder-lookalike-values", _tricky, 1),
    ("nhn_sms", "stale-template-sends-the-body", _stale_template, N),
    ("nhn_sms", "no-template", lambda m: dataclasses.replace(m, template=None, params={}), N),
    ("sendgrid", "template", lambda m: m, 1),
    ("sendgrid", "placeholder-lookalike-values", _tricky, N),  # SendGrid would replace a tag again
    ("sendgrid", "stale-template-sends-the-body", _stale_template, N),
    ("sendgrid", "no-template", lambda m: dataclasses.replace(m, template=None, params={}), N),
]


@pytest.mark.parametrize(("adapter", "case", "change", "requests"), CASES, ids=[f"{a}-{c}" for a, c, _, _ in CASES])
def test_each_customer_receives_their_own_text(
    fakes: FakeSet, adapter: str, case: str, change: Callable[[Message], Message], requests: int
) -> None:
    batch = [change(m) for m in messages(adapter, N, fakes.describe(), campaign_id=f"p-{case}")]
    assert len({m.body for m in batch}) == N  # personalised: no two bodies are equal
    results = send(fakes, adapter, batch)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * N, results[:3]
    received = received_text(fakes, adapter)
    assert received == {m.key: expected_text(m, adapter) for m in batch}
    assert fakes.all()[adapter].requests == requests


def test_nhn_template_parameters_can_be_switched_off(fakes: FakeSet) -> None:
    batch = messages("nhn_sms", N, fakes.describe(), campaign_id="p-off")
    results = send(fakes, "nhn_sms", batch, template_parameters=False)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    assert received_text(fakes, "nhn_sms") == {m.key: (m.body, None) for m in batch}
    assert fakes.nhn_sms.requests == N


@pytest.mark.parametrize("adapter", ["nhn_sms", "sendgrid"])
def test_fakes_fill_the_template_themselves(fakes: FakeSet, adapter: str) -> None:
    """The comparison above would pass vacuously if a fake recorded the template: the fakes really fill."""
    send(fakes, adapter, messages(adapter, 2, fakes.describe(), campaign_id="p-raw"))
    texts = [body for body, _ in received_text(fakes, adapter).values()]
    assert len(set(texts)) == 2
    assert not any("##" in t or "{{" in t for t in texts)


def test_substitutions_over_sendgrids_limit_go_as_the_body(fakes: FakeSet) -> None:
    batch = messages("sendgrid", 5, fakes.describe(), campaign_id="p-big")
    big = batch[2]
    assert big.template is not None
    params = big.params | {"coupon.code": "x" * 10_001}
    body, subject = big.template.fill(params)
    batch[2] = dataclasses.replace(big, body=body, subject=subject, params=params)
    results = send(fakes, "sendgrid", batch)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 5
    assert received_text(fakes, "sendgrid") == {m.key: (m.body, m.subject) for m in batch}
    assert fakes.sendgrid.requests == 2


def test_a_shared_html_part_gives_each_recipient_their_own_open_pixel(fakes: FakeSet) -> None:
    """Opens are tracked in shared-text emails too: one request, the pixel a per-recipient value."""
    html = '<p>{{name}}님</p><img src="{{open_pixel_url}}" width="1" height="1" alt="">'
    template = Template("{{name}}님, 봄이에요.", "쿠폰", html)
    batch = []
    for i, name in enumerate(["김민지", "이서준", "박하은"]):
        params = {"name": name, "open_pixel_url": f"https://t.test/o/token{i}.gif"}
        body, subject = template.fill(params)
        own_html = html.replace("{{name}}", name).replace("{{open_pixel_url}}", params["open_pixel_url"])
        batch.append(
            Message(
                f"k{i}",
                "pix",
                f"c{i}",
                Channel.EMAIL,
                Purpose.INFO,
                f"c{i}@example.com",
                body,
                subject=subject,
                data={"html": own_html},
                template=template,
                params=params,
            )
        )
    results = send(fakes, "sendgrid", batch)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
    assert fakes.sendgrid.requests == 1
    assert {r["key"]: r["html"] for r in fakes.sendgrid.received} == {m.key: m.data["html"] for m in batch}
