"""Signed tracking tokens: `<key id>.<payload>.<signature>`, all base64url.

The payload names the kind (click, open, unsubscribe), the send (its idempotency key and channel),
the link's place in the message and the day the token was issued. The signature is HMAC-SHA256 with
the key the key id names, so keys rotate: new tokens are signed with the first key of
`DANGOL_TRACKING_KEYS`, older keys keep verifying until they are removed. A token that is forged,
altered, signed with a removed key or older than its kind's lifetime verifies as None: the service
answers 404 and never redirects anywhere the plan did not say.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

DEV_KEYS = "dev:dangol-dev-only"  # what a fresh clone signs with; production sets DANGOL_TRACKING_KEYS
_DAY = 86_400


class Kind(StrEnum):
    CLICK = "c"
    OPEN = "o"
    UNSUBSCRIBE = "u"


# How long a token stays valid after it was issued. An unsubscribe link must keep working long after
# the message (a customer opts out from an old email); a click that old is not worth a redirect.
LIFETIME_DAYS = {Kind.CLICK: 180, Kind.OPEN: 180, Kind.UNSUBSCRIBE: 730}


@dataclass(frozen=True)
class Token:
    kind: Kind
    send_key: str
    channel: str
    link: int = 0  # the link's place in the message (clicks); 0 otherwise
    issued_day: int = 0  # days since 1970-01-01, UTC


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_keys(spec: str) -> dict[str, bytes]:
    """`kid:secret,kid:secret`, newest first; a key id is letters and digits only."""
    keys: dict[str, bytes] = {}
    for part in spec.split(","):
        kid, _, secret = part.strip().partition(":")
        if not kid.isalnum() or not secret:
            raise ValueError("DANGOL_TRACKING_KEYS: each entry is <key id>:<secret>, the key id letters and digits")
        keys[kid] = secret.encode()
    if not keys:
        raise ValueError("DANGOL_TRACKING_KEYS is empty")
    return keys


class Signer:
    """Signs with the current key, verifies with any known one."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        self._keys = dict(keys)
        self.current = next(iter(self._keys))

    @classmethod
    def from_env(cls) -> Signer:
        return cls(parse_keys(os.environ.get("DANGOL_TRACKING_KEYS") or DEV_KEYS))

    def _mac(self, kid: str, payload: str) -> str:
        return _b64(hmac.new(self._keys[kid], f"{kid}.{payload}".encode(), hashlib.sha256).digest()[:16])

    def sign(self, token: Token) -> str:
        day = token.issued_day or int(time.time() // _DAY)
        payload = _b64(f"{token.kind}|{token.send_key}|{token.channel}|{token.link}|{day}".encode())
        return f"{self.current}.{payload}.{self._mac(self.current, payload)}"

    def verify(self, text: str, *, now: float | None = None) -> Token | None:
        """The token, or None when it is not one we signed with a key we still hold, or is too old."""
        if len(text) > 256 or text.count(".") != 2:
            return None
        kid, payload, mac = text.split(".")
        if kid not in self._keys or not hmac.compare_digest(mac, self._mac(kid, payload)):
            return None
        try:
            kind, send_key, channel, link, day = _unb64(payload).decode().split("|")
            token = Token(Kind(kind), send_key, channel, int(link), int(day))
        except ValueError:
            return None
        today = int((now if now is not None else time.time()) // _DAY)
        if not 0 <= today - token.issued_day <= LIFETIME_DAYS[token.kind]:
            return None
        return token
