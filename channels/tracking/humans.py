"""Human signals only: opens and clicks made by machines are recorded, flagged, and left out.

Mail privacy proxies (Apple Mail Privacy Protection) fetch every image when a message arrives, and
security gateways follow every link within seconds of delivery. Counting them would make every
message look opened and clicked, and branch customers on it. A signal is flagged when:

* its client says it is a scanner, proxy or library (`_MACHINE_AGENTS`), or says nothing;
* it is a HEAD request (link checkers and prefetchers);
* an open comes from Apple's privacy proxy (a bare `Mozilla/5.0`, Apple's documented user agent);
* a click comes within `FAST_CLICK_SECONDS` of the message's delivery receipt (no person reads that
  fast), or within `BURST_SECONDS` of a click on another link of the same message (a scanner walks
  every link).

The rule is a heuristic, so the raw signal is kept with its reason (`bot_reason`), and readers choose.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

FAST_CLICK_SECONDS = 10.0
BURST_SECONDS = 2.0
_MACHINE_AGENTS = re.compile(
    r"bot|crawl|spider|scan|preview|prefetch|proxy|barracuda|proofpoint|mimecast|safelinks|urldefense|"
    r"symantec|trendmicro|fortinet|cisco|python|curl|wget|go-http|java/|okhttp|headless|phantom|"
    r"microsoft office|ms-office|outlook-ios-linkpreview|facebookexternalhit|slackbot|whatsapp|kakaotalk-scrap",
    re.IGNORECASE,
)
_APPLE_PRIVACY_PROXY = "Mozilla/5.0"


@dataclass(frozen=True)
class Verdict:
    is_human: bool
    reason: str | None = None


HUMAN = Verdict(True)


def machine_agent(user_agent: str | None, method: str = "GET") -> str | None:
    if method == "HEAD":
        return "head_request"
    if not user_agent or not user_agent.strip():
        return "no_user_agent"
    if _MACHINE_AGENTS.search(user_agent):
        return "scanner_user_agent"
    return None


class HumanFilter:
    """Remembers recent deliveries and clicks (bounded) to judge the next signal of the same message."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._capacity = capacity
        self._delivered: OrderedDict[str, float] = OrderedDict()
        self._clicks: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _remember(self, table: OrderedDict, key: str, value: object) -> None:
        table[key] = value
        table.move_to_end(key)
        if len(table) > self._capacity:
            table.popitem(last=False)

    def delivered(self, send_key: str, at: float) -> None:
        with self._lock:
            self._remember(self._delivered, send_key, at)

    def judge_open(self, user_agent: str | None, method: str = "GET") -> Verdict:
        reason = machine_agent(user_agent, method)
        if reason is None and user_agent is not None and user_agent.strip() == _APPLE_PRIVACY_PROXY:
            reason = "mail_privacy_proxy"
        return Verdict(reason is None, reason)

    def judge_click(self, send_key: str, link: int, at: float, user_agent: str | None, method: str = "GET") -> Verdict:
        reason = machine_agent(user_agent, method)
        with self._lock:
            delivered = self._delivered.get(send_key)
            last = self._clicks.get(send_key)
            self._remember(self._clicks, send_key, (link, at))
        if reason is None and delivered is not None and 0 <= at - delivered < FAST_CLICK_SECONDS:
            reason = "clicked_seconds_after_delivery"
        if reason is None and last is not None and last[0] != link and 0 <= at - last[1] < BURST_SECONDS:
            reason = "every_link_at_once"
        return Verdict(reason is None, reason)
