"""Tracked links, made at render time: every link of a message becomes a per-message tracking link.

The planned target (the campaign's URL plus UTM parameters) stays with the plan (`LinkStore`); the
message carries only a signed token naming the send, the channel and the link's place. Kept apart from
rendering itself (`render.py`) on purpose: rendering knows nothing of sends.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from channels.tracking.tokens import Kind, Signer, Token, parse_keys

DEFAULT_TRACK_URL = "https://t.shop.example.com"  # the public address of `dangol track`; set DANGOL_TRACK_URL
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
# A link in a shared text stands as its placeholder, and is made clickable the same way.
_LINK = re.compile(_URL.pattern + r"|\{\{(?:tracked_link_\d+|unsubscribe_url)\}\}")
OPEN_PIXEL_PARAM = "open_pixel_url"


@dataclass(frozen=True)
class Tracking:
    base_url: str
    signer: Signer = field(repr=False)

    @classmethod
    def of(cls, base_url: str, keys: str) -> Tracking:
        return cls(base_url.rstrip("/"), Signer(parse_keys(keys)))

    def url(self, kind: Kind, send_key: str, channel: str, link: int = 0) -> str:
        token = self.signer.sign(Token(kind, send_key, str(channel), link))
        suffix = ".gif" if kind is Kind.OPEN else ""
        return f"{self.base_url}/{kind}/{token}{suffix}"


def with_utm(url: str, campaign_id: str, channel: str, link: int) -> str:
    """The target with UTM parameters added (a parameter the campaign file set itself is kept)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    utm = {
        "utm_source": "dangol",
        "utm_medium": str(channel),
        "utm_campaign": campaign_id,
        "utm_content": f"link{link}",
    }
    query = {**utm, **query}
    return urlunsplit(parts._replace(query=urlencode(query)))


def track_links(text: str, to_tracked: Callable[[str], str]) -> str:
    """Every URL in `text` replaced by `to_tracked(url)`, in order of appearance."""
    return _URL.sub(lambda m: to_tracked(m.group(0)), text)


class LinkTracker:
    """Rewrites one message's links and remembers the planned targets, numbered from 1."""

    def __init__(self, tracking: Tracking, send_key: str, channel: str, campaign_id: str) -> None:
        self.tracking, self.send_key, self.channel, self.campaign_id = tracking, send_key, str(channel), campaign_id
        self.targets: list[str] = []

    def __call__(self, url: str) -> str:
        self.targets.append(with_utm(url, self.campaign_id, self.channel, len(self.targets) + 1))
        return self.tracking.url(Kind.CLICK, self.send_key, self.channel, len(self.targets))

    def again(self) -> LinkTracker:
        """A tracker for a second rendering of the same message (its links get the same tokens)."""
        return LinkTracker(self.tracking, self.send_key, self.channel, self.campaign_id)

    def tracked_urls(self) -> list[str]:
        """The tracking links handed out so far, link 1 first."""
        return [self.tracking.url(Kind.CLICK, self.send_key, self.channel, n) for n in range(1, len(self.targets) + 1)]

    def open_pixel(self) -> str:
        return self.tracking.url(Kind.OPEN, self.send_key, self.channel)

    def unsubscribe(self) -> str:
        return self.tracking.url(Kind.UNSUBSCRIBE, self.send_key, self.channel)


def email_html(body: str, pixel_url: str) -> str:
    """The HTML part of an email: the text as paragraphs, links clickable, the open pixel last."""
    paragraphs = []
    for block in body.split("\n\n"):
        escaped = html.escape(block)
        linked = _LINK.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        paragraphs.append(f"<p>{linked.replace(chr(10), '<br>')}</p>")
    pixel = f'<img src="{html.escape(pixel_url)}" width="1" height="1" alt="" style="display:none">'
    return f'<!doctype html><html lang="ko"><body>{"".join(paragraphs)}{pixel}</body></html>'
