"""Test sends: a campaign's real rendered messages of a day, to the shop's own people, never to a customer.

What makes a test a test, in one place:

* its ledger key starts with `test:` and its customer is `test:<recipient>` (the ledger's mark: nothing
  that reads sends, deliveries or measurement joins on such a key, and the plan never sees it);
* it is never written to sends.deliveries (measurement and the per-day figures read that table);
* every tracked link in it is rewritten: a click goes straight to the planned target, and the open
  pixel and the unsubscribe link name the test key, which the tracking service does not know (it answers
  404), so a tester's click, open or unsubscribe reaches neither the customer's record nor measurement;
* a recipient's address must match its channel's format (the dbt var `address_formats`, the rule's one
  place) and must not be the address of any customer in the warehouse.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from channels.masking import mask_address
from channels.models import Channel, Message, Purpose
from channels.tracking.links import LinkStore
from channels.tracking.tokens import Kind
from orchestration.campaigns.links import Tracking
from orchestration.campaigns.render import unpack_template
from orchestration.campaigns.spec import CampaignSpec
from orchestration.models.config import dbt_vars

TEST_PREFIX = "test:"


def is_test_key(key: str) -> bool:
    return key.startswith(TEST_PREFIX)


@dataclass(frozen=True)
class Recipient:
    """One internal test recipient on one channel."""

    name: str
    channel: Channel
    address: str


class RecipientError(ValueError):
    """A test recipient that may not receive a test (bad address, or a customer's)."""


def check_recipients(con: duckdb.DuckDBPyConnection, recipients: Sequence[Recipient]) -> None:
    """Refuse the whole test when one recipient is invalid: a test that reaches a customer is a real send."""
    if not recipients:
        raise RecipientError("no test recipients: add at least one (name, channel, address)")
    formats = dbt_vars()["address_formats"]
    problems = []
    for r in recipients:
        pattern = formats.get(str(r.channel))
        if pattern and not re.search(pattern, r.address):
            problems.append(f"{r.name}: {mask_address(r.channel, r.address)} is not a valid {r.channel} address")
        elif _is_customers(con, r):
            problems.append(f"{r.name}: {mask_address(r.channel, r.address)} is a customer's {r.channel} address")
    if problems:
        raise RecipientError("test recipients refused: " + "; ".join(problems))


def _is_customers(con: duckdb.DuckDBPyConnection, r: Recipient) -> bool:
    row = con.execute(
        "select count(*) from (select 1 from intermediate.int_customer_eligibility_daily"
        " where channel = ? and address = ? limit 1)",
        [str(r.channel), r.address],
    ).fetchone()
    return bool(row and row[0])


def rendered_messages(
    con: duckdb.DuckDBPyConnection, campaign_id: str, day: date, channels: Iterable[Channel], per_channel: int
) -> pd.DataFrame:
    """Up to `per_channel` of the day's rendered messages of the campaign on each channel (its send list,
    before the policy: a test shows the copy, also of a held or not yet planned list)."""
    wanted = sorted({str(c) for c in channels})
    if not wanted:
        return pd.DataFrame()
    return con.execute(
        "select * from (select *, row_number() over (partition by channel order by customer_id) as n"
        " from sends.send_lists where campaign_id = ? and as_of_date = ? and render_error is null"
        f" and channel in ({', '.join('?' * len(wanted))})) where n <= ? order by channel, n",
        [campaign_id, day, *wanted, per_channel],
    ).df()


class Neutraliser:
    """Rewrites one rendered message's tracked links for a test (see the module docstring)."""

    def __init__(self, tracking: Tracking, links: LinkStore) -> None:
        self.tracking, self.links = tracking, links
        self._url = re.compile(
            re.escape(tracking.base_url) + r"/(?:c|o|u)/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)(?:\.gif)?"
        )

    def __call__(self, text: str, test_key: str, escape: bool = False) -> str:
        def swap(match: re.Match[str]) -> str:
            token = self.tracking.signer.verify(match.group(1))
            if token is None:
                return match.group(0)
            if token.kind is Kind.CLICK:
                found = self.links.target(token.send_key, token.channel, token.link)
                target = found[1] if found else self.tracking.base_url
                return html.escape(target) if escape else target
            return self.tracking.url(token.kind, test_key, token.channel)

        return self._url.sub(swap, text)


def test_messages(
    rows: pd.DataFrame,
    recipients: Sequence[Recipient],
    spec: CampaignSpec,
    run_id: str,
    neutralise: Neutraliser,
) -> list[Message]:
    """Each rendered row, sent to each recipient of its channel, under a test key of this run (a retry of
    the run does not send twice; another run is another test)."""
    out = []
    for row in rows.itertuples(index=False):
        channel = Channel(str(row.channel))
        for i, r in enumerate(x for x in recipients if x.channel is channel):
            key = f"{TEST_PREFIX}{run_id[:8]}:{row.send_key}:{channel}:{i}"
            data, _, _ = unpack_template({str(k): str(v) for k, v in json.loads(row.data or "{}").items()})
            data = {k: neutralise(v, key, escape=k == "html") for k, v in data.items()}
            subject = None if pd.isna(row.subject) else neutralise(str(row.subject), key)
            out.append(
                Message(
                    key=key,
                    campaign_id=spec.id,
                    customer_id=f"{TEST_PREFIX}{r.name}",
                    channel=channel,
                    purpose=Purpose(str(spec.purpose)),
                    address=r.address,
                    subject=subject,
                    body=neutralise(str(row.body), key),
                    data=data,
                )
            )
    return out
