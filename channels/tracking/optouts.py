"""Opt-outs: what an unsubscribe does, and the 080 provider's opt-out file.

An opt-out goes to the ledger's suppression list, which delivery reads right before every hand-off
(so it stops sends already planned for today), and to the event log (so the warehouse sees it). For
advertising it is an `opted_out` suppression (informational messages still go); a customer who asks
for no messages at all gets a permanent one.

The 080 file (수신거부 목록) is what the shop's 080 provider exports, CSV in UTF-8 or CP949, one opt-out
a row, with a header row naming at least these columns (English or the provider's Korean names):

| column           | Korean      | what                                                   |
|------------------|-------------|--------------------------------------------------------|
| `recipient_no`   | `수신거부번호` | the customer's phone number, any common format          |
| `created_at`     | `등록일시`    | when the customer called, `YYYY-MM-DD HH:MM[:SS]` (KST)  |
| `unsubscribe_no` | `080번호`     | optional: the shop's 080 number that took the call      |

NHN Cloud's UNSUBSCRIBE webhook carries the same three fields (`recipientNo`, `createdDateTime`,
`unsubscribeNo`). A row whose number is not a Korean mobile number is reported (row and rule) and
skipped; the other rows load. Loading a file twice changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from channels.ledger import Ledger, SuppressionKind, address_hash
from channels.tracking.eventlog import EventLog, new_event
from channels.tracking.links import PlannedSend

PHONE_CHANNELS = ("sms", "kakao")  # an 080 call refuses advertising to the number on both


class Scope(StrEnum):
    ADS = "ad"  # advertising only (광고성 정보)
    ALL = "all"  # every message, informational too


def suppression_kind(scope: Scope) -> SuppressionKind:
    return SuppressionKind.OPTED_OUT if scope is Scope.ADS else SuppressionKind.PERMANENT


@dataclass(frozen=True)
class OptOut:
    """One address's opt-out, as applied and logged."""

    channel: str
    address_hash: str
    scope: Scope
    source: str  # one_click, page, 080_file, 080_webhook, receipt
    send: PlannedSend | None = None
    at: str | None = None

    def event(self) -> dict[str, Any]:
        """The same opt-out (a repeated one-click POST, a file loaded twice) has the same event id."""
        s = self.send
        origin = s.send_key if s else self.at
        identity = f"{self.channel}|{self.address_hash}|{self.scope}|{origin}"
        return new_event(
            "unsubscribed",
            event_id="optout:" + hashlib.sha256(identity.encode()).hexdigest()[:32],
            channel=self.channel,
            address_hash=self.address_hash,
            scope=str(self.scope),
            source=self.source,
            send_key=s.send_key if s else None,
            send_channel=s.channel if s else None,
            campaign_id=s.campaign_id if s else None,
            customer_id=s.customer_id if s else None,
            send_date=s.as_of_date if s else None,
            opted_out_at=self.at,
            is_human=True,
        )


def apply(ledger: Ledger, log: EventLog, opt_outs: Sequence[OptOut]) -> None:
    """Log first (the durable record), then suppress; both are idempotent."""
    if not opt_outs:
        return
    log.append(*(o.event() for o in opt_outs))
    for o in opt_outs:
        ledger.suppress_hashed(o.channel, o.address_hash, f"opt-out ({o.source}, {o.scope})", suppression_kind(o.scope))


def normalise_mobile(value: str) -> str | None:
    """'010-1234-5678', '+82 10 1234 5678', '01012345678' -> '01012345678'; None if not a mobile number."""
    digits = re.sub(r"\D", "", value or "")
    if digits.startswith("82"):
        digits = "0" + digits[2:]
    return digits if re.fullmatch(r"01[016789]\d{7,8}", digits) else None


_COLUMNS = {
    "recipient_no": ("recipient_no", "recipientno", "수신거부번호", "수신번호", "전화번호"),
    "created_at": ("created_at", "createddatetime", "등록일시", "수신거부일시"),
    "unsubscribe_no": ("unsubscribe_no", "unsubscribeno", "080번호"),
}


@dataclass
class FileLoad:
    loaded: int = 0
    rejected: list[str] = field(default_factory=list)  # "row 7: recipient_no is not a Korean mobile number"


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("the 080 file is neither UTF-8 nor CP949")


def read_080_file(path: Path | str) -> tuple[list[OptOut], FileLoad]:
    """The opt-outs of one export file, and what was rejected (row numbers count the header as row 1)."""
    reader = csv.DictReader(io.StringIO(_decode(Path(path).read_bytes())))
    header = {h.strip().lower().replace(" ", ""): h for h in reader.fieldnames or []}
    found = {name: next((header[a] for a in aliases if a in header), None) for name, aliases in _COLUMNS.items()}
    if found["recipient_no"] is None or found["created_at"] is None:
        raise ValueError(f"{path}: the header needs recipient_no (수신거부번호) and created_at (등록일시)")
    report = FileLoad()
    out: list[OptOut] = []
    for row_number, row in enumerate(reader, start=2):
        phone = normalise_mobile(row.get(found["recipient_no"]) or "")
        when = (row.get(found["created_at"]) or "").strip()
        if phone is None:
            report.rejected.append(f"row {row_number}: recipient_no is not a Korean mobile number")
            continue
        try:
            at = datetime.fromisoformat(when.replace("/", "-")).isoformat()
        except ValueError:
            report.rejected.append(f"row {row_number}: created_at is not a date and time")
            continue
        out.extend(OptOut(c, address_hash(phone), Scope.ADS, "080_file", at=at) for c in PHONE_CHANNELS)
        report.loaded += 1
    return out, report


def load_080_file(path: Path | str, ledger: Ledger, log: EventLog) -> FileLoad:
    opt_outs, report = read_080_file(path)
    apply(ledger, log, opt_outs)
    return report


def for_send(send: PlannedSend, contacts: dict[str, list[str]], channels: Iterable[str], scope: Scope, source: str):
    """The opt-outs a customer chose on a message's page: each chosen channel's known addresses."""
    out: list[OptOut] = []
    for channel in channels:
        hashes = set(contacts.get(channel, []))
        if channel == send.channel and send.address_hash:
            hashes.add(send.address_hash)
        out.extend(OptOut(channel, h, scope, source, send) for h in sorted(hashes))
    return out
