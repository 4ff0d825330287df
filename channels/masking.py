"""Masking of personal data for logs, errors and previews."""

from __future__ import annotations

import re


def mask_phone(phone: str | None) -> str:
    """01012345678 -> 010-****-5678."""
    if not phone:
        return ""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}-****-{digits[-4:]}"


def mask_email(email: str | None) -> str:
    """minji.kim@naver.com -> m*******@naver.com."""
    if not email:
        return ""
    local, _, domain = email.partition("@")
    if not domain:
        return local[:1] + "*" * max(len(local) - 1, 0)
    return f"{local[:1]}{'*' * max(len(local) - 1, 1)}@{domain}"


def mask_name(name: str | None) -> str:
    """김민지 -> 김*지, 홍길 -> 홍*."""
    if not name:
        return ""
    if len(name) <= 2:
        return name[:1] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_token(token: str | None) -> str:
    """Keep only enough of a push token or endpoint to tell two apart."""
    if not token:
        return ""
    return token[:6] + "…" if len(token) > 6 else "*" * len(token)


def mask_address(channel: str, address: str | None) -> str:
    """Mask an address according to what kind of address the channel uses."""
    if channel == "email":
        return mask_email(address)
    if channel in ("sms", "kakao"):
        return mask_phone(address)
    return mask_token(address)


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\d)(?:\+?82[-\s]?)?0?1[016789][-\s]?\d{3,4}[-\s]?\d{4}(?!\d)")
_TOKEN = re.compile(r"[A-Za-z0-9_\-:]{24,}")


def mask_text(text: str | None) -> str:
    """Scrub emails, Korean mobile numbers and long tokens out of free text (provider messages, errors).

    Providers echo the recipient in their error messages; everything that reaches a log, an exception
    or the ledger's `reason` column passes through here first.
    """
    if not text:
        return ""
    text = _EMAIL.sub(lambda m: mask_email(m.group()), text)
    text = _PHONE.sub(lambda m: mask_phone(m.group()), text)
    return _TOKEN.sub(lambda m: mask_token(m.group()), text)
