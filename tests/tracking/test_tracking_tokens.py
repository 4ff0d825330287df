"""Tracking tokens: signed, rotating keys, no forgery, no alteration, no stale tokens."""

from __future__ import annotations

import base64
import time

from channels.tracking.tokens import LIFETIME_DAYS, Kind, Signer, Token, parse_keys

KEYS = {"k2": b"current-secret", "k1": b"older-secret"}
TOKEN = Token(Kind.CLICK, "a" * 32, "email", 2)


def test_a_signed_token_names_the_send_and_the_link() -> None:
    signer = Signer(KEYS)
    text = signer.sign(TOKEN)
    assert text.startswith("k2.")
    token = signer.verify(text)
    assert token is not None
    assert (token.kind, token.send_key, token.channel, token.link) == (Kind.CLICK, "a" * 32, "email", 2)


def test_altered_and_forged_tokens_do_not_verify() -> None:
    signer = Signer(KEYS)
    kid, payload, mac = signer.sign(TOKEN).split(".")
    other_link = base64.urlsafe_b64encode(base64.urlsafe_b64decode(payload + "==").replace(b"|2|", b"|3|"))
    assert signer.verify(f"{kid}.{other_link.decode().rstrip('=')}.{mac}") is None  # altered payload
    assert signer.verify(f"{kid}.{payload}.{mac[:-2]}AA") is None  # altered signature
    assert signer.verify(f"k1.{payload}.{mac}") is None  # signature of another key
    assert Signer({"k2": b"guessed"}).sign(TOKEN) != signer.sign(TOKEN)
    assert signer.verify(Signer({"k2": b"guessed"}).sign(TOKEN)) is None  # forged with a guessed key
    assert signer.verify("k2.x.y") is None and signer.verify("") is None and signer.verify("a" * 400) is None


def test_keys_rotate_and_a_removed_key_stops_verifying() -> None:
    old = Signer({"k1": b"older-secret"}).sign(TOKEN)
    assert Signer(KEYS).verify(old) is not None  # k1 is still held
    assert Signer({"k2": b"current-secret"}).verify(old) is None  # k1 retired


def test_stale_tokens_are_refused() -> None:
    signer = Signer(KEYS)
    today = int(time.time() // 86_400)
    too_old = Token(Kind.CLICK, "a" * 32, "email", 1, issued_day=today - LIFETIME_DAYS[Kind.CLICK] - 1)
    assert signer.verify(signer.sign(too_old)) is None
    fine = Token(Kind.UNSUBSCRIBE, "a" * 32, "email", 0, issued_day=today - LIFETIME_DAYS[Kind.CLICK] - 1)
    assert signer.verify(signer.sign(fine)) is not None  # an unsubscribe link lives longer


def test_key_list_from_the_environment_format() -> None:
    assert list(parse_keys("new:abc, old:def")) == ["new", "old"]
    for bad in ("", "nokey", "bad-id:x", "k:"):
        try:
            parse_keys(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
